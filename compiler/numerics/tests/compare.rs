//! Metrics, tolerances and verdicts: exact agreement passes, realistic rounding noise passes,
//! systematic errors, NaN/inf mismatches and never-written (poisoned) outputs fail.

use tessera_ir::DType;
use tessera_numerics::compare::{F32_ACCUM_EPS, HOPPER_FP8_ACCUM_EPS, unit_roundoff};
use tessera_numerics::{Tolerance, compare, compare_buf, encode_buf, poison_buf, poisoned_mask};

fn expected(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64) * 0.37).sin() * 10.0 + if i % 7 == 0 { 40.0 } else { 0.0 })
        .collect()
}

#[test]
fn metrics_of_a_known_difference() {
    let e = [3.0, 4.0, 0.0];
    let a = [3.0f32, 4.5, 0.0];
    let m = compare(&a, &e, None).expect("same length");
    assert_eq!(m.n, 3);
    assert_eq!(m.max_abs, 0.5);
    assert_eq!(m.rel_l2, 0.1); // 0.5 / 5
    assert_eq!(m.worst_index, Some(1));
    assert!((m.rms_expected - (25f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!((m.max_rel - 0.5 / 4.0).abs() < 1e-12);
    let cos = (9.0 + 18.0) / ((9.0f64 + 20.25).sqrt() * 5.0);
    assert!((m.cosine - cos).abs() < 1e-12);
}

#[test]
fn rounded_outputs_pass_their_own_tolerance_and_a_systematic_error_fails() {
    let e = expected(4096);
    for d in [DType::F32, DType::BF16, DType::F16, DType::F8E4M3, DType::F8E5M2] {
        let ef: Vec<f32> = e.iter().map(|&v| v as f32).collect();
        let buf = encode_buf(d, &[e.len()], None, &ef).expect("encode");
        let m = compare_buf(&buf, &e).expect("compare");
        let tol = Tolerance::for_output(d, 1024);
        let v = tol.judge(&m);
        assert!(v.pass, "{d}: {}", v.reason);
        // A 2% gain error (e.g. a scale applied twice-ish) is far beyond bf16/f16/f32 rounding.
        if matches!(d, DType::F32 | DType::BF16 | DType::F16) {
            let wrong: Vec<f32> = e.iter().map(|&v| (v * 1.02) as f32).collect();
            let m = compare(&wrong, &e, None).expect("compare");
            assert!(!tol.judge(&m).pass, "{d} accepted a 2% error");
        }
    }
}

#[test]
fn non_finite_mismatches_fail_and_only_matching_infinities_pass() {
    let tol = Tolerance::for_output(DType::F32, 1);
    // The same signed infinity on both sides validates.
    let e = [1.0, f64::INFINITY, f64::NEG_INFINITY, 2.0];
    let ok = compare(&[1.0, f32::INFINITY, f32::NEG_INFINITY, 2.0], &e, None).expect("len");
    assert_eq!(ok.nan_inf_count, 0);
    assert!(tol.judge(&ok).pass, "{}", tol.judge(&ok).reason);
    // Wrong sign, NaN for inf, a finite value for inf: each one fails.
    let bad = compare(&[1.0, f32::NEG_INFINITY, f32::NAN, 2.0], &e, None).expect("len");
    assert_eq!((bad.nan_inf_count, bad.reference_nan_count), (2, 0));
    assert_eq!(bad.worst_index, Some(1));
    let v = tol.judge(&bad);
    assert!(
        !v.pass && v.reason.contains("2 of 4 elements are NaN"),
        "{}",
        v.reason
    );
    let m = compare(&[1.0, 3.0e38, -3.0e38, 2.0], &e, None).expect("len");
    assert_eq!(m.nan_inf_count, 2);
    assert!(!tol.judge(&m).pass);
}

#[test]
fn a_nan_output_never_passes_whatever_the_reference_holds() {
    let tol = Tolerance::for_output(DType::F32, 1);
    for (a, e) in [
        (f32::NAN, 1.0),               // NaN where the reference is finite
        (f32::NAN, f64::INFINITY),     // NaN where the reference is +inf
        (f32::NAN, f64::NEG_INFINITY), // NaN where the reference is -inf
        (f32::NAN, f64::NAN),          // both NaN (F02: a NaN scale makes both NaN)
        (1.0, f64::NAN),               // the reference is NaN: cannot be validated
        (f32::INFINITY, f64::NAN),     // +inf where the reference is NaN
        (f32::INFINITY, 1.0),          // +inf where the reference is finite
        (f32::NEG_INFINITY, 1.0),      // -inf where the reference is finite
    ] {
        let m = compare(&[2.0, a], &[2.0, e], None).expect("len");
        assert_eq!(m.nan_inf_count, 1, "{a} vs {e}");
        assert_eq!(m.reference_nan_count, usize::from(e.is_nan()), "{a} vs {e}");
        let v = tol.judge(&m);
        assert!(!v.pass, "{a} vs {e} passed: {}", v.reason);
        assert_eq!(
            v.reason.contains("reference itself is NaN"),
            e.is_nan(),
            "{}",
            v.reason
        );
    }
    // F02: an all-NaN output against an all-NaN reference reported 'nan/inf 0' and PASS.
    let m = compare(&[f32::NAN; 16], &[f64::NAN; 16], None).expect("len");
    assert_eq!((m.nan_inf_count, m.reference_nan_count), (16, 16));
    assert!(!tol.judge(&m).pass);
}

#[test]
fn non_finite_rules_hold_on_device_format_buffers() {
    // The CLI's interp validate goes through compare_buf on the kernel's output buffer.
    for d in [DType::F32, DType::BF16, DType::F16] {
        let buf = encode_buf(d, &[3], None, &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]).expect("encode");
        let tol = Tolerance::for_output(d, 1);
        let same = compare_buf(&buf, &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]).expect("cmp");
        assert_eq!((same.nan_inf_count, same.poisoned_count), (1, 0), "{d}");
        assert!(!tol.judge(&same).pass, "{d}");
        let infs = encode_buf(d, &[2], None, &[f32::INFINITY, f32::NEG_INFINITY]).expect("encode");
        let ok = compare_buf(&infs, &[f64::INFINITY, f64::NEG_INFINITY]).expect("cmp");
        assert!(tol.judge(&ok).pass, "{d}: {}", tol.judge(&ok).reason);
        let swapped = compare_buf(&infs, &[f64::NEG_INFINITY, f64::INFINITY]).expect("cmp");
        assert!(!tol.judge(&swapped).pass, "{d}");
    }
}

#[test]
fn outputs_of_the_wrong_length_or_shape_are_errors_not_passes() {
    let e = compare(&[1.0, 2.0], &[1.0, 2.0, 3.0], None).expect_err("length");
    assert_eq!(e.code, "E0502");
    let buf = encode_buf(DType::F32, &[2], None, &[1.0, 2.0]).expect("encode");
    assert_eq!(
        compare_buf(&buf, &[1.0, 2.0, 3.0]).expect_err("len").code,
        "E0502"
    );
    // A buffer whose bytes do not match its shape is refused before any comparison.
    let mut short = buf.clone();
    short.shape = vec![3];
    assert!(compare_buf(&short, &[1.0, 2.0, 3.0]).is_err());
}

#[test]
fn never_written_outputs_are_found_by_their_poison_bytes() {
    for d in [
        DType::F32,
        DType::BF16,
        DType::F16,
        DType::F8E4M3,
        DType::F8E5M2,
        DType::UE4M3,
    ] {
        let mut buf = poison_buf(d, &[4], None);
        let written = encode_buf(d, &[4], None, &[1.0, 2.0, 3.0, 4.0]).expect("encode");
        let w = buf.bytes.len() / 4;
        buf.bytes[..2 * w].copy_from_slice(&written.bytes[..2 * w]); // kernel wrote elements 0 and 1
        assert_eq!(
            poisoned_mask(&buf).expect("mask"),
            vec![false, false, true, true],
            "{d}"
        );
        let m = compare_buf(&buf, &[1.0, 2.0, 3.0, 4.0]).expect("compare");
        assert_eq!(
            (m.poisoned_count, m.nan_inf_count, m.worst_index),
            (2, 0, Some(2)),
            "{d}"
        );
        let v = Tolerance::for_output(d, 1).judge(&m);
        assert!(!v.pass && v.reason.contains("never written"), "{d}: {}", v.reason);
    }
    // A NaN the kernel computed (canonical bits) is a NaN mismatch, not a poisoned element.
    let mut buf = poison_buf(DType::F32, &[1], None);
    buf.bytes = f32::NAN.to_le_bytes().to_vec();
    let m = compare_buf(&buf, &[1.0]).expect("compare");
    assert_eq!((m.poisoned_count, m.nan_inf_count), (0, 1));
    // FP4 poison fills every nibble, and is not detectable (no spare code) but fails as a value.
    let b = poison_buf(DType::F4E2M1, &[3], Some(0));
    assert_eq!(b.bytes, vec![0xFF, 0xFF]);
    let m = compare_buf(&b, &[1.0, 1.0, 1.0]).expect("compare");
    assert!(!Tolerance::for_output(DType::F4E2M1, 1).judge(&m).pass);
}

#[test]
fn tolerances_scale_with_output_rounding_and_accumulation() {
    assert_eq!(unit_roundoff(DType::BF16), 2f64.powi(-8));
    assert_eq!(unit_roundoff(DType::F8E4M3), 2f64.powi(-4));
    let t = Tolerance::for_output(DType::F32, 4096);
    assert!((t.rtol - (2.0 * 2f64.powi(-24) + 8.0 * 64.0 * F32_ACCUM_EPS)).abs() < 1e-18);
    assert!(Tolerance::for_output(DType::BF16, 1).rtol < Tolerance::for_output(DType::F8E4M3, 1).rtol);
    assert_eq!(Tolerance::for_output(DType::I32, 4096).rtol, 0.0);
    let off_by_one = compare(&[5.0, 7.0], &[5.0, 6.0], None).expect("len");
    assert!(!Tolerance::for_output(DType::I32, 4096).judge(&off_by_one).pass);
    assert!(
        Tolerance::for_output(DType::I32, 4096)
            .judge(&compare(&[5.0, 6.0], &[5.0, 6.0], None).expect("len"))
            .pass
    );
    assert!(Tolerance::for_output(DType::F32, 64).rtol < Tolerance::for_output(DType::F32, 65536).rtol);
    assert!(
        Tolerance::with_accum(DType::F32, 1024, HOPPER_FP8_ACCUM_EPS).rtol
            > 100.0 * Tolerance::for_output(DType::F32, 1024).rtol
    );
}

#[test]
fn length_mismatch_is_a_coded_error() {
    assert_eq!(compare(&[1.0], &[1.0, 2.0], None).expect_err("len").code, "E0502");
    assert_eq!(
        compare(&[1.0], &[1.0], Some(&[true, false]))
            .expect_err("len")
            .code,
        "E0502"
    );
}

/// An f32-accumulated GEMM (sequential k, the worst common order) against an exact f64 reference
/// passes the f32 tolerance at several K, and dropping a single K term fails it.
#[test]
fn f32_accumulation_fits_the_tolerance_and_a_dropped_term_does_not() {
    use tessera_numerics::{InputGen, decode_buf};
    for k in [64usize, 1024, 4096] {
        let (m, n) = (32usize, 32usize);
        let mut g = InputGen::new(k as u64);
        let a = decode_buf(&g.plain(DType::BF16, &[m, k], None).expect("a")).expect("a");
        let b = decode_buf(&g.plain(DType::BF16, &[k, n], None).expect("b")).expect("b");
        let (mut got, mut dropped, mut want) = (vec![0f32; m * n], vec![0f32; m * n], vec![0f64; m * n]);
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut e) = (0f32, 0f64);
                for kk in 0..k {
                    s += a[i * k + kk] * b[kk * n + j]; // bf16 x bf16 is exact in f32
                    e += a[i * k + kk] as f64 * b[kk * n + j] as f64;
                }
                got[i * n + j] = s;
                dropped[i * n + j] = s - a[i * k + k - 1] * b[(k - 1) * n + j];
                want[i * n + j] = e;
            }
        }
        let tol = Tolerance::for_output(DType::F32, k);
        let v = tol.judge(&compare(&got, &want, None).expect("len"));
        assert!(v.pass, "k={k}: {}", v.reason);
        let v = tol.judge(&compare(&dropped, &want, None).expect("len"));
        assert!(!v.pass, "k={k}: a dropped K term passed: {}", v.reason);
    }
}

/// An absolute bound passes elements whose relative error is large only because the expected
/// value is small; it never lets a NaN through.
#[test]
fn an_absolute_bound_widens_only_the_element_check() {
    let e = [1.0, -1.0, 0.01, 0.0];
    let a = [1.0f32, -1.0, 0.06, 0.0];
    let m = tessera_numerics::compare(&a, &e, None).expect("compare");
    let mut t = Tolerance::for_output(DType::BF16, 1);
    t.max_rel_l2 = 1.0;
    t.min_cosine = 0.0;
    assert!(!t.judge(&m).pass, "{}", t.judge(&m).reason);
    t.atol = 0.1;
    assert!(t.judge(&m).pass, "{}", t.judge(&m).reason);
    t.atol = 0.01;
    assert!(!t.judge(&m).pass);
    let nan = tessera_numerics::compare(&[f32::NAN, -1.0, 0.01, 0.0], &e, None).expect("compare");
    t.atol = f64::INFINITY;
    assert!(!t.judge(&nan).pass);
}
