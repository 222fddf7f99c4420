//! `@reference(attention)`: O = softmax(Q Kᵀ · sm_scale [causal mask]) V with per-tensor
//! `scale_<name>` factors.
//!
//! - Roles: the first three non-`out` tensors are Q, K, V; the one `out` tensor is O. All four have
//!   one rank: `[S, D]`, `[H, S, D]` or `[B, H, S, D]` (batch and heads flattened into heads).
//! - Grouped-query attention: K and V may have fewer heads than Q (`Hq` a multiple of `Hkv`); query
//!   head `h` reads K/V head `h / (Hq / Hkv)`. Any other mismatch of the bound shapes is E0806.
//! - Causal: `causal = true | false | PARAM` (a scalar parameter, nonzero = causal) when declared;
//!   otherwise the convention of a scalar parameter named `causal`; otherwise non-causal. How it was
//!   decided is part of [`crate::comparison`]'s summary, and a failure against a non-causal
//!   reference nobody declared gets a hint ([`crate::failure_hint`]).
//! - `sm_scale = PARAM` when declared, else a scalar parameter named `sm_scale`, else `1/sqrt(D)`.

use crate::options::{Options, options, scalar_value};
use crate::roles::{TParam, arg, dequantized, scalar, single_out, tensors};
use crate::{E_CONVENTION, E_SHAPE, OracleError, err};
use tessera_ir::Kernel;
use tessera_ir::reference::Value;
use tessera_numerics::Bindings;
use tessera_numerics::inputs::plain_rms;
use tessera_reference::{AttnShape, attention_grouped};

fn roles(k: &Kernel) -> Result<([TParam<'_>; 3], TParam<'_>), OracleError> {
    let (ins, outs) = tensors(k);
    let o = single_out(k, &outs)?;
    if ins.len() < 3 {
        return Err(err(
            E_CONVENTION,
            format!("attention `{}` needs Q, K and V tensors", k.name),
        ));
    }
    let qkv = [ins[0], ins[1], ins[2]];
    let rank = qkv[0].ty.dims.len();
    if !(2..=4).contains(&rank) || qkv.iter().chain([&o]).any(|t| t.ty.dims.len() != rank) {
        let ranks: Vec<String> = qkv
            .iter()
            .chain([&o])
            .map(|t| format!("`{}` {}", t.name, t.ty.dims.len()))
            .collect();
        return Err(err(
            E_CONVENTION,
            format!(
                "attention `{}`: Q, K, V and O must all be rank 2 ([S, D]), 3 ([H, S, D]) or 4 ([B, H, S, D]); ranks are {}",
                k.name,
                ranks.join(", ")
            ),
        ));
    }
    Ok((qkv, o))
}

/// The problem's geometry from the bound shapes of Q, K, V and O, batch folded into heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    heads: usize,
    kv_heads: usize,
    seq_q: usize,
    seq_k: usize,
    d: usize,
    dv: usize,
}

/// `(batch, heads, seq, dim)` of a rank-2/3/4 shape.
fn bhsd(shape: &[usize]) -> (usize, usize, usize, usize) {
    match shape {
        [b, h, s, d] => (*b, *h, *s, *d),
        [h, s, d] => (1, *h, *s, *d),
        [s, d] => (1, 1, *s, *d),
        // Ranks are checked by `roles`; an empty problem for anything else.
        _ => (0, 0, 0, 0),
    }
}

fn geometry(names: [&str; 4], shapes: [&[usize]; 4]) -> Result<Geometry, OracleError> {
    let [q, k, v, o] = shapes.map(bhsd);
    let shape_err = |what: String| {
        err(
            E_SHAPE,
            format!(
                "attention: {what} (Q `{}` {:?}, K `{}` {:?}, V `{}` {:?}, O `{}` {:?})",
                names[0], shapes[0], names[1], shapes[1], names[2], shapes[2], names[3], shapes[3]
            ),
        )
    };
    if k.0 != q.0 || v.0 != q.0 || o.0 != q.0 {
        return Err(shape_err("the batch dims differ".into()));
    }
    if v.1 != k.1 {
        return Err(shape_err("K and V have different head counts".into()));
    }
    if k.1 == 0 && q.1 != 0 || k.1 != 0 && q.1 % k.1 != 0 {
        return Err(shape_err(format!(
            "Q has {} heads and K/V {}: grouped-query attention needs Q's head count to be a multiple of K/V's",
            q.1, k.1
        )));
    }
    if k.3 != q.3 {
        return Err(shape_err(format!(
            "Q's head dim {} differs from K's {}",
            q.3, k.3
        )));
    }
    if v.2 != k.2 {
        return Err(shape_err(format!("K has {} keys and V {}", k.2, v.2)));
    }
    if (o.1, o.2, o.3) != (q.1, q.2, v.3) {
        return Err(shape_err(format!(
            "O must be [.., {}, {}, {}] (Q's heads and queries, V's head dim)",
            q.1, q.2, v.3
        )));
    }
    Ok(Geometry {
        heads: q.0 * q.1,
        kv_heads: q.0 * k.1,
        seq_q: q.2,
        seq_k: k.2,
        d: q.3,
        dv: v.3,
    })
}

/// The dequantized Q, K, V (`scale_<name>` applied) and the problem's geometry.
fn operands(
    k: &Kernel,
    b: &Bindings,
    [q, kt, v]: &[TParam<'_>; 3],
    o: &TParam<'_>,
) -> Result<([Vec<f64>; 3], Geometry), OracleError> {
    let mut vals: [Vec<f64>; 3] = Default::default();
    for (i, t) in [q, kt, v].into_iter().enumerate() {
        let a = arg(b, t)?;
        let s = scalar(k, b, &format!("scale_{}", t.name)).unwrap_or(1.0);
        vals[i] = dequantized(t, a, None, Some(a.data.shape.len().saturating_sub(1)))?
            .into_iter()
            .map(|x| x * s)
            .collect();
    }
    let shapes = [
        arg(b, q)?.data.shape.as_slice(),
        arg(b, kt)?.data.shape.as_slice(),
        arg(b, v)?.data.shape.as_slice(),
        arg(b, o)?.data.shape.as_slice(),
    ];
    let g = geometry([q.name, kt.name, v.name, o.name], shapes)?;
    Ok((vals, g))
}

/// Whether the reference masks keys after the query, and how that was decided.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Causal {
    pub on: bool,
    /// Words for the report: "declared `causal = true`", ...
    pub how: String,
    /// Nobody said: no option and no `causal` parameter (the case a failure hint is for).
    pub defaulted: bool,
}

/// The scalar parameter that decides causality, if any: the one `causal = PARAM` names, else (no
/// option) the conventional `causal`.
pub(crate) fn causal_param<'a>(opts: &Options<'a>) -> Option<&'a str> {
    match opts.get("causal").map(Value::parse) {
        Some(Value::Name(n)) => Some(n),
        Some(_) => None,
        None => Some("causal"),
    }
}

/// The scalar parameter holding the softmax scale: the one `sm_scale = PARAM` names, else the
/// conventional `sm_scale`.
pub(crate) fn sm_scale_param<'a>(opts: &Options<'a>) -> &'a str {
    opts.get("sm_scale").unwrap_or("sm_scale")
}

pub(crate) fn causal(k: &Kernel, b: &Bindings, opts: &Options) -> Result<Causal, OracleError> {
    let declared = opts.get("causal");
    Ok(match declared.map(Value::parse) {
        Some(Value::Bool(on)) => Causal {
            on,
            how: format!("declared `causal = {on}`"),
            defaulted: false,
        },
        Some(Value::Name(p)) => {
            let v = scalar_value(k, b, "causal", p)?;
            Causal {
                on: v != 0.0,
                how: format!("declared `causal = {p}`, and `{p}` = {v} at run time (nonzero = causal)"),
                defaulted: false,
            }
        }
        // `check_option` admits nothing else for `causal`.
        Some(Value::Int(_)) => unreachable_option("causal")?,
        None if has_scalar(k, "causal") => {
            let v = scalar_value(k, b, "causal", "causal")?;
            Causal {
                on: v != 0.0,
                how: format!(
                    "the scalar parameter `causal` = {v} (the convention without a `causal` option)"
                ),
                defaulted: false,
            }
        }
        None => Causal {
            on: false,
            how: "no `causal` option and no `causal` parameter".into(),
            defaulted: true,
        },
    })
}

fn has_scalar(k: &Kernel, name: &str) -> bool {
    k.params
        .iter()
        .any(|p| p.name == name && matches!(p.kind, tessera_ir::ParamKind::Scalar(_)))
}

/// An option value the family table refuses reached a family module: an internal inconsistency,
/// reported as the option error it is rather than a panic.
fn unreachable_option<T>(key: &str) -> Result<T, OracleError> {
    Err(err(
        crate::E_OPTION,
        format!("option `{key}` has a value of the wrong kind"),
    ))
}

/// The softmax scale and how it was decided.
fn sm_scale(k: &Kernel, b: &Bindings, opts: &Options, d: usize) -> Result<(f64, String), OracleError> {
    if let Some(p) = opts.get("sm_scale") {
        let v = scalar_value(k, b, "sm_scale", p)?;
        return Ok((v, format!("declared `sm_scale = {p}` = {v}")));
    }
    Ok(match scalar(k, b, "sm_scale") {
        Some(v) => (v, format!("the scalar parameter `sm_scale` = {v}")),
        None => {
            let v = 1.0 / (d as f64).sqrt();
            (v, format!("{v:.6} (default 1/sqrt({d}))"))
        }
    })
}

pub(crate) fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    expected_with(k, b, None)
}

/// The expected output; `force_causal` overrides the decided mask (for [`crate::failure_hint`]).
pub(crate) fn expected_with(
    k: &Kernel,
    b: &Bindings,
    force_causal: Option<bool>,
) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    let opts = options(k)?;
    let (qkv, o) = roles(k)?;
    let (vals, g) = operands(k, b, &qkv, &o)?;
    let (sm, _) = sm_scale(k, b, &opts, g.d)?;
    let on = match force_causal {
        Some(c) => c,
        None => causal(k, b, &opts)?.on,
    };
    let shape = AttnShape {
        heads: g.heads,
        seq_q: g.seq_q,
        seq_k: g.seq_k,
        d: g.d,
        dv: g.dv,
    };
    Ok(vec![(
        o.index,
        attention_grouped(&vals[0], &vals[1], &vals[2], shape, g.kv_heads, sm, on),
    )])
}

/// One line for validate's report: the roles, the head grouping, the mask and the scale, each with
/// how it was decided.
pub(crate) fn summary(k: &Kernel, b: &Bindings) -> Result<(String, Causal), OracleError> {
    let opts = options(k)?;
    let ([q, kt, v], o) = roles(k)?;
    let (_, g) = operands(k, b, &[q, kt, v], &o)?;
    let c = causal(k, b, &opts)?;
    let (_, how_sm) = sm_scale(k, b, &opts, g.d)?;
    let heads = if g.kv_heads == g.heads {
        format!("{} heads", g.heads)
    } else {
        format!(
            "{} query heads sharing {} K/V heads (grouped, {} per group)",
            g.heads,
            g.kv_heads,
            g.heads / g.kv_heads.max(1)
        )
    };
    Ok((
        format!(
            "attention: Q `{}`, K `{}`, V `{}` -> O `{}`, {heads}, {} queries x {} keys; {} ({}); sm_scale {how_sm}",
            q.name,
            kt.name,
            v.name,
            o.name,
            g.seq_q,
            g.seq_k,
            if c.on { "causal" } else { "non-causal" },
            c.how
        ),
        c,
    ))
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
            let s = bhsd(&arg(b, &kt).ok()?.data.shape).2;
            Some(d.max(s))
        })
        .unwrap_or(1)
}

/// Whether the kernel's parameters fit the attention roles (types only).
pub(crate) fn fits(k: &Kernel) -> Result<(), OracleError> {
    options(k)?;
    roles(k).map(|_| ())
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
    let opts = options(k)?;
    let (qkv, o) = roles(k)?;
    let (vals, g) = operands(k, b, &qkv, &o)?;
    let rms = |v: &[f64]| {
        let (s, n) = v
            .iter()
            .filter(|x| x.is_finite())
            .fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
        if n == 0 { 0.0 } else { (s / n as f64).sqrt() }
    };
    Ok(AttentionStats {
        max_v: vals[2]
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0, |m, x| m.max(x.abs())),
        rms_q: rms(&vals[0]),
        rms_k: rms(&vals[1]),
        head_dim: g.d,
        seq_k: g.seq_k,
        sm_scale: sm_scale(k, b, &opts, g.d)?.0,
    })
}
