//! f64 GEMM epilogues: `C = act(acc · row_scale[m] · col_scale[n] + bias) + residual`, applied
//! to a GEMM result `acc[M, N]` (already times its per-tensor scalars, [`crate::gemm_scaled`]).
//! The activations are written from their definitions (GELU with an f64 `erf`), not from the
//! forms a kernel computes, so a kernel's approximation shows up as error.

/// An elementwise activation of a GEMM epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x Φ(x) = x (1 + erf(x / sqrt 2)) / 2`.
    Gelu,
    /// `x (1 + tanh(sqrt(2 / π) (x + 0.044715 x³))) / 2`.
    GeluTanh,
    /// `x σ(x)`.
    Silu,
    /// `σ(x) = 1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    /// By the name `@reference(gemm, activation = NAME)` uses.
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "gelu_tanh" => Activation::GeluTanh,
            "silu" => Activation::Silu,
            "sigmoid" => Activation::Sigmoid,
            _ => return None,
        })
    }

    pub fn apply(self, x: f64) -> f64 {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Activation::GeluTanh => {
                let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                0.5 * x * (1.0 + u.tanh())
            }
            Activation::Silu => x * sigmoid(x),
            Activation::Sigmoid => sigmoid(x),
        }
    }
}

/// `erf(x)` to about 1e-15: the series `erf(x) = 2/sqrt(π) e^(-x²) Σ 2^n x^(2n+1) / (1·3···(2n+1))`
/// has only positive terms (no cancellation, unlike the Taylor series at large |x|); past |x| = 6
/// `1 - erf(x) < 3e-17`, below an f64 ulp of 1.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a >= 6.0 {
        return x.signum();
    }
    let (mut term, mut sum, mut n) = (a, a, 0u32);
    // Terms grow while 2x² > 2n + 3, then shrink geometrically; stop when they no longer count.
    while term > sum * 1e-17 || f64::from(n) < a * a {
        n += 1;
        term *= 2.0 * a * a / f64::from(2 * n + 1);
        sum += term;
    }
    let r = 2.0 / std::f64::consts::PI.sqrt() * (-a * a).exp() * sum;
    r.min(1.0).copysign(x)
}

/// A bias of the epilogue: one value per column, or one per element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bias<'a> {
    /// `[N]`, broadcast over rows.
    Cols(&'a [f64]),
    /// `[M, N]`.
    Full(&'a [f64]),
}

/// The optional parts of an epilogue; every slice is row-major and sized for the `[M, N]` output
/// it is applied to (callers check shapes: a wrong length panics on indexing here).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Epilogue<'a> {
    /// `[M]`, multiplies row m.
    pub row_scale: Option<&'a [f64]>,
    /// `[N]`, multiplies column n.
    pub col_scale: Option<&'a [f64]>,
    pub bias: Option<Bias<'a>>,
    pub activation: Option<Activation>,
    /// `[M, N]`, added last.
    pub residual: Option<&'a [f64]>,
}

/// `c[m, n] = act(c[m, n] · row_scale[m] · col_scale[n] + bias) + residual[m, n]`, in place.
pub fn apply_epilogue(c: &mut [f64], (m, n): (usize, usize), e: &Epilogue) {
    for i in 0..m {
        for j in 0..n {
            let at = i * n + j;
            let mut v = c[at];
            if let Some(r) = e.row_scale {
                v *= r[i];
            }
            if let Some(s) = e.col_scale {
                v *= s[j];
            }
            match e.bias {
                Some(Bias::Cols(b)) => v += b[j],
                Some(Bias::Full(b)) => v += b[at],
                None => {}
            }
            if let Some(a) = e.activation {
                v = a.apply(v);
            }
            if let Some(r) = e.residual {
                v += r[at];
            }
            c[at] = v;
        }
    }
}
