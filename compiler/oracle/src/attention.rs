//! `@reference(attention)`: O = softmax(Q Kᵀ · sm_scale) V with per-tensor `scale_<name>` factors.

use crate::roles::{TParam, arg, dequantized, scalar, single_out, tensors};
use crate::{E_CONVENTION, OracleError, err};
use tessera_ir::Kernel;
use tessera_numerics::Bindings;
use tessera_reference::{AttnShape, attention};

fn roles(k: &Kernel) -> Result<([TParam<'_>; 3], TParam<'_>), OracleError> {
    let (ins, outs) = tensors(k);
    let o = single_out(k, &outs)?;
    if ins.len() < 3 {
        return Err(err(
            E_CONVENTION,
            format!("attention `{}` needs Q, K and V tensors", k.name),
        ));
    }
    Ok(([ins[0], ins[1], ins[2]], o))
}

/// `[heads, seq, d]` of a rank-3 (or `[seq, d]` rank-2) shape.
fn hsd(shape: &[usize]) -> Result<(usize, usize, usize), OracleError> {
    match shape {
        [h, s, d] => Ok((*h, *s, *d)),
        [s, d] => Ok((1, *s, *d)),
        _ => Err(err(
            E_CONVENTION,
            format!("attention tensors must be rank 2 or 3, found shape {shape:?}"),
        )),
    }
}

pub(crate) fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    let ([q, kt, v], o) = roles(k)?;
    let mut vals = Vec::new();
    let mut shapes = Vec::new();
    for t in [&q, &kt, &v] {
        let a = arg(b, t)?;
        let s = scalar(k, b, &format!("scale_{}", t.name)).unwrap_or(1.0);
        vals.push(
            dequantized(t, a, None, Some(a.data.shape.len() - 1))?
                .into_iter()
                .map(|x| x * s)
                .collect::<Vec<_>>(),
        );
        shapes.push(hsd(&a.data.shape)?);
    }
    let (h, sq, d) = shapes[0];
    let (_, sk, _) = shapes[1];
    let (_, _, dv) = shapes[2];
    let sm = scalar(k, b, "sm_scale").unwrap_or(1.0 / (d as f64).sqrt());
    let causal = scalar(k, b, "causal").is_some_and(|c| c != 0.0);
    let shape = AttnShape {
        heads: h,
        seq_q: sq,
        seq_k: sk,
        d,
        dv,
    };
    Ok(vec![(
        o.index,
        attention(&vals[0], &vals[1], &vals[2], shape, sm, causal),
    )])
}

pub(crate) fn default_sm_scale(k: &Kernel, syms: &[(String, i64)]) -> Option<f64> {
    let ([q, _, _], _) = roles(k).ok()?;
    let d = match q.ty.dims.last()? {
        tessera_ir::Dim::Const(c) => *c as f64,
        tessera_ir::Dim::Sym(s) => syms.iter().find(|(n, _)| n == s)?.1 as f64,
        tessera_ir::Dim::CeilDiv(..) => return None,
    };
    Some(1.0 / d.sqrt())
}

pub(crate) fn accum_len(k: &Kernel, b: &Bindings) -> usize {
    roles(k)
        .ok()
        .and_then(|([q, kt, _], _)| {
            let d = arg(b, &q).ok()?.data.shape.last().copied()?;
            let s = hsd(&arg(b, &kt).ok()?.data.shape).ok()?.1;
            Some(d.max(s))
        })
        .unwrap_or(1)
}
