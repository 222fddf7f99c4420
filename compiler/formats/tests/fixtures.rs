//! Exhaustive checks against the ml_dtypes tables in `fixtures/` (see gen_fixtures.py): every code
//! decodes to the oracle's value, every recorded input encodes to the oracle's code, every midpoint
//! between adjacent values rounds to even, and millions of random inputs encode to the value a
//! brute-force nearest search over the (verified) decode table finds.

mod common;

use common::{Rng, decode_table, encode_table};
use tessera_formats::{Format, decode, encode};

fn same_value(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

#[test]
fn every_code_decodes_like_the_oracle() {
    for f in Format::ALL {
        let table = decode_table(f);
        for (code, &want) in table.iter().enumerate() {
            let got = decode(f, code as u16);
            assert!(
                same_value(got, want),
                "{f} code {code:#x}: decoded {got:e}, oracle {want:e}"
            );
        }
    }
}

#[test]
fn recorded_inputs_encode_like_the_oracle() {
    for f in Format::ALL {
        let cases = encode_table(f);
        assert!(cases.len() > 10_000, "{f}: only {} cases", cases.len());
        let mut bad = Vec::new();
        for &(x, want) in &cases {
            let got = encode(f, x);
            // 16-bit NaN payloads are not part of the contract: any NaN code matches a NaN code.
            let ok = got == want || (f.bits() == 16 && decode(f, want).is_nan() && decode(f, got).is_nan());
            if !ok {
                bad.push(format!(
                    "{x:e} ({:#010x}): got {got:#x}, oracle {want:#x}",
                    x.to_bits()
                ));
            }
        }
        assert!(
            bad.is_empty(),
            "{f}: {} mismatches, first: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}

/// Non-negative finite values of `f` and their codes, sorted by value (+0 only, once).
fn magnitudes(f: Format) -> Vec<(f64, u16)> {
    let table = decode_table(f);
    let mut v: Vec<(f64, u16)> = table
        .iter()
        .enumerate()
        .filter(|(_, x)| x.is_finite() && x.is_sign_positive())
        .map(|(c, x)| (*x as f64, c as u16))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

/// The brute-force oracle: nearest magnitude by search over the decode table, ties to the even
/// code (E8M0, whose codes are exponents, ties up like ml_dtypes), saturating at max.
fn nearest_code(f: Format, mags: &[(f64, u16)], x: f32) -> u16 {
    if x.is_nan() {
        return f.nan_code();
    }
    if x.is_sign_negative() && !f.is_signed() {
        return if f == Format::E8M0 { 0xFF } else { 0 };
    }
    if f == Format::E8M0 && x == 0.0 {
        return 0xFF;
    }
    let a = (x as f64).abs();
    let i = mags.partition_point(|m| m.0 < a);
    let mag = if i == mags.len() {
        mags[mags.len() - 1].1
    } else if i == 0 || mags[i].0 == a {
        mags[i].1
    } else {
        let (lo, hi) = (mags[i - 1], mags[i]);
        let (dl, dh) = (a - lo.0, hi.0 - a);
        // Ties go to the even code (E8M0: up); otherwise the nearer side wins.
        let tie_up = f == Format::E8M0 || hi.1 % 2 == 0;
        if dl < dh || (dl == dh && !tie_up) {
            lo.1
        } else {
            hi.1
        }
    };
    let sign_bit = 1u16 << (f.bits() - 1);
    match f {
        _ if !x.is_sign_negative() || !f.is_signed() => mag,
        Format::F8E4M3Fnuz if mag == 0 => 0,
        _ => mag | sign_bit,
    }
}

#[test]
fn every_midpoint_rounds_to_even_and_its_neighbours_to_the_nearer_side() {
    for f in Format::ALL {
        let mags = magnitudes(f);
        for w in mags.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let mid = ((lo.0 + hi.0) / 2.0) as f32;
            assert_eq!(mid as f64, (lo.0 + hi.0) / 2.0, "{f}: midpoint not exact in f32");
            let tie = if f == Format::E8M0 || hi.1 % 2 == 0 {
                hi.1
            } else {
                lo.1
            };
            assert_eq!(
                encode(f, mid),
                tie,
                "{f}: midpoint {mid:e} of {:e} and {:e}",
                lo.0,
                hi.0
            );
            assert_eq!(encode(f, mid.next_up()), hi.1, "{f}: just above midpoint {mid:e}");
            assert_eq!(
                encode(f, mid.next_down()),
                lo.1,
                "{f}: just below midpoint {mid:e}"
            );
            if f.is_signed() {
                let neg = |c: u16| {
                    if f == Format::F8E4M3Fnuz && c == 0 {
                        0
                    } else {
                        c | 1 << (f.bits() - 1)
                    }
                };
                assert_eq!(encode(f, -mid), neg(tie), "{f}: midpoint -{mid:e}");
            }
        }
    }
}

#[test]
fn millions_of_random_inputs_encode_to_the_nearest_table_value() {
    let mut rng = Rng(0x07E5_5E7A);
    for f in Format::ALL {
        let mags = magnitudes(f);
        let max = f.max_finite();
        // 16-bit formats overflow to inf (IEEE); the property below is about finite rounding, so
        // their inputs stay within +-max (overflow is covered by the oracle tables).
        let limit = if f.bits() == 16 { max } else { f32::INFINITY };
        let lo = (mags[1].0 / 16.0).ln();
        let hi = (max as f64 * 4.0).min(3e38).ln();
        let n = 1_000_000;
        for i in 0..n {
            let x = match i % 3 {
                // any f32 at all (NaN, inf, subnormal, huge)
                0 => f32::from_bits(rng.next_u64() as u32),
                // log-uniform through the format's range
                _ => {
                    let m = (lo + (hi - lo) * rng.unit()).exp() as f32;
                    if rng.next_u64() & 1 == 1 { -m } else { m }
                }
            };
            if x.abs() > limit {
                continue;
            }
            let got = encode(f, x);
            if f.bits() == 16 && x.is_nan() {
                assert!(
                    decode(f, got).is_nan(),
                    "{f}: encode(NaN {:#010x}) = {got:#x}",
                    x.to_bits()
                );
                continue;
            }
            let want = nearest_code(f, &mags, x);
            assert_eq!(got, want, "{f}: encode({x:e} = {:#010x})", x.to_bits());
        }
    }
}

#[test]
fn format_facts_agree_with_the_tables() {
    for f in Format::ALL {
        let table = decode_table(f);
        let max = table
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f32::MIN, f32::max);
        assert_eq!(f.max_finite(), max, "{f} max_finite");
        assert_eq!(decode(f, f.max_code()), max, "{f} max_code");
        assert_eq!(f.has_nan(), table.iter().any(|v| v.is_nan()), "{f} has_nan");
        assert_eq!(f.has_inf(), table.iter().any(|v| v.is_infinite()), "{f} has_inf");
        assert_eq!(f.is_signed(), table.iter().any(|v| *v < 0.0), "{f} is_signed");
        assert_eq!(2f32.powi(f.emax()), 2f32.powf(max.log2().floor()), "{f} emax");
        if f.has_nan() {
            assert!(decode(f, f.nan_code()).is_nan(), "{f} nan_code");
        } else {
            assert_eq!(f.nan_code(), f.max_code(), "{f}: NaN encodes to +max");
        }
        assert_eq!(Format::from_name(f.name()), Some(f));
    }
}
