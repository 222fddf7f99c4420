//! f64 GEMM: `C[M, N] = A[M, K] · B`, where B is stored `[N, K]` (weights, K contiguous) or
//! `[K, N]`, with optional per-tensor, per-row and per-column scales of the result.

/// How the B operand is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BLayout {
    /// `B[N, K]` (C = A · Bᵀ), the layout of every weight-style example.
    NK,
    /// `B[K, N]` (C = A · B).
    KN,
}

/// `C[m, n] = Σ_k A[m, k] · B(k, n)` in f64, k ascending.
pub fn gemm(a: &[f64], b: &[f64], m: usize, n: usize, k: usize, b_layout: BLayout) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for kk in 0..k {
                let bv = match b_layout {
                    BLayout::NK => b[j * k + kk],
                    BLayout::KN => b[kk * n + j],
                };
                s += a[i * k + kk] * bv;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// [`gemm`] times `tensor_scale`, `row_scale[m]` and `col_scale[n]` when given.
pub fn gemm_scaled(
    a: &[f64],
    b: &[f64],
    (m, n, k): (usize, usize, usize),
    b_layout: BLayout,
    tensor_scale: f64,
    row_scale: Option<&[f64]>,
    col_scale: Option<&[f64]>,
) -> Vec<f64> {
    let mut c = gemm(a, b, m, n, k, b_layout);
    for i in 0..m {
        for j in 0..n {
            let r = row_scale.map_or(1.0, |s| s[i]);
            let cs = col_scale.map_or(1.0, |s| s[j]);
            c[i * n + j] *= tensor_scale * r * cs;
        }
    }
    c
}
