//! `@reference(gemm)`: C = (A · B) × (product of the non-global f32 scalars).

use crate::roles::{TParam, arg, dequantized, explicit_block, is_scale_dtype, single_out, tensors};
use crate::{E_CONVENTION, OracleError, err};
use tessera_ir::{DType, Kernel, ParamKind};
use tessera_numerics::{ArgValue, Bindings};
use tessera_reference::{BLayout, gemm_scaled};

/// Operands: A, B, each with an optional explicit scale tensor that follows it.
struct Operands<'a> {
    a: (TParam<'a>, Option<TParam<'a>>),
    b: (TParam<'a>, Option<TParam<'a>>),
    c: TParam<'a>,
    layout: BLayout,
}

fn operands(k: &Kernel) -> Result<Operands<'_>, OracleError> {
    let (ins, outs) = tensors(k);
    let c = single_out(k, &outs)?;
    let mut ops: Vec<(TParam, Option<TParam>)> = Vec::new();
    for t in ins {
        if is_scale_dtype(t.ty.dtype) && t.ty.scale.is_none() {
            match ops.last_mut() {
                Some((_, s @ None)) => *s = Some(t),
                _ => {
                    return Err(err(
                        E_CONVENTION,
                        format!("scale tensor `{}` does not follow a data tensor", t.name),
                    ));
                }
            }
        } else {
            ops.push((t, None));
        }
    }
    let [a, b] = <[_; 2]>::try_from(ops).map_err(|o: Vec<_>| {
        err(
            E_CONVENTION,
            format!(
                "gemm `{}` needs two data tensors A and B, found {}",
                k.name,
                o.len()
            ),
        )
    })?;
    if a.0.ty.dims.len() != 2 || b.0.ty.dims.len() != 2 || c.ty.dims.len() != 2 {
        return Err(err(E_CONVENTION, "gemm operands must be rank 2"));
    }
    let ka = &a.0.ty.dims[1];
    let layout = if &b.0.ty.dims[1] == ka {
        BLayout::NK
    } else if &b.0.ty.dims[0] == ka {
        BLayout::KN
    } else {
        return Err(err(
            E_CONVENTION,
            format!("B `{}` shares no K dim with A `{}`", b.0.name, a.0.name),
        ));
    };
    Ok(Operands { a, b, c, layout })
}

fn operand(b: &Bindings, (t, s): &(TParam, Option<TParam>), k_axis: usize) -> Result<Vec<f64>, OracleError> {
    let a = arg(b, t)?;
    let explicit = match s {
        Some(s) => Some((arg(b, s)?, explicit_block(t.ty, s.ty, s.name)?)),
        None => None,
    };
    dequantized(t, a, explicit, Some(k_axis))
}

pub(crate) fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    let o = operands(k)?;
    let av = operand(b, &o.a, 1)?;
    let bv = operand(b, &o.b, if o.layout == BLayout::NK { 1 } else { 0 })?;
    let ash = &arg(b, &o.a.0)?.data.shape;
    let bsh = &arg(b, &o.b.0)?.data.shape;
    let (m, kk) = (ash[0], ash[1]);
    let n = if o.layout == BLayout::NK { bsh[0] } else { bsh[1] };
    // Scalars that are not NV globals multiply the result.
    let globals: Vec<&str> = k
        .attrs
        .iter()
        .filter(|(key, _)| key.starts_with("global_scale."))
        .map(|(_, v)| v.as_str())
        .collect();
    let mut s = 1.0;
    for (p, a) in k.params.iter().zip(&b.args) {
        if let (ParamKind::Scalar(DType::F32), ArgValue::Scalar(v)) = (&p.kind, a)
            && !globals.contains(&p.name.as_str())
        {
            s *= v;
        }
    }
    Ok(vec![(
        o.c.index,
        gemm_scaled(&av, &bv, (m, n, kk), o.layout, s, None, None),
    )])
}

pub(crate) fn accum_len(k: &Kernel, b: &Bindings) -> usize {
    operands(k)
        .ok()
        .and_then(|o| arg(b, &o.a.0).ok().map(|a| a.data.shape[1]))
        .unwrap_or(1)
}
