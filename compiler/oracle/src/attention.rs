//! `@reference(attention)`: O = softmax(Q Kᵀ · sm_scale) V with per-tensor `scale_<name>` factors.

use crate::roles::{TParam, arg, dequantized, scalar, single_out, tensors};
use crate::{E_CONVENTION, OracleError, err};
use tessera_ir::Kernel;
use tessera_numerics::Bindings;
use tessera_numerics::inputs::plain_rms;
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

/// The dequantized Q, K, V (`scale_<name>` applied) and their `(heads, seq, d)` shapes.
type Operands = ([Vec<f64>; 3], [(usize, usize, usize); 3]);

fn operands(k: &Kernel, b: &Bindings, [q, kt, v]: &[TParam<'_>; 3]) -> Result<Operands, OracleError> {
    let mut vals: [Vec<f64>; 3] = Default::default();
    let mut shapes = [(0, 0, 0); 3];
    for (i, t) in [q, kt, v].into_iter().enumerate() {
        let a = arg(b, t)?;
        let s = scalar(k, b, &format!("scale_{}", t.name)).unwrap_or(1.0);
        vals[i] = dequantized(t, a, None, Some(a.data.shape.len() - 1))?
            .into_iter()
            .map(|x| x * s)
            .collect();
        shapes[i] = hsd(&a.data.shape)?;
    }
    Ok((vals, shapes))
}

pub(crate) fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    let (qkv, o) = roles(k)?;
    let (vals, shapes) = operands(k, b, &qkv)?;
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

/// Default per-tensor dequant scale `scale_<name>` of Q, K or V: the reciprocal of the generated
/// data's RMS for that dtype ([`plain_rms`]), rounded to a power of two (exact in any float), so
/// the dequantized operands have about unit RMS — for fp8 e4m3 that is 2^-6. That is the regime
/// attention runs in: with unit-size q and k the logits `q·k/sqrt(d)` are O(1) and the softmax
/// spreads over many keys. A scale near 1 on fp8 codes (|x| up to 448) makes the logits ~1e4 and
/// the softmax a hard argmax (P in {0, 1}), which hides both the rounding of P and accumulation
/// error. Block-scaled operands carry their own scales and get no default; an explicit value
/// (`--arg`/`--scalar`) always wins, as callers consult this only when none is given.
pub(crate) fn default_operand_scale(k: &Kernel, name: &str) -> Option<f64> {
    let (qkv, _) = roles(k).ok()?;
    let t = qkv.iter().find(|t| name.strip_prefix("scale_") == Some(t.name))?;
    if t.ty.scale.is_some() {
        return None;
    }
    let rms = plain_rms(t.ty.dtype)?;
    Some(2f64.powi(-(rms.log2().round() as i32)))
}

/// What attention's error analysis needs from the bound operands (all after dequantization).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionStats {
    /// `max |v|`: every output element is a convex combination of V entries, so errors in the
    /// weights move it by at most their total variation times this.
    pub max_v: f64,
    /// RMS of Q and K elements.
    pub rms_q: f64,
    pub rms_k: f64,
    /// Head dim `d` (the length of each Q·Kᵀ dot) and key length (the length of each P·V sum).
    pub head_dim: usize,
    pub seq_k: usize,
    /// The softmax scale on the logits (natural-log units).
    pub sm_scale: f64,
}

impl AttentionStats {
    /// The RMS size of a logit `sm_scale · q·k` for independent q, k of these RMS values.
    pub fn logit_rms(&self) -> f64 {
        self.sm_scale * (self.head_dim as f64).sqrt() * self.rms_q * self.rms_k
    }
}

pub(crate) fn stats(k: &Kernel, b: &Bindings) -> Result<AttentionStats, OracleError> {
    let (qkv, _) = roles(k)?;
    let (vals, shapes) = operands(k, b, &qkv)?;
    let rms = |v: &[f64]| {
        let (s, n) = v
            .iter()
            .filter(|x| x.is_finite())
            .fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
        if n == 0 { 0.0 } else { (s / n as f64).sqrt() }
    };
    let d = shapes[0].2;
    Ok(AttentionStats {
        max_v: vals[2]
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0, |m, x| m.max(x.abs())),
        rms_q: rms(&vals[0]),
        rms_k: rms(&vals[1]),
        head_dim: d,
        seq_k: shapes[1].1,
        sm_scale: scalar(k, b, "sm_scale").unwrap_or(1.0 / (d as f64).sqrt()),
    })
}
