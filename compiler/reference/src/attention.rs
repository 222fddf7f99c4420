//! f64 attention forward: `O = softmax(Q Kᵀ · sm_scale [+ causal mask]) V`, softmax over full
//! rows (max-subtracted, exact in f64), per head; K/V heads may be shared by groups of query
//! heads (grouped-query attention).

/// Shapes of one attention problem; every tensor is row-major `[heads, seq, dim]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnShape {
    pub heads: usize,
    pub seq_q: usize,
    pub seq_k: usize,
    pub d: usize,
    pub dv: usize,
}

/// `q[h, sq, d]`, `k[h, sk, d]`, `v[h, sk, dv]` → `o[h, sq, dv]`. With `causal`, query i attends to
/// keys j <= i (top-left aligned: query 0 sees key 0); a fully masked row gives zeros.
pub fn attention(q: &[f64], k: &[f64], v: &[f64], s: AttnShape, sm_scale: f64, causal: bool) -> Vec<f64> {
    attention_grouped(q, k, v, s, s.heads, sm_scale, causal)
}

/// [`attention`] with `kv_heads` K/V heads shared by groups of `heads / kv_heads` query heads
/// (grouped-query attention; `kv_heads == heads` is plain multi-head attention): query head `h`
/// reads K/V head `h / (heads / kv_heads)`. `k` and `v` are `[kv_heads, sk, d|dv]`. Flattened
/// batches keep this mapping: with `[B * Hq]` query heads and `[B * Hkv]` K/V heads, query head
/// `b Hq + h` maps to `b Hkv + h / g`. `kv_heads` must divide `heads` (callers check).
pub fn attention_grouped(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    s: AttnShape,
    kv_heads: usize,
    sm_scale: f64,
    causal: bool,
) -> Vec<f64> {
    let AttnShape {
        heads,
        seq_q,
        seq_k,
        d,
        dv,
    } = s;
    let group = (heads / kv_heads.max(1)).max(1);
    let mut o = vec![0.0; heads * seq_q * dv];
    let mut scores = vec![0.0; seq_k];
    for hq in 0..heads {
        let h = hq / group;
        for i in 0..seq_q {
            let qi = &q[(hq * seq_q + i) * d..(hq * seq_q + i + 1) * d];
            let mut mx = f64::NEG_INFINITY;
            for (j, sc) in scores.iter_mut().enumerate() {
                *sc = if causal && j > i {
                    f64::NEG_INFINITY
                } else {
                    let kj = &k[(h * seq_k + j) * d..(h * seq_k + j + 1) * d];
                    qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f64>() * sm_scale
                };
                mx = mx.max(*sc);
            }
            if mx == f64::NEG_INFINITY {
                continue;
            }
            let den: f64 = scores.iter().map(|x| (x - mx).exp()).sum();
            let out = &mut o[(hq * seq_q + i) * dv..(hq * seq_q + i + 1) * dv];
            for (j, sc) in scores.iter().enumerate() {
                let p = (sc - mx).exp() / den;
                if p == 0.0 {
                    continue;
                }
                let vj = &v[(h * seq_k + j) * dv..(h * seq_k + j + 1) * dv];
                for (ov, vv) in out.iter_mut().zip(vj) {
                    *ov += p * vv;
                }
            }
        }
    }
    o
}
