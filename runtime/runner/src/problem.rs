//! A problem instance of a bundle's kernel: the kernel parsed from `kernel.tir`, the symbolic dims
//! given on the command line, and fresh seeded inputs with every output poisoned before a launch.

use crate::error::RunnerError;
use tessera_bundle::Bundle;
use tessera_ir::{DType, Dim, Kernel, ParamKind, TensorType};
use tessera_numerics::{ArgValue, Bindings, InputGen, TensorArg, TensorBuf};

/// `NAME=VALUE` pairs from `--dim` / `--scalar` flags.
pub fn parse_assignments(items: &[String], what: &str) -> Result<Vec<(String, String)>, RunnerError> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                RunnerError::usage(format!("--{what} {s:?}: expected NAME=VALUE, e.g. M=4096"))
            })?;
            if k.is_empty() || v.is_empty() {
                return Err(RunnerError::usage(format!("--{what} {s:?}: empty name or value")));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Symbolic dim values from `--dim` flags (positive integers).
pub fn parse_dims(items: &[String]) -> Result<Vec<(String, i64)>, RunnerError> {
    parse_assignments(items, "dim")?
        .into_iter()
        .map(|(k, v)| {
            let n: i64 = v
                .parse()
                .map_err(|_| RunnerError::usage(format!("--dim {k}={v}: not an integer")))?;
            if n <= 0 {
                return Err(RunnerError::usage(format!(
                    "--dim {k}={v}: dims must be positive"
                )));
            }
            Ok((k, n))
        })
        .collect()
}

/// The bundle's kernel, parsed from its tile IR text.
pub fn kernel_of(bundle: &Bundle) -> Result<Kernel, RunnerError> {
    let module = tessera_ir::parse_module(&bundle.tile_ir)
        .map_err(|e| RunnerError::usage(format!("{}: cannot parse the tile IR: {e}", bundle.meta.tile_ir)))?;
    let names: Vec<String> = module.kernels.iter().map(|k| k.name.clone()).collect();
    module
        .kernels
        .into_iter()
        .find(|k| k.name == bundle.meta.kernel)
        .ok_or_else(|| {
            RunnerError::usage(format!(
                "the tile IR has no kernel `{}` (meta.json's kernel); it has: {}",
                bundle.meta.kernel,
                names.join(", ")
            ))
        })
}

/// Every symbolic dim of `k` bound, in `k.syms` order; extra or missing names are errors.
pub fn bind_dims(k: &Kernel, dims: &[(String, i64)]) -> Result<Vec<(String, i64)>, RunnerError> {
    for (n, _) in dims {
        if !k.syms.contains(n) {
            return Err(RunnerError::usage(format!(
                "--dim {n}: kernel `{}` has no symbolic dim {n} (it has: {})",
                k.name,
                k.syms.join(", ")
            )));
        }
    }
    let missing: Vec<&str> = k
        .syms
        .iter()
        .filter(|s| !dims.iter().any(|(n, _)| n == *s))
        .map(|s| s.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(RunnerError::usage(format!(
            "kernel `{}` needs --dim for {} (e.g. {})",
            k.name,
            missing.join(", "),
            missing
                .iter()
                .map(|m| format!("--dim {m}=1024"))
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    Ok(k.syms
        .iter()
        .map(|s| (s.clone(), dims.iter().find(|(n, _)| n == s).map_or(0, |d| d.1)))
        .collect())
}

/// The concrete shape of a tensor type under bound syms.
pub fn shape_of(ty: &TensorType, syms: &[(String, i64)]) -> Result<Vec<usize>, RunnerError> {
    let sym = |s: &str| {
        syms.iter()
            .find(|(n, _)| n == s)
            .map(|d| d.1)
            .ok_or_else(|| RunnerError::usage(format!("dim {s} unbound")))
    };
    ty.dims
        .iter()
        .map(|d| {
            let v = match d {
                Dim::Const(c) => {
                    i64::try_from(*c).map_err(|_| RunnerError::usage(format!("dim {c} too large")))?
                }
                Dim::Sym(s) => sym(s)?,
                Dim::CeilDiv(s, by) => {
                    let by = i64::try_from((*by).max(1)).unwrap_or(i64::MAX);
                    sym(s)?.div_euclid(by) + i64::from(sym(s)? % by != 0)
                }
            };
            usize::try_from(v).map_err(|_| RunnerError::usage(format!("dim value {v} is negative")))
        })
        .collect()
}

/// Indices of the kernel's output (`out`) tensor parameters.
pub fn outputs(k: &Kernel) -> Vec<usize> {
    k.params
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, ParamKind::Tensor { is_out: true, .. }))
        .map(|(i, _)| i)
        .collect()
}

/// Fresh inputs for every parameter from `seed`, in their logical form (scales row-major, so `k`
/// must name linear scale layouts: pass a bundle kernel's `tessera_prepack::linear_view` and
/// [`device_bindings`] for the launch); outputs poisoned (data and scales) so an element the
/// kernel never writes is found by its bytes — except outputs the kernel accumulates into with
/// atomics, which must start at zero. Scalar parameters take `--scalar` values, else the default
/// the kernel's reference convention gives them (attention's `sm_scale`, `causal`, `scale_<q|k|v>`), else for f32 a
/// seeded value in [0.5, 2] (ints have no safe default: they must be given). Index/routing inputs
/// are then made meaningful by the reference convention (MoE offsets and token ids).
pub fn make_bindings(
    k: &Kernel,
    syms: &[(String, i64)],
    scalars: &[(String, String)],
    seed: u64,
) -> Result<Bindings, RunnerError> {
    make_bindings_given(k, syms, scalars, seed, vec![None; k.params.len()])
}

/// [`make_bindings`] where some inputs are the caller's data (`given[i]`, e.g. read from `--arg
/// name=FILE.npy`, logical form): those are used as they are (their shapes must fit the bound dims)
/// and never rewritten by the reference conventions. With any tensor given, every scalar must be
/// in `scalars` (`E0511`): a made-up value would silently change the user's computation; an NVFP4
/// input given from a file takes its per-tensor scale from its `global = ...` scalar.
pub fn make_bindings_given(
    k: &Kernel,
    syms: &[(String, i64)],
    scalars: &[(String, String)],
    seed: u64,
    mut given: Vec<Option<TensorArg>>,
) -> Result<Bindings, RunnerError> {
    given.resize(k.params.len(), None);
    let real_data = given.iter().any(Option::is_some);
    let mut g = InputGen::new(seed);
    for (n, _) in scalars {
        if !k
            .params
            .iter()
            .any(|p| &p.name == n && matches!(p.kind, ParamKind::Scalar(_)))
        {
            return Err(RunnerError::usage(format!(
                "--scalar {n}: kernel `{}` has no scalar parameter {n}",
                k.name
            )));
        }
    }
    let mut args = Vec::with_capacity(k.params.len());
    for p in &k.params {
        let arg = match &p.kind {
            ParamKind::Tensor { ty, is_out } => {
                let shape = shape_of(ty, syms)?;
                let i = args.len();
                if *is_out && tessera_oracle::accumulates_into(k, i) {
                    ArgValue::Tensor(zeroed(ty, &shape))
                } else if *is_out {
                    ArgValue::Tensor(tessera_numerics::poison::poisoned_output(ty, &shape))
                } else if let Some(t) = given[i].clone() {
                    if t.data.shape != shape {
                        return Err(RunnerError::usage(format!(
                            "error[{}]: `{}` has shape {:?} but the bound dims ({}) give {:?}",
                            tessera_numerics::error::E_SHAPE,
                            p.name,
                            t.data.shape,
                            shape_label(syms),
                            shape
                        )));
                    }
                    ArgValue::Tensor(t)
                } else {
                    ArgValue::Tensor(g.tensor_arg(ty, &shape)?)
                }
            }
            ParamKind::Scalar(d) => {
                let value = scalars
                    .iter()
                    .find(|(n, _)| n == &p.name)
                    .map(|(_, v)| v.as_str());
                if value.is_none() && real_data {
                    return Err(tessera_numerics::args::missing_scalar(k, &p.name, "--arg").into());
                }
                match (value, tessera_oracle::default_scalar(k, &p.name, syms)) {
                    (None, Some(v)) => ArgValue::Scalar(v),
                    _ => ArgValue::Scalar(scalar_value(&p.name, *d, value, &mut g)?),
                }
            }
        };
        args.push(arg);
    }
    // An NV per-tensor scale passed as a scalar parameter (`global_scale.<tensor> = <param>`) takes
    // the generated tensor's global scale, so the scalar and the tensor's contract agree.
    for (key, param) in &k.attrs {
        let Some(tensor) = key.strip_prefix("global_scale.") else {
            continue;
        };
        let ti = k.params.iter().position(|p| p.name == tensor);
        let pi = k.params.iter().position(|p| &p.name == param);
        let (Some(ti), Some(pi)) = (ti, pi) else {
            continue;
        };
        if given[ti].is_some() {
            // The user's NVFP4 codes: the scale comes from the scalar they gave (checked above).
            if let (ArgValue::Scalar(v), ArgValue::Tensor(t)) = (args[pi].clone(), &mut args[ti]) {
                t.global_scale = Some(v as f32);
            }
        } else if let ArgValue::Tensor(TensorArg {
            global_scale: Some(g),
            ..
        }) = &args[ti]
            && !scalars.iter().any(|(n, _)| n == param)
        {
            args[pi] = ArgValue::Scalar(f64::from(*g));
        } else if let (ArgValue::Scalar(v), ArgValue::Tensor(t)) = (args[pi].clone(), &mut args[ti]) {
            // A generated tensor and a given scalar: the tensor's contract follows the scalar.
            t.global_scale = Some(v as f32);
        }
    }
    let mut b = Bindings {
        args,
        syms: syms.to_vec(),
    };
    tessera_oracle::prepare_inputs(k, &mut b, seed).map_err(|e| RunnerError::usage(e.to_string()))?;
    // The caller's data wins over the conventions' index inputs.
    for (i, t) in given.into_iter().enumerate() {
        if let Some(t) = t {
            b.args[i] = ArgValue::Tensor(t);
        }
    }
    Ok(b)
}

fn scalar_value(name: &str, d: DType, given: Option<&str>, g: &mut InputGen) -> Result<f64, RunnerError> {
    match (given, d.is_float()) {
        (Some(v), _) => {
            let x: f64 = v
                .parse()
                .map_err(|_| RunnerError::usage(format!("--scalar {name}={v}: not a number")))?;
            if !d.is_float() && x.fract() != 0.0 {
                return Err(RunnerError::usage(format!(
                    "--scalar {name}={v}: {d} needs an integer"
                )));
            }
            Ok(x)
        }
        // A seeded f32 value of moderate size, so a scaled output stays well inside its range.
        (None, true) => Ok(f64::from(g.values(1, 1.0)[0].abs().clamp(0.5, 2.0))),
        (None, false) => Err(RunnerError::usage(format!(
            "scalar parameter `{name}: {d}` needs --scalar {name}=VALUE"
        ))),
    }
}

fn zeroed(ty: &TensorType, shape: &[usize]) -> TensorArg {
    let n = TensorBuf::expected_bytes(ty.dtype, shape, ty.packed_axis);
    let data = TensorBuf {
        dtype: ty.dtype,
        shape: shape.to_vec(),
        packed_axis: ty.packed_axis,
        bytes: vec![0; n],
    };
    TensorArg {
        data,
        scale: None,
        global_scale: None,
    }
}

/// FLOPs of one launch when the kernel declares what it computes (`@reference(gemm)`: 2*M*N*K).
pub fn flops(k: &Kernel, syms: &[(String, i64)]) -> Option<f64> {
    let s = |n: &str| syms.iter().find(|(m, _)| m == n).map(|d| d.1 as f64);
    match k.attr("reference") {
        Some(r) if r.starts_with("gemm") => Some(2.0 * s("M")? * s("N")? * s("K")?),
        _ => None,
    }
}

/// `M=100 N=704 K=320`, for tables.
pub fn shape_label(syms: &[(String, i64)]) -> String {
    syms.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a launch of `k` gets from the logical inputs `logical` (made by [`make_bindings`] for
/// `k`'s linear view): every scale buffer whose type names a swizzled layout prepacked into it.
pub fn device_bindings(k: &Kernel, logical: &Bindings) -> Result<Bindings, RunnerError> {
    let mut b = logical.clone();
    tessera_prepack::prepack_bindings(k, &mut b).map_err(|e| RunnerError::usage(e.to_string()))?;
    Ok(b)
}

/// A copy of `b` whose output buffers are freshly poisoned (for a second consumer of the same
/// inputs), in the form `k`'s types name (a swizzled output scale is prepacked like an input's).
pub fn repoison(k: &Kernel, b: &Bindings) -> Result<Bindings, RunnerError> {
    let mut out = b.clone();
    for i in outputs(k) {
        if let ParamKind::Tensor { ty, .. } = &k.params[i].kind {
            let shape = shape_of(ty, &b.syms)?;
            let fresh = if tessera_oracle::accumulates_into(k, i) {
                zeroed(ty, &shape)
            } else {
                tessera_numerics::poison::poisoned_output(ty, &shape)
            };
            out.args[i] = ArgValue::Tensor(fresh);
            tessera_prepack::prepack_arg(&k.params[i], &mut out.args[i])
                .map_err(|e| RunnerError::usage(e.to_string()))?;
        }
    }
    Ok(out)
}

/// The block-scale buffer of parameter `i`, when it is a scaled tensor.
pub fn output_scale_buf(b: &Bindings, i: usize) -> Option<&TensorBuf> {
    match b.args.get(i) {
        Some(ArgValue::Tensor(t)) => t.scale.as_ref(),
        _ => None,
    }
}

/// The output buffer of parameter `i` (data part).
pub fn output_buf(b: &Bindings, i: usize) -> Option<&TensorBuf> {
    match b.args.get(i) {
        Some(ArgValue::Tensor(t)) => Some(&t.data),
        _ => None,
    }
}
