//! Finding parameters by role and turning bound arguments into dequantized f64 arrays.

use crate::{E_BINDING, E_CONVENTION, E_K_BLOCK, OracleError, err};
use tessera_ir::{DType, Dim, Kernel, ParamKind, TensorType};
use tessera_numerics::{ArgValue, Bindings, TensorArg, decode_buf_f64};
use tessera_reference::{BlockScales, dequantize};

/// A tensor parameter with its index and type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TParam<'a> {
    pub index: usize,
    pub name: &'a str,
    pub ty: &'a TensorType,
}

/// Non-`out` tensor parameters in declaration order, and the `out` ones.
pub(crate) fn tensors(k: &Kernel) -> (Vec<TParam<'_>>, Vec<TParam<'_>>) {
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    for (index, p) in k.params.iter().enumerate() {
        if let ParamKind::Tensor { ty, is_out } = &p.kind {
            let t = TParam {
                index,
                name: &p.name,
                ty,
            };
            if *is_out { outs.push(t) } else { ins.push(t) }
        }
    }
    (ins, outs)
}

pub(crate) fn single_out<'a>(k: &'a Kernel, outs: &[TParam<'a>]) -> Result<TParam<'a>, OracleError> {
    match outs {
        [o] => Ok(*o),
        _ => Err(err(
            E_CONVENTION,
            format!(
                "kernel `{}` must have exactly one `out` tensor, it has {}",
                k.name,
                outs.len()
            ),
        )),
    }
}

/// The tensor bound to `t`, with the rank of its type (the families index its dims by position, and
/// bound shapes come from user files).
pub(crate) fn arg<'a>(b: &'a Bindings, t: &TParam) -> Result<&'a TensorArg, OracleError> {
    match b.args.get(t.index) {
        Some(ArgValue::Tensor(a)) if a.data.shape.len() == t.ty.dims.len() => Ok(a),
        Some(ArgValue::Tensor(a)) => Err(err(
            E_BINDING,
            format!(
                "`{}` is bound to shape {:?}, but its type has rank {}",
                t.name,
                a.data.shape,
                t.ty.dims.len()
            ),
        )),
        _ => Err(err(E_BINDING, format!("`{}` is not bound to a tensor", t.name))),
    }
}

/// The value of scalar parameter `name`, if the kernel has one.
pub(crate) fn scalar(k: &Kernel, b: &Bindings, name: &str) -> Option<f64> {
    let i = k
        .params
        .iter()
        .position(|p| p.name == name && matches!(p.kind, ParamKind::Scalar(_)))?;
    match b.args.get(i) {
        Some(ArgValue::Scalar(v)) => Some(*v),
        _ => None,
    }
}

/// Whether the dtype is a block-scale format (an explicit scale tensor's element type).
pub(crate) fn is_scale_dtype(d: DType) -> bool {
    matches!(d, DType::E8M0 | DType::UE4M3)
}

/// Block extents of an explicit scale tensor for its data tensor: a `cdiv(S, b)` dim is blocked by
/// `b`; a dim equal to the data's dim is not blocked.
pub(crate) fn explicit_block(
    data: &TensorType,
    scale: &TensorType,
    name: &str,
) -> Result<Vec<usize>, OracleError> {
    if data.dims.len() != scale.dims.len() {
        return Err(err(
            E_CONVENTION,
            format!("scale tensor `{name}` has a different rank from its data tensor"),
        ));
    }
    data.dims
        .iter()
        .zip(&scale.dims)
        .map(|(d, s)| match (d, s) {
            (Dim::Sym(a), Dim::CeilDiv(b, by)) if a == b => Ok(*by as usize),
            (a, b) if a == b => Ok(1),
            _ => Err(err(
                E_CONVENTION,
                format!("cannot relate dims of scale tensor `{name}` to its data tensor"),
            )),
        })
        .collect()
}

/// Dequantized values of a tensor argument: codes decoded, times its block scales (type contract
/// or `explicit` scale tensor with `block`) and NV global, in f64. `k_axis` names the contracted
/// axis, which must hold a whole number of scale blocks.
pub(crate) fn dequantized(
    t: &TParam,
    a: &TensorArg,
    explicit: Option<(&TensorArg, Vec<usize>)>,
    k_axis: Option<usize>,
) -> Result<Vec<f64>, OracleError> {
    let dec = |buf| decode_buf_f64(buf).map_err(|e| err(E_BINDING, format!("`{}`: {e}", t.name)));
    let v = dec(&a.data)?;
    let shape = &a.data.shape;
    let (scales, block, global) = match (&t.ty.scale, explicit) {
        (Some(spec), _) => {
            let s = a.scale.as_ref().ok_or_else(|| {
                err(
                    E_BINDING,
                    format!("`{}` is scaled but has no scale buffer", t.name),
                )
            })?;
            let g =
                if spec.global {
                    Some(a.global_scale.ok_or_else(|| {
                        err(E_BINDING, format!("`{}` has no per-tensor global scale", t.name))
                    })? as f64)
                } else {
                    None
                };
            (
                dec(s)?,
                spec.block.iter().map(|b| *b as usize).collect::<Vec<_>>(),
                g,
            )
        }
        (None, Some((s, block))) => (dec(&s.data)?, block, None),
        (None, None) => return Ok(v),
    };
    if let Some(ax) = k_axis
        && let (Some(bk), Some(n)) = (block.get(ax), shape.get(ax))
        && n % bk != 0
    {
        return Err(err(
            E_K_BLOCK,
            format!(
                "`{}`: K = {n} is not a multiple of its scale block {bk} along K",
                t.name
            ),
        ));
    }
    dequantize(
        &v,
        shape,
        &BlockScales {
            scales: &scales,
            block: &block,
            global,
        },
    )
    .ok_or_else(|| {
        err(
            E_BINDING,
            format!("`{}`: scale buffer does not fit data of shape {shape:?}", t.name),
        )
    })
}
