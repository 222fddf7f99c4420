//! `@reference(moe_gated)`: grouped gated MoE up-projection with a weighted scatter-add.

use crate::roles::{TParam, arg, dequantized, single_out, tensors};
use crate::{E_BINDING, E_CONVENTION, OracleError, err};
use tessera_ir::{DType, Dim, Kernel};
use tessera_numerics::{ArgValue, Bindings, decode_buf_f64, encode_buf};
use tessera_reference::{Route, moe_gated};

struct Roles<'a> {
    x: TParam<'a>,
    gate: TParam<'a>,
    up: TParam<'a>,
    offs: TParam<'a>,
    ids: TParam<'a>,
    weights: TParam<'a>,
    out: TParam<'a>,
}

fn roles(k: &Kernel) -> Result<Roles<'_>, OracleError> {
    let (ins, outs) = tensors(k);
    let out = single_out(k, &outs)?;
    let rank = |t: &TParam, r: usize| t.ty.dims.len() == r;
    let floats: Vec<TParam> = ins.iter().copied().filter(|t| t.ty.dtype.is_float()).collect();
    let ints: Vec<TParam> = ins
        .iter()
        .copied()
        .filter(|t| t.ty.dtype == DType::I32 && rank(t, 1))
        .collect();
    let x = floats.iter().copied().find(|t| rank(t, 2));
    let w: Vec<TParam> = floats.iter().copied().filter(|t| rank(t, 3)).collect();
    let weights = floats
        .iter()
        .copied()
        .find(|t| rank(t, 1) && t.ty.dtype == DType::F32);
    match (x, w.as_slice(), ints.as_slice(), weights) {
        (Some(x), [gate, up], [offs, ids], Some(weights)) => Ok(Roles {
            x,
            gate: *gate,
            up: *up,
            offs: *offs,
            ids: *ids,
            weights,
            out,
        }),
        _ => Err(err(
            E_CONVENTION,
            format!(
                "moe_gated `{}` needs x [T, K], gate and up [E, I, K], i32 offsets [E + 1] and token ids [P], f32 weights [P]",
                k.name
            ),
        )),
    }
}

fn ints(b: &Bindings, t: &TParam) -> Result<Vec<i64>, OracleError> {
    let a = arg(b, t)?;
    Ok(decode_buf_f64(&a.data)
        .map_err(|e| err(E_BINDING, e.to_string()))?
        .into_iter()
        .map(|v| v as i64)
        .collect())
}

pub(crate) fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    // moe_gated takes no options: any is refused here rather than ignored.
    crate::options::options(k)?;
    let r = roles(k)?;
    let xa = arg(b, &r.x)?;
    let (t, h) = (xa.data.shape[0], xa.data.shape[1]);
    let x = dequantized(&r.x, xa, None, Some(1))?;
    let ga = arg(b, &r.gate)?;
    let (e, inter) = (ga.data.shape[0], ga.data.shape[1]);
    let g = dequantized(&r.gate, ga, None, Some(2))?;
    let u = dequantized(&r.up, arg(b, &r.up)?, None, Some(2))?;
    let offs = ints(b, &r.offs)?;
    let ids = ints(b, &r.ids)?;
    let w = decode_buf_f64(&arg(b, &r.weights)?.data).map_err(|e| err(E_BINDING, e.to_string()))?;
    let mut routes = Vec::new();
    for ex in 0..e {
        let (lo, hi) = (
            offs.get(ex).copied().unwrap_or(0),
            offs.get(ex + 1).copied().unwrap_or(0),
        );
        for p in lo.max(0)..hi.min(ids.len() as i64) {
            let tok = ids[p as usize];
            if tok >= 0 {
                routes.push(Route {
                    token: tok as usize,
                    expert: ex,
                    weight: w[p as usize],
                });
            }
        }
    }
    Ok(vec![(
        r.out.index,
        moe_gated(&x, (t, h), &g, &u, (e, inter), &routes),
    )])
}

/// Whether the kernel's parameters fit the moe_gated roles (types only).
pub(crate) fn fits(k: &Kernel) -> Result<(), OracleError> {
    crate::options::options(k)?;
    roles(k).map(|_| ())
}

/// One line for validate's report.
pub(crate) fn summary(k: &Kernel) -> Result<String, OracleError> {
    let r = roles(k)?;
    Ok(format!(
        "moe_gated: out `{}` += w * silu(x gate^T) * (x up^T) with x `{}`, gate `{}`, up `{}`, offsets `{}`, token ids `{}`, weights `{}`",
        r.out.name, r.x.name, r.gate.name, r.up.name, r.offs.name, r.ids.name, r.weights.name
    ))
}

/// SplitMix64: a tiny deterministic generator for routing (no dependency on the numerics RNG).
fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Valid routing: P assignments split into E sorted groups (some may be empty), token ids in
/// `[0, T)`, weights in (0, 1].
pub(crate) fn prepare(k: &Kernel, b: &mut Bindings, seed: u64) -> Result<(), OracleError> {
    let r = roles(k)?;
    let t = arg(b, &r.x)?.data.shape[0];
    let e = arg(b, &r.gate)?.data.shape[0];
    let p = arg(b, &r.ids)?.data.shape[0];
    let n_offs = arg(b, &r.offs)?.data.shape[0];
    if n_offs != e + 1 {
        return Err(err(
            E_BINDING,
            format!("offsets have {n_offs} entries for {e} experts (E + 1 expected)"),
        ));
    }
    let mut s = seed ^ 0x6D6F_6500;
    let mut cuts: Vec<i64> = (0..e.saturating_sub(1))
        .map(|_| (splitmix(&mut s) % (p as u64 + 1)) as i64)
        .collect();
    cuts.sort_unstable();
    let mut offs = vec![0i64];
    offs.extend(cuts);
    offs.push(p as i64);
    let ids: Vec<f32> = (0..p)
        .map(|_| (splitmix(&mut s) % t.max(1) as u64) as f32)
        .collect();
    let w: Vec<f32> = (0..p)
        .map(|_| ((splitmix(&mut s) >> 40) as f32 + 1.0) / (1u64 << 24) as f32)
        .collect();
    let offs: Vec<f32> = offs.into_iter().map(|v| v as f32).collect();
    let set = |b: &mut Bindings, t: &TParam, d: DType, v: &[f32]| -> Result<(), OracleError> {
        let buf = encode_buf(d, &[v.len()], None, v).map_err(|e| err(E_BINDING, e.to_string()))?;
        match b.args.get_mut(t.index) {
            Some(ArgValue::Tensor(a)) => {
                a.data = buf;
                Ok(())
            }
            _ => Err(err(E_BINDING, format!("`{}` is not bound to a tensor", t.name))),
        }
    };
    set(b, &r.offs, DType::I32, &offs)?;
    set(b, &r.ids, DType::I32, &ids)?;
    set(b, &r.weights, DType::F32, &w)
}

/// `E1 = E + 1` for the offsets' symbolic length, when absent.
pub(crate) fn derive_dims(k: &Kernel, syms: &mut Vec<(String, i64)>) {
    let Ok(r) = roles(k) else { return };
    let (Some(Dim::Sym(e)), Some(Dim::Sym(e1))) = (r.gate.ty.dims.first(), r.offs.ty.dims.first()) else {
        return;
    };
    if syms.iter().any(|(n, _)| n == e1) {
        return;
    }
    if let Some(v) = syms.iter().find(|(n, _)| n == e).map(|(_, v)| *v) {
        // Saturating: `v` may be a user-given `--dim`; an absurd E1 is then refused as a shape error.
        syms.push((e1.clone(), v.saturating_add(1)));
    }
}

pub(crate) fn accum_len(k: &Kernel, b: &Bindings) -> usize {
    roles(k)
        .ok()
        .and_then(|r| arg(b, &r.x).ok().map(|a| a.data.shape[1]))
        .unwrap_or(1)
}
