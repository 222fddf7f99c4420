//! A compiled kernel: its bundle (device code + launch contract), its tile IR and typed signature;
//! argument checking and dim inference ([`Kernel::bind`], no GPU needed) and launching on the
//! caller's device buffers and stream ([`Kernel::launch`], feature `cuda`).

use crate::error::{E_LAUNCH, Error, ErrorKind};
use crate::signature::{ParamSigKind, Signature, dim_text};
use std::path::Path;
use tessera_bundle::{Bundle, LaunchPlan, TensorPart};
use tessera_ir::{DType, Dim};
use tessera_numerics::error::{E_ARG, E_SCALE, E_SHAPE};
use tessera_numerics::{ArgValue, Bindings, TensorArg, TensorBuf};

/// A tensor in device memory, described by the caller: the address, the dtype the parameter
/// declares, and the logical shape (elements, row-major; FP4: logical elements, two per byte
/// along the packed axis). Scaled tensors carry their block scales; NVFP4 its per-tensor scale
/// (or it comes from the scalar parameter named by `global = ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceTensor {
    pub ptr: u64,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub scale: Option<DeviceScale>,
    pub global_scale: Option<f32>,
}

/// Block scales in device memory: `linear` layouts row-major `[ceil(dim / block)...]`; swizzled
/// layouts (`nv128x4`, `amd_lane*`) the flat prepacked buffer `[physical elements]`
/// (`tessera_prepack::prepack_tensor` makes it on the host).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceScale {
    pub ptr: u64,
    pub shape: Vec<usize>,
}

impl DeviceTensor {
    pub fn new(ptr: u64, dtype: DType, shape: &[usize]) -> DeviceTensor {
        DeviceTensor {
            ptr,
            dtype,
            shape: shape.to_vec(),
            scale: None,
            global_scale: None,
        }
    }

    pub fn with_scale(mut self, ptr: u64, shape: &[usize]) -> DeviceTensor {
        self.scale = Some(DeviceScale {
            ptr,
            shape: shape.to_vec(),
        });
        self
    }

    pub fn with_global_scale(mut self, g: f32) -> DeviceTensor {
        self.global_scale = Some(g);
        self
    }
}

/// One launch argument, in the kernel's parameter order.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Tensor(DeviceTensor),
    Scalar(f64),
}

impl From<DeviceTensor> for Arg {
    fn from(t: DeviceTensor) -> Arg {
        Arg::Tensor(t)
    }
}

impl From<f32> for Arg {
    fn from(v: f32) -> Arg {
        Arg::Scalar(f64::from(v))
    }
}

impl From<f64> for Arg {
    fn from(v: f64) -> Arg {
        Arg::Scalar(v)
    }
}

impl From<i32> for Arg {
    fn from(v: i32) -> Arg {
        Arg::Scalar(f64::from(v))
    }
}

/// Arguments checked against the signature: the dims they bind and the launch plan (grid, block,
/// shared memory, every ABI slot resolved).
#[derive(Clone, Debug)]
pub struct Bound {
    pub dims: Vec<(String, i64)>,
    pub plan: LaunchPlan,
    /// Shapes/dtypes of every argument (host bytes empty): what tensor-map encoding reads.
    pub(crate) bindings: Bindings,
    pub(crate) addrs: Vec<(u64, Option<u64>)>,
}

impl Bound {
    /// Every argument's dtype and shape as the launch sees them (host bytes empty).
    pub fn bindings(&self) -> &Bindings {
        &self.bindings
    }

    /// The device address of buffer `part` of parameter `param`.
    pub fn addr(&self, param: usize, part: TensorPart) -> Option<u64> {
        let (d, s) = self.addrs.get(param)?;
        match part {
            TensorPart::Data => Some(*d),
            TensorPart::Scale => *s,
        }
    }
}

/// A compiled kernel, ready to launch.
pub struct Kernel {
    bundle: Bundle,
    ir: tessera_ir::Kernel,
    signature: Signature,
    /// Whether this came out of the on-disk cache (no compile ran).
    pub(crate) cache_hit: bool,
    #[cfg(feature = "cuda")]
    loaded: std::sync::Mutex<Option<crate::launch::Loaded>>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Kernel({} for {})",
            self.signature.display(),
            self.bundle.meta.target
        )
    }
}

impl Kernel {
    /// Load a bundle directory written by `tessera build` (or the cache). Needs no LLVM.
    pub fn load_bundle(dir: impl AsRef<Path>) -> Result<Kernel, Error> {
        Kernel::from_bundle(Bundle::read(dir.as_ref())?)
    }

    /// A bundle embedded in the binary: the files' bytes (`tessera::build::compile_kernels` +
    /// `include_bytes!`, or `tessera::embedded!`).
    pub fn from_parts(
        meta_json: &str,
        tile_ir: &str,
        ptx: Option<&str>,
        cubin: Option<&[u8]>,
    ) -> Result<Kernel, Error> {
        let meta: tessera_bundle::BundleMeta = serde_json_meta(meta_json)?;
        Kernel::from_bundle(Bundle {
            meta,
            ptx: ptx.map(str::to_string),
            cubin: cubin.map(<[u8]>::to_vec),
            hsaco: None,
            tile_ir: tile_ir.to_string(),
            report_txt: None,
            report_json: None,
        })
    }

    /// Wrap an in-memory bundle, checking it and its tile IR against each other.
    pub fn from_bundle(bundle: Bundle) -> Result<Kernel, Error> {
        let where_ = Path::new("<bundle>");
        bundle.check(where_)?;
        let module = tessera_ir::parse_module(&bundle.tile_ir).map_err(|e| {
            Error::new(
                ErrorKind::Bundle,
                tessera_bundle::E_BUNDLE_INVALID,
                format!("the bundle's tile IR does not parse: {e}"),
            )
        })?;
        let ir = module
            .kernels
            .into_iter()
            .find(|k| k.name == bundle.meta.kernel)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Bundle,
                    tessera_bundle::E_BUNDLE_MISMATCH,
                    format!("the tile IR has no kernel `{}`", bundle.meta.kernel),
                )
            })?;
        bundle.check_kernel(where_, &ir)?;
        Ok(Kernel {
            signature: Signature::of(&ir),
            bundle,
            ir,
            cache_hit: false,
            #[cfg(feature = "cuda")]
            loaded: std::sync::Mutex::new(None),
        })
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    pub fn name(&self) -> &str {
        &self.signature.kernel
    }

    pub fn target(&self) -> &str {
        &self.bundle.meta.target
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The kernel's tile IR (after the target's pass pipeline).
    pub fn ir(&self) -> &tessera_ir::Kernel {
        &self.ir
    }

    /// Whether [`crate::compile`] found this kernel in its on-disk cache (no compile ran).
    pub fn from_cache(&self) -> bool {
        self.cache_hit
    }

    /// Write the bundle to `dir` (as `tessera build -o` does).
    pub fn write_bundle(&self, dir: impl AsRef<Path>) -> Result<(), Error> {
        Ok(self.bundle.write(dir.as_ref())?)
    }

    /// Check `args` against the signature (count, kind, dtype, rank, constant dims, scales),
    /// infer the symbolic dims from their shapes, and plan the launch. No GPU needed.
    pub fn bind(&self, args: &[Arg]) -> Result<Bound, Error> {
        let sig = &self.signature;
        let bad = |code: &str, m: String| Error::new(ErrorKind::Signature, code, m);
        if args.len() != sig.params.len() {
            return Err(bad(
                E_ARG,
                format!(
                    "{} arguments for {} parameters of {}",
                    args.len(),
                    sig.params.len(),
                    sig.display()
                ),
            ));
        }
        let mut dims: Vec<(String, i64, String)> = Vec::new();
        // 1. kinds, dtypes, ranks, dims bound by plain symbols
        for (p, a) in sig.params.iter().zip(args) {
            match (&p.kind, a) {
                (ParamSigKind::Tensor(t), Arg::Tensor(d)) => {
                    if d.dtype != t.dtype {
                        return Err(bad(
                            E_ARG,
                            format!("`{}` is {} but a {} tensor was passed", p.name, t.dtype, d.dtype),
                        ));
                    }
                    if d.shape.len() != t.dims.len() {
                        return Err(bad(
                            E_SHAPE,
                            format!(
                                "`{}` has rank {} ([{}]) but the tensor passed has shape {:?}",
                                p.name,
                                t.dims.len(),
                                t.dims.iter().map(dim_text).collect::<Vec<_>>().join(", "),
                                d.shape
                            ),
                        ));
                    }
                    for (dim, &n) in t.dims.iter().zip(&d.shape) {
                        let n = n as i64;
                        match dim {
                            Dim::Sym(s) => match dims.iter().find(|(b, _, _)| b == s) {
                                Some((_, v, from)) if *v != n => {
                                    return Err(bad(
                                        E_SHAPE,
                                        format!("`{}` has {s} = {n} but `{from}` has {s} = {v}", p.name),
                                    ));
                                }
                                Some(_) => {}
                                None => dims.push((s.clone(), n, p.name.clone())),
                            },
                            Dim::Const(c) if *c as i64 != n => {
                                return Err(bad(
                                    E_SHAPE,
                                    format!(
                                        "`{}` has a constant dim {c} but the tensor passed has shape {:?}",
                                        p.name, d.shape
                                    ),
                                ));
                            }
                            _ => {}
                        }
                    }
                }
                (ParamSigKind::Scalar(dt), Arg::Scalar(v)) => {
                    if !dt.is_float() && v.fract() != 0.0 {
                        return Err(bad(
                            E_ARG,
                            format!("`{}: {dt}` needs an integer, got {v}", p.name),
                        ));
                    }
                }
                (ParamSigKind::Tensor(t), Arg::Scalar(_)) => {
                    return Err(bad(
                        E_ARG,
                        format!("`{}` is a {} tensor but a scalar was passed", p.name, t.dtype),
                    ));
                }
                (ParamSigKind::Scalar(dt), Arg::Tensor(_)) => {
                    return Err(bad(
                        E_ARG,
                        format!("`{}` is a scalar {dt} but a tensor was passed", p.name),
                    ));
                }
            }
        }
        let missing: Vec<&str> = sig
            .dims
            .iter()
            .filter(|s| !dims.iter().any(|(b, _, _)| b == *s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(bad(
                E_SHAPE,
                format!(
                    "no argument shape binds the dims {} of {}",
                    missing.join(", "),
                    sig.display()
                ),
            ));
        }
        let syms: Vec<(String, i64)> = sig
            .dims
            .iter()
            .filter_map(|s| {
                dims.iter()
                    .find(|(b, _, _)| b == s)
                    .map(|(b, v, _)| (b.clone(), *v))
            })
            .collect();
        let sym = |s: &str| syms.iter().find(|(b, _)| b == s).map(|d| d.1);
        // 2. derived dims, scales, global scales; host-side bindings (shapes only)
        let mut bargs = Vec::with_capacity(args.len());
        let mut addrs = Vec::with_capacity(args.len());
        for (p, a) in sig.params.iter().zip(args) {
            match (&p.kind, a) {
                (ParamSigKind::Tensor(t), Arg::Tensor(d)) => {
                    for (dim, &n) in t.dims.iter().zip(&d.shape) {
                        let by_ = |by: &u64| (*by).max(1) as i64;
                        if let Dim::CeilDiv(s, by) = dim
                            && let Some(v) = sym(s)
                            && (v + by_(by) - 1) / by_(by) != n as i64
                        {
                            return Err(bad(
                                E_SHAPE,
                                format!(
                                    "`{}` dim cdiv({s}, {by}) should be {} for {s} = {v}, got {n}",
                                    p.name,
                                    (v + by_(by) - 1) / by_(by)
                                ),
                            ));
                        }
                    }
                    let scale = match (&t.scale, &d.scale) {
                        (None, None) => None,
                        (None, Some(_)) => {
                            return Err(bad(
                                E_SCALE,
                                format!(
                                    "`{}: {}` has no scale contract but scales were passed",
                                    p.name, t.dtype
                                ),
                            ));
                        }
                        (Some(_), None) => {
                            return Err(bad(
                                E_SCALE,
                                format!(
                                    "`{}` is block-scaled: pass its scales (DeviceTensor::with_scale)",
                                    p.name
                                ),
                            ));
                        }
                        (Some(spec), Some(sc)) => {
                            let want = scale_shape(spec, &d.shape, t.packed_axis)
                                .map_err(|m| bad(E_SCALE, format!("`{}`: {m}", p.name)))?;
                            if sc.shape != want {
                                return Err(bad(
                                    E_SHAPE,
                                    format!(
                                        "`{}` scales ({} layout) must have shape {want:?}, got {:?}",
                                        p.name,
                                        spec.layout.name(),
                                        sc.shape
                                    ),
                                ));
                            }
                            Some(TensorBuf {
                                dtype: spec.scale_dtype,
                                shape: want,
                                packed_axis: None,
                                bytes: Vec::new(),
                            })
                        }
                    };
                    let mut global = d.global_scale;
                    if let Some(gp) = &t.global_param
                        && let Some(Arg::Scalar(v)) =
                            sig.params.iter().position(|q| &q.name == gp).map(|i| &args[i])
                    {
                        global = Some(*v as f32);
                    }
                    if t.scale.as_ref().is_some_and(|s| s.global) && global.is_none() {
                        return Err(bad(
                            E_SCALE,
                            format!("`{}` is NVFP4: pass its per-tensor f32 scale", p.name),
                        ));
                    }
                    addrs.push((d.ptr, d.scale.as_ref().map(|s| s.ptr)));
                    bargs.push(ArgValue::Tensor(TensorArg {
                        data: TensorBuf {
                            dtype: t.dtype,
                            shape: d.shape.clone(),
                            packed_axis: t.packed_axis,
                            bytes: Vec::new(),
                        },
                        scale,
                        global_scale: global,
                    }));
                }
                (_, Arg::Scalar(v)) => {
                    addrs.push((0, None));
                    bargs.push(ArgValue::Scalar(*v));
                }
                _ => unreachable!("kinds checked above"),
            }
        }
        let bindings = Bindings {
            args: bargs,
            syms: syms.clone(),
        };
        let names: Vec<&str> = sig.params.iter().map(|p| p.name.as_str()).collect();
        let plan = LaunchPlan::new(&self.bundle.meta, &names, &bindings)
            .map_err(|e| Error::from_rendered(ErrorKind::Signature, E_LAUNCH, e.to_string()))?;
        Ok(Bound {
            dims: syms,
            plan,
            bindings,
            addrs,
        })
    }

    #[cfg(feature = "cuda")]
    pub(crate) fn loaded(&self) -> &std::sync::Mutex<Option<crate::launch::Loaded>> {
        &self.loaded
    }
}

/// The scale buffer shape a launch expects for a tensor of logical shape `shape`.
fn scale_shape(
    spec: &tessera_ir::ScaleSpec,
    shape: &[usize],
    _packed: Option<usize>,
) -> Result<Vec<usize>, String> {
    let logical: Vec<usize> = shape
        .iter()
        .zip(&spec.block)
        .map(|(d, b)| d.div_ceil((*b).max(1) as usize))
        .collect();
    if !tessera_prepack::bind::is_swizzled(spec.layout) {
        return Ok(logical);
    }
    let k_axis = spec
        .block
        .iter()
        .position(|b| *b > 1)
        .ok_or_else(|| "a swizzled scale layout without a blocked axis".to_string())?;
    let bytes = tessera_prepack::physical_tensor_bytes(spec.layout, spec.scale_dtype, &logical, k_axis)
        .map_err(|e| e.to_string())?;
    let per = tessera_prepack::scale_bytes(spec.scale_dtype).map_err(|e| e.to_string())?;
    Ok(vec![bytes / per.max(1)])
}

fn serde_json_meta(text: &str) -> Result<tessera_bundle::BundleMeta, Error> {
    serde_json::from_str::<tessera_bundle::BundleMeta>(text)
        .map_err(|e| Error::new(ErrorKind::Bundle, tessera_bundle::E_BUNDLE_JSON, e.to_string()))
}
