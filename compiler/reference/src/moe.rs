//! f64 gated MoE block (no down projection): for every (token, expert, weight) route,
//! `out[token] += weight * silu(x[token] · Wg[e]ᵀ) * (x[token] · Wu[e]ᵀ)`, where
//! `silu(g) = g / (1 + exp(-g))`. Routes are applied in the order given.

/// One token→expert assignment with its router weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route {
    pub token: usize,
    pub expert: usize,
    pub weight: f64,
}

/// `x[T, H]`, `w_gate[E, I, H]`, `w_up[E, I, H]` → `out[T, I]`. Routes with an out-of-range token
/// or expert are ignored (they select nothing).
pub fn moe_gated(
    x: &[f64],
    (t, h): (usize, usize),
    w_gate: &[f64],
    w_up: &[f64],
    (e, inter): (usize, usize),
    routes: &[Route],
) -> Vec<f64> {
    let mut out = vec![0.0; t * inter];
    for r in routes {
        if r.token >= t || r.expert >= e {
            continue;
        }
        let xr = &x[r.token * h..(r.token + 1) * h];
        for i in 0..inter {
            let wg = &w_gate[(r.expert * inter + i) * h..(r.expert * inter + i + 1) * h];
            let wu = &w_up[(r.expert * inter + i) * h..(r.expert * inter + i + 1) * h];
            let g: f64 = xr.iter().zip(wg).map(|(a, b)| a * b).sum();
            let u: f64 = xr.iter().zip(wu).map(|(a, b)| a * b).sum();
            out[r.token * inter + i] += r.weight * (g / (1.0 + (-g).exp())) * u;
        }
    }
    out
}
