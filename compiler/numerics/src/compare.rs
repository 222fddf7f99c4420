//! Comparing a kernel's output with a reference: error metrics ([`Metrics`]), per-output-dtype
//! tolerances ([`Tolerance`]) and the pass/fail [`Verdict`] with its reason.
//!
//! The element check is `|a - e| <= rtol * max(|e|, rms(e))`: relative for large elements, and
//! relative to the tensor's RMS for elements near zero, where a GEMM output is the result of
//! cancellation and its absolute error is set by the magnitude of the terms, not of the result.
//!
//! Non-finite values (docs/NUMERICS.md, "Non-finite outputs"): a NaN is never a validated result.
//! An output NaN fails, whatever the reference holds; a reference NaN fails too, whatever the
//! output holds (the inputs themselves produce NaN, e.g. a NaN scale, so nothing can be checked
//! there). An infinity passes only where the reference has the same signed infinity. Every path
//! that judges an output (the CLI's interp validate, the runner's GPU validate) goes through
//! [`compare`] and [`Tolerance::judge`], so the rule holds on every backend.

use crate::TensorBuf;
use crate::dtype_map::decode_buf;
use crate::error::{E_SHAPE, NumericsError};
use crate::poison::poisoned_mask;
use tessera_ir::DType;

/// Error metrics of one output. All sums are taken in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub n: usize,
    /// Max `|a - e|` over elements where both are finite.
    pub max_abs: f64,
    /// Max `|a - e| / max(|e|, rms_expected)` over elements where both are finite.
    pub max_rel: f64,
    /// `||a - e||_2 / ||e||_2` over finite pairs (0 when both are zero; inf when only e is zero).
    pub rel_l2: f64,
    /// Cosine similarity of a and e over finite pairs (1 when both are zero vectors).
    pub cosine: f64,
    /// Non-finite elements that fail: every element where either side is NaN (even both), and
    /// every infinity not matched by the same signed infinity on the other side. Poisoned elements
    /// are not counted here. See [`non_finite_agrees`].
    pub nan_inf_count: usize,
    /// Of [`Metrics::nan_inf_count`], the elements where the reference itself is NaN (the inputs
    /// produce NaN, so those elements cannot be validated).
    pub reference_nan_count: usize,
    /// Elements that still hold the poison pattern (never written by the kernel).
    pub poisoned_count: usize,
    /// RMS of the finite expected values.
    pub rms_expected: f64,
    /// The worst element: the first poisoned or non-finite mismatch, else the max `max_rel` one.
    pub worst_index: Option<usize>,
}

/// Compare `actual` with `expected` elementwise. `poisoned`, if given, marks elements still holding
/// the poison pattern (see [`crate::poison`]). Lengths must match (an `E0502` error otherwise).
pub fn compare(
    actual: &[f32],
    expected: &[f64],
    poisoned: Option<&[bool]>,
) -> Result<Metrics, NumericsError> {
    if actual.len() != expected.len() || poisoned.is_some_and(|p| p.len() != actual.len()) {
        return Err(NumericsError::new(
            E_SHAPE,
            format!(
                "cannot compare {} actual values with {} expected values{}",
                actual.len(),
                expected.len(),
                poisoned
                    .map(|p| format!(" and {} poison flags", p.len()))
                    .unwrap_or_default()
            ),
        ));
    }
    let is_poisoned = |i: usize| poisoned.is_some_and(|p| p[i]);
    let (mut sum_e2, mut n_fin) = (0.0f64, 0usize);
    for &e in expected.iter().filter(|e| e.is_finite()) {
        sum_e2 += e * e;
        n_fin += 1;
    }
    let rms = if n_fin > 0 {
        (sum_e2 / n_fin as f64).sqrt()
    } else {
        0.0
    };
    let mut m = Metrics {
        n: actual.len(),
        max_abs: 0.0,
        max_rel: 0.0,
        rel_l2: 0.0,
        cosine: 1.0,
        nan_inf_count: 0,
        reference_nan_count: 0,
        poisoned_count: 0,
        rms_expected: rms,
        worst_index: None,
    };
    let (mut d2, mut e2, mut a2, mut ae) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut first_fault: Option<usize> = None; // first poisoned or non-finite mismatch
    let mut worst_rel: Option<usize> = None;
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        if is_poisoned(i) {
            m.poisoned_count += 1;
            first_fault.get_or_insert(i);
            continue;
        }
        let a = a as f64;
        if !(a.is_finite() && e.is_finite()) {
            if !non_finite_agrees(a, e) {
                m.nan_inf_count += 1;
                m.reference_nan_count += usize::from(e.is_nan());
                first_fault.get_or_insert(i);
            }
            continue;
        }
        let d = (a - e).abs();
        let rel = if d == 0.0 { 0.0 } else { d / e.abs().max(rms) };
        m.max_abs = m.max_abs.max(d);
        if worst_rel.is_none() || rel > m.max_rel {
            m.max_rel = rel;
            worst_rel = Some(i);
        }
        d2 += d * d;
        e2 += e * e;
        a2 += a * a;
        ae += a * e;
    }
    m.worst_index = first_fault.or(worst_rel);
    m.rel_l2 = if e2 > 0.0 {
        (d2 / e2).sqrt()
    } else if d2 > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    m.cosine = if a2 > 0.0 && e2 > 0.0 {
        ae / (a2.sqrt() * e2.sqrt())
    } else if a2 == 0.0 && e2 == 0.0 {
        1.0
    } else {
        0.0
    };
    Ok(m)
}

/// Whether a non-finite pair of output `a` and reference `e` validates: only the same signed
/// infinity on both sides. A NaN on either side never does (NaN is not a checkable result: an
/// output NaN may hide any bug, and a reference NaN means the inputs produce NaN).
pub fn non_finite_agrees(a: f64, e: f64) -> bool {
    a.is_infinite() && a == e
}

/// [`compare`] a device-format output buffer (decoded exactly; poison found on its raw bytes).
pub fn compare_buf(actual: &TensorBuf, expected: &[f64]) -> Result<Metrics, NumericsError> {
    let a = decode_buf(actual)?;
    let p = poisoned_mask(actual)?;
    compare(&a, expected, Some(&p))
}

/// Unit roundoff `u` of storing a value in `d` (half an ulp, relative): the error of rounding the
/// exact result once to the output type. Ints are exact (0).
pub fn unit_roundoff(d: DType) -> f64 {
    let mbits: i32 = match d {
        DType::F32 => 23,
        DType::BF16 => 7,
        DType::F16 => 10,
        DType::F8E4M3 | DType::F8E4M3Fnuz | DType::UE4M3 | DType::F6E2M3 => 3,
        DType::F8E5M2 | DType::F6E3M2 => 2,
        DType::F4E2M1 => 1,
        // A power of two: rounding to the nearest one is off by up to a factor sqrt(2)-ish; 2^-1.
        DType::E8M0 => 0,
        DType::I1 | DType::I8 | DType::I32 => return 0.0,
    };
    2f64.powi(-(mbits + 1))
}

/// Acceptance thresholds for one output.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerance {
    /// Bound on [`Metrics::max_rel`].
    pub rtol: f64,
    /// Bound on [`Metrics::rel_l2`].
    pub max_rel_l2: f64,
    /// Lower bound on [`Metrics::cosine`].
    pub min_cosine: f64,
    /// An absolute elementwise bound, for outputs whose error analysis is absolute rather than
    /// relative to the result (attention: a convex combination of V rows errs relative to
    /// `max|v|`, not `|o|`). The elementwise check passes when [`Metrics::max_rel`] `<= rtol` or
    /// [`Metrics::max_abs`] `<= atol`; 0 (the default) leaves only the relative check.
    pub atol: f64,
}

/// Unit roundoff of an f32 accumulator.
pub const F32_ACCUM_EPS: f64 = 1.0 / (1u64 << 24) as f64;
/// Effective unit roundoff of Hopper's FP8 wgmma accumulator: it keeps about 14 significant bits
/// between promotions (DeepSeek-V3 report, §3.3.2), so FP8 GEMMs without periodic f32 promotion
/// drift far more than f32 accumulation would.
pub const HOPPER_FP8_ACCUM_EPS: f64 = 1.0 / (1u64 << 14) as f64;

impl Tolerance {
    /// Tolerance for an output of dtype `out` that sums `k` products in an f32 accumulator.
    ///
    /// - Output rounding: the reference is exact (f64) and the kernel rounds once, so a correct
    ///   element is within `u` of it; accumulation error can push it across a rounding boundary,
    ///   so allow one full ulp: `2u`.
    /// - Accumulation: f32 summation of `k` terms in any order has a random-walk error of about
    ///   `0.4 sqrt(k) eps` relative to the RMS of the result (sequential order; tree orders, as in
    ///   MMA units, do better); the largest of a million such elements sits near 5 sigma, i.e.
    ///   `2 sqrt(k) eps`. Allow `8 sqrt(k) eps`: still ~1.5e-5 at k = 1024 for f32, orders of
    ///   magnitude below what any indexing, scaling or layout bug produces.
    ///
    /// Per dtype that is, for k = 1024: f32 1.5e-5, bf16 7.8e-3 (2^-7), f16 1.0e-3 (2^-10),
    /// fp8 e4m3 0.125, e5m2 0.25: one ulp of the output type plus the accumulation term.
    pub fn for_output(out: DType, k: usize) -> Tolerance {
        Tolerance::with_accum(out, k, F32_ACCUM_EPS)
    }

    /// As [`Tolerance::for_output`], with the accumulator's unit roundoff `accum_eps` (e.g.
    /// [`HOPPER_FP8_ACCUM_EPS`]).
    ///
    /// Integer outputs (i1/i8/i32) accumulate exactly and must match exactly (all bounds 0).
    pub fn with_accum(out: DType, k: usize, accum_eps: f64) -> Tolerance {
        if !out.is_float() {
            return Tolerance {
                rtol: 0.0,
                max_rel_l2: 0.0,
                min_cosine: 0.0,
                atol: 0.0,
            };
        }
        let acc = 8.0 * (k.max(1) as f64).sqrt() * accum_eps;
        let rtol = 2.0 * unit_roundoff(out) + acc;
        // Whole-tensor errors average out: rel_l2 of correct output sits well below the worst
        // element; the elementwise bound is a safe ceiling that still catches systematic errors.
        let max_rel_l2 = rtol;
        Tolerance {
            rtol,
            max_rel_l2,
            min_cosine: 1.0 - 2.0 * rtol * rtol - 1e-12,
            atol: 0.0,
        }
    }

    /// Pass iff nothing is poisoned, no non-finite mismatch, and every bound holds.
    pub fn judge(&self, m: &Metrics) -> Verdict {
        let at = m
            .worst_index
            .map(|i| format!(" (first/worst at flat index {i})"))
            .unwrap_or_default();
        let fail = |reason: String| Verdict { pass: false, reason };
        if m.poisoned_count > 0 {
            return fail(format!(
                "{} of {} elements were never written (still poisoned){at}",
                m.poisoned_count, m.n
            ));
        }
        if m.nan_inf_count > 0 {
            let why = if m.reference_nan_count > 0 {
                format!(
                    "; the reference itself is NaN at {} of them (the inputs produce NaN, e.g. a NaN scale: NaN is never a validated result)",
                    m.reference_nan_count
                )
            } else {
                String::new()
            };
            return fail(format!(
                "{} of {} elements are NaN, or an infinity the reference does not have{why}{at}",
                m.nan_inf_count, m.n
            ));
        }
        // `max_abs` covers finite pairs only; non-finite mismatches were rejected above.
        if !le(m.max_rel, self.rtol) && !le(m.max_abs, self.atol) {
            let abs = if self.atol > 0.0 {
                format!(" and max abs error {:.3e} exceeds {:.3e}", m.max_abs, self.atol)
            } else {
                String::new()
            };
            return fail(format!(
                "max relative error {:.3e} exceeds {:.3e}{abs}{at}",
                m.max_rel, self.rtol
            ));
        }
        if !le(m.rel_l2, self.max_rel_l2) {
            return fail(format!(
                "relative L2 error {:.3e} exceeds {:.3e}",
                m.rel_l2, self.max_rel_l2
            ));
        }
        if !le(self.min_cosine, m.cosine) {
            return fail(format!(
                "cosine similarity {:.9} below {:.9}",
                m.cosine, self.min_cosine
            ));
        }
        Verdict {
            pass: true,
            reason: format!(
                "max_rel {:.3e} (rtol {:.3e}), max_abs {:.3e} (atol {:.3e}), rel_l2 {:.3e}, cosine {:.9} over {} elements",
                m.max_rel, self.rtol, m.max_abs, self.atol, m.rel_l2, m.cosine, m.n
            ),
        }
    }
}

/// `a <= b`, false when either is NaN (a NaN metric must never pass).
fn le(a: f64, b: f64) -> bool {
    a <= b
}

/// The outcome of a comparison, with a one-line reason either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub pass: bool,
    pub reason: String,
}
