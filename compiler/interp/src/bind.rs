//! Checking bindings against a kernel's parameter types before anything runs: argument kinds,
//! dtypes, packing, shapes (binding symbolic dims from them, consistently), scale buffers and
//! per-tensor global scales.

use crate::error::{E_ARGS, E_DTYPE, E_SCALE_MISSING, E_SHAPE, E_UNSUPPORTED, InterpError};
use tessera_ir::{Dim, Kernel, ParamKind, ScaleLayout, TensorType};
use tessera_numerics::{ArgValue, Bindings, TensorBuf, dtype_map::check_len};

/// The concrete shape of a tensor type once its symbolic dims are known. Dims come from the user
/// (`--dim`, `.npy` headers), so a ceil-div that overflows or an element count beyond what a host
/// buffer can address is a shape error, not an arithmetic panic.
pub fn concrete_shape(ty: &TensorType, sym: &dyn Fn(&str) -> Option<i64>) -> Result<Vec<usize>, InterpError> {
    let shape = ty
        .dims
        .iter()
        .map(|d| {
            let v = match d {
                Dim::Const(c) => *c as i64,
                Dim::Sym(s) => sym(s).ok_or_else(|| unbound(s))?,
                Dim::CeilDiv(s, by) => {
                    let v = sym(s).ok_or_else(|| unbound(s))?;
                    let by = i64::try_from((*by).max(1)).unwrap_or(i64::MAX);
                    v.checked_add(by - 1)
                        .ok_or_else(|| {
                            InterpError::binding(E_SHAPE, format!("dim value {s} = {v} is too large"))
                        })?
                        .div_euclid(by)
                }
            };
            usize::try_from(v)
                .map_err(|_| InterpError::binding(E_SHAPE, format!("dim value {v} is negative")))
        })
        .collect::<Result<Vec<usize>, InterpError>>()?;
    tessera_numerics::checked_numel(&shape).map_err(|e| InterpError::binding(E_SHAPE, e.message))?;
    Ok(shape)
}

fn unbound(s: &str) -> InterpError {
    InterpError::binding(
        E_SHAPE,
        format!("symbolic dim `{s}` is not bound (give an input of that shape or --dim {s}=N)"),
    )
}

/// Bind every symbolic dim: values already in `b.syms` are kept (e.g. from `--dim`), the others
/// come from the first tensor argument that names them, and every other use must agree. On
/// success `b.syms` holds all of `k.syms` in order.
pub fn bind_syms(k: &Kernel, b: &mut Bindings) -> Result<(), InterpError> {
    if b.args.len() != k.params.len() {
        return Err(InterpError::binding(
            E_ARGS,
            format!(
                "kernel `{}` takes {} arguments, {} given",
                k.name,
                k.params.len(),
                b.args.len()
            ),
        ));
    }
    let mut known: Vec<(String, i64, String)> = b
        .syms
        .iter()
        .map(|(n, v)| (n.clone(), *v, given_dim_origin(k, b, n, *v)))
        .collect();
    // Pass 1: plain symbolic dims bind; pass 2 checks ceil-div dims against them.
    for (p, a) in k.params.iter().zip(&b.args) {
        let (ParamKind::Tensor { ty, .. }, ArgValue::Tensor(t)) = (&p.kind, a) else {
            continue;
        };
        if t.data.shape.len() != ty.dims.len() {
            return Err(InterpError::binding(
                E_SHAPE,
                format!(
                    "`{}` is declared with rank {} but the buffer has shape {:?}",
                    p.name,
                    ty.dims.len(),
                    t.data.shape
                ),
            ));
        }
        for (i, (d, &n)) in ty.dims.iter().zip(&t.data.shape).enumerate() {
            let Dim::Sym(s) = d else { continue };
            match known.iter().find(|(k, _, _)| k == s) {
                Some((_, v, from)) if *v != n as i64 => {
                    return Err(InterpError::binding(
                        E_SHAPE,
                        format!("`{}` dim {i} is {s} = {n}, but {s} = {v} from {from}", p.name),
                    ));
                }
                Some(_) => {}
                None => known.push((s.clone(), n as i64, format!("`{}` dim {i}", p.name))),
            }
        }
    }
    let mut syms = Vec::with_capacity(k.syms.len());
    for s in &k.syms {
        match known.iter().find(|(k, _, _)| k == s) {
            Some((_, v, _)) => syms.push((s.clone(), *v)),
            None => return Err(unbound(s)),
        }
    }
    b.syms = syms;
    Ok(())
}

/// Where a dim bound before the run (`b.syms`) came from, for E0604's message. Callers fill
/// `b.syms` from `--dim`, from defaults, and from the shapes of input files or arrays (`tessera run
/// --arg x=x.npy`, the API), and do not say which; an input tensor whose shape has `sym = v` is the
/// likely source (a `--dim` that disagreed with a file was refused before, as E0502), otherwise the
/// value was given as a dim.
fn given_dim_origin(k: &Kernel, b: &Bindings, sym: &str, v: i64) -> String {
    for (p, a) in k.params.iter().zip(&b.args) {
        let (ParamKind::Tensor { ty, is_out: false }, ArgValue::Tensor(t)) = (&p.kind, a) else {
            continue;
        };
        if ty.dims.len() != t.data.shape.len() {
            continue;
        }
        for (i, (d, &n)) in ty.dims.iter().zip(&t.data.shape).enumerate() {
            if matches!(d, Dim::Sym(s) if s == sym) && n as i64 == v {
                return format!("the shape of input `{}` (dim {i})", p.name);
            }
        }
    }
    format!("the given dims (`--dim {sym}={v}`, a default, or `Bindings::syms`)")
}

/// Check every argument against its parameter (after [`bind_syms`]).
pub fn check_args(k: &Kernel, b: &Bindings) -> Result<(), InterpError> {
    let sym = |s: &str| b.sym(s);
    for (p, a) in k.params.iter().zip(&b.args) {
        match (&p.kind, a) {
            (ParamKind::Scalar(_), ArgValue::Scalar(_)) => {}
            (ParamKind::Tensor { ty, .. }, ArgValue::Tensor(t)) => {
                let shape = concrete_shape(ty, &sym)?;
                check_buf(&p.name, "data", &t.data, ty.dtype, &shape, ty.packed_axis)?;
                match &ty.scale {
                    None => {
                        if t.scale.is_some() {
                            return Err(InterpError::binding(
                                E_ARGS,
                                format!("`{}` is not scaled but a scale buffer was given", p.name),
                            ));
                        }
                    }
                    Some(spec) => {
                        if !matches!(spec.layout, ScaleLayout::Linear | ScaleLayout::HopperRegister) {
                            return Err(InterpError::Unsupported {
                                op: "bind",
                                span: p.span,
                                why: format!(
                                    "scale layout {} of `{}` (`run` reads swizzled scales back through the layout; `check_args` takes linear ones)",
                                    spec.layout.name(),
                                    p.name
                                ),
                            });
                        }
                        let Some(s) = &t.scale else {
                            return Err(InterpError::binding(
                                E_SCALE_MISSING,
                                format!(
                                    "`{}` is scaled but no scale buffer was given (`{}.scale`)",
                                    p.name, p.name
                                ),
                            ));
                        };
                        let s_shape: Vec<usize> = shape
                            .iter()
                            .zip(&spec.block)
                            .map(|(d, bk)| d.div_ceil(*bk as usize))
                            .collect();
                        check_buf(&p.name, "scale", s, spec.scale_dtype, &s_shape, None)?;
                        if spec.global && !t.global_scale.is_some_and(|g| g.is_finite()) {
                            return Err(InterpError::binding(
                                E_SCALE_MISSING,
                                format!("`{}` needs its per-tensor global scale (finite f32)", p.name),
                            ));
                        }
                    }
                }
            }
            (ParamKind::Scalar(d), ArgValue::Tensor(_)) => {
                return Err(InterpError::binding(
                    E_ARGS,
                    format!("`{}` is a {d} scalar but a tensor was given", p.name),
                ));
            }
            (ParamKind::Tensor { .. }, ArgValue::Scalar(_)) => {
                return Err(InterpError::binding(
                    E_ARGS,
                    format!("`{}` is a tensor but a scalar was given", p.name),
                ));
            }
        }
    }
    Ok(())
}

/// A scale buffer that cannot be read through its swizzled layout: a wrong size or shape is a
/// shape error; a type the layouts cannot tile is not implemented.
pub(crate) fn prepack_error(e: tessera_prepack::BindError) -> InterpError {
    use tessera_prepack::PrepackError as P;
    let code = match e.error {
        P::SizeMismatch { .. } | P::NotPrepacked { .. } | P::Mismatch { .. } => E_SHAPE,
        P::NotAScaleType { .. } => E_DTYPE,
        P::BadGeometry { .. } | P::NotOneScaledAxis { .. } | P::BadHeader { .. } => E_UNSUPPORTED,
    };
    InterpError::binding(code, e.to_string())
}

fn check_buf(
    name: &str,
    what: &str,
    buf: &TensorBuf,
    dtype: tessera_ir::DType,
    shape: &[usize],
    packed_axis: Option<usize>,
) -> Result<(), InterpError> {
    if buf.dtype != dtype {
        return Err(InterpError::binding(
            E_DTYPE,
            format!("`{name}` {what}: expected {dtype}, found {}", buf.dtype),
        ));
    }
    if buf.shape != shape {
        return Err(InterpError::binding(
            E_SHAPE,
            format!("`{name}` {what}: expected shape {shape:?}, found {:?}", buf.shape),
        ));
    }
    if dtype == tessera_ir::DType::F4E2M1 && buf.packed_axis != packed_axis {
        return Err(InterpError::binding(
            E_DTYPE,
            format!(
                "`{name}` {what}: f4e2m1 packed along axis {:?}, but the type packs along {:?}",
                buf.packed_axis, packed_axis
            ),
        ));
    }
    check_len(buf).map_err(|e| InterpError::binding(E_SHAPE, format!("`{name}` {what}: {}", e.message)))
}

/// The NV per-tensor scale of tensor `t` is the scalar parameter named by the kernel attribute
/// `global_scale.t` (the checker records `nv<f4e2m1, global = gs>` that way). Copy its value into
/// the tensor argument, or check that an already present one agrees.
pub fn sync_globals(k: &Kernel, b: &mut Bindings) -> Result<(), InterpError> {
    for (key, scalar) in &k.attrs {
        let Some(tensor) = key.strip_prefix("global_scale.") else {
            continue;
        };
        let ti = k.params.iter().position(|p| p.name == tensor);
        let si = k.params.iter().position(|p| &p.name == scalar);
        let (Some(ti), Some(si)) = (ti, si) else {
            return Err(InterpError::binding(
                E_ARGS,
                format!("attribute `{key} = {scalar}` names a missing parameter"),
            ));
        };
        let Some(ArgValue::Scalar(v)) = b.args.get(si).cloned() else {
            return Err(InterpError::binding(
                E_SCALE_MISSING,
                format!("`{scalar}` (global scale of `{tensor}`) must be an f32 scalar argument"),
            ));
        };
        if let Some(ArgValue::Tensor(t)) = b.args.get_mut(ti) {
            match t.global_scale {
                None => t.global_scale = Some(v as f32),
                // The same value, NaN included (NaN != NaN would report two equal NaNs as a
                // conflict: F14); -0.0 and 0.0 differ in bits but scale alike.
                Some(g) if g == v as f32 || (g.is_nan() && v.is_nan()) => {}
                Some(g) => {
                    return Err(InterpError::binding(
                        E_SCALE_MISSING,
                        format!(
                            "`{tensor}` carries global scale {g:e} but its scalar `{scalar}` is {:e}; they must agree (bind the scalar only, or give the tensor the same global scale)",
                            v as f32
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_ir::DType;

    fn ty(dims: Vec<Dim>) -> TensorType {
        TensorType {
            dtype: DType::F32,
            dims,
            scale: None,
            packed_axis: None,
        }
    }

    /// F14: a NaN global scale given both on the tensor and as its scalar agrees with itself; a
    /// real disagreement is still E0605 and names both values.
    #[test]
    fn nan_global_scales_agree_with_themselves() {
        let mut k = tessera_ir::samples::gemm(
            {
                let mut t = tessera_ir::samples::tensor(DType::F4E2M1, &["M", "K"]);
                t.scale = Some(tessera_ir::samples::nv_spec(1));
                t.packed_axis = Some(1);
                t
            },
            tessera_ir::samples::tensor(DType::F32, &["N", "K"]),
            DType::F32,
            (16, 16, 16),
            0,
        );
        k.attrs.retain(|(key, _)| key != "reference");
        let si = k
            .params
            .iter()
            .position(|p| p.name == "a_global")
            .expect("global scalar");
        let bind = |tensor: f32, scalar: f64| {
            let mut args: Vec<ArgValue> = k
                .params
                .iter()
                .map(|_| {
                    ArgValue::Tensor(tessera_numerics::TensorArg {
                        data: tessera_numerics::poison_buf(DType::F32, &[1], None),
                        scale: None,
                        global_scale: None,
                    })
                })
                .collect();
            if let ArgValue::Tensor(t) = &mut args[0] {
                t.global_scale = Some(tensor);
            }
            args[si] = ArgValue::Scalar(scalar);
            Bindings { args, syms: vec![] }
        };
        sync_globals(&k, &mut bind(f32::NAN, f64::NAN)).expect("NaN agrees with NaN");
        sync_globals(&k, &mut bind(0.5, 0.5)).expect("equal values agree");
        let e = sync_globals(&k, &mut bind(0.5, f64::NAN)).expect_err("0.5 vs NaN");
        assert!(e.to_string().contains("E0605"), "{e}");
        assert!(
            e.to_string()
                .contains("global scale 5e-1 but its scalar `a_global` is NaN"),
            "{e}"
        );
        let e = sync_globals(&k, &mut bind(f32::NAN, 2.0)).expect_err("NaN vs 2");
        assert!(
            e.to_string()
                .contains("global scale NaN but its scalar `a_global` is 2e0"),
            "{e}"
        );
    }

    /// Dims are user input (`--dim`, `.npy` headers): overflow is a shape error, not a panic.
    #[test]
    fn oversized_dims_are_shape_errors() {
        let big = |_: &str| Some(i64::MAX);
        let e =
            concrete_shape(&ty(vec![Dim::CeilDiv("M".into(), 128)]), &big).expect_err("ceil-div overflow");
        assert!(e.to_string().contains(E_SHAPE), "{e}");
        let e =
            concrete_shape(&ty(vec![Dim::Sym("M".into()), Dim::Sym("N".into())]), &big).expect_err("numel");
        assert!(e.to_string().contains("too many elements"), "{e}");
        let small = |_: &str| Some(300);
        let s =
            concrete_shape(&ty(vec![Dim::CeilDiv("M".into(), 128), Dim::Const(4)]), &small).expect("fits");
        assert_eq!(s, vec![3, 4]);
    }
}
