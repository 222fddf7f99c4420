//! MX block quantization (OCP MX v1.0 §6.3) against the spec formula: known blocks, amax edge cases,
//! zero/NaN/inf blocks, exponent clamping, an independent f64 computation of the shared exponent,
//! and a round-trip error bound.

mod common;

use common::Rng;
use tessera_formats::{
    Format, MX_BLOCK, MX_ZERO_BLOCK_SCALE, decode, encode, mx_dequantize_block, mx_quantize_block,
    try_mx_quantize_block,
};

const ELEMS: [Format; 5] = [
    Format::F4E2M1,
    Format::F6E2M3,
    Format::F6E3M2,
    Format::F8E4M3,
    Format::F8E5M2,
];

#[test]
fn known_e4m3_block() {
    // amax 6: floor(log2 6) = 2, X = 2 - 8 = -6, scale code 121; elements are v * 64.
    let v = [1.0, -2.0, 6.0, 0.5, 0.0, -0.0, 3.25, 0.01];
    let (s, codes) = mx_quantize_block(Format::F8E4M3, &v);
    assert_eq!(s, 121);
    let want: Vec<u8> = v.iter().map(|x| encode(Format::F8E4M3, x * 64.0) as u8).collect();
    assert_eq!(codes, want);
    assert_eq!(codes[0], 0x68); // 64 = 2^6: exponent field 6 + 7 = 13, 13 << 3 = 0x68
    assert_eq!(codes[5], 0x80); // -0 keeps its sign
    let back = mx_dequantize_block(Format::F8E4M3, s, &codes);
    assert_eq!(&back[..7], &[1.0, -2.0, 6.0, 0.5, 0.0, -0.0, 3.25]);
}

#[test]
fn power_of_two_amax_maps_to_the_top_binade_and_just_below_saturates() {
    // fp4: amax 4 = 2^2 -> X = 0, 4 is exact.
    let (s, c) = mx_quantize_block(Format::F4E2M1, &[4.0, 1.0]);
    assert_eq!((s, c.clone()), (127, vec![0x6, 0x2]));
    // amax 7.9: floor(log2) = 2 -> X = 0, 7.9 saturates to 6 (the known MX clipping).
    let (s, c) = mx_quantize_block(Format::F4E2M1, &[7.9, -7.9]);
    assert_eq!((s, c), (127, vec![0x7, 0xF]));
    // amax 8: floor(log2) = 3 -> X = 1, 8 / 2 = 4.
    let (s, c) = mx_quantize_block(Format::F4E2M1, &[8.0]);
    assert_eq!((s, c), (128, vec![0x6]));
    // e4m3: amax 500 -> X = 0, 500 saturates to 448.
    let (s, c) = mx_quantize_block(Format::F8E4M3, &[500.0]);
    assert_eq!((s, c), (127, vec![0x7E]));
}

#[test]
fn zero_block_gets_the_neutral_scale() {
    for f in ELEMS {
        let (s, c) = mx_quantize_block(f, &[0.0; MX_BLOCK]);
        assert_eq!(s, MX_ZERO_BLOCK_SCALE);
        assert!(c.iter().all(|&x| decode(f, x as u16) == 0.0));
        assert_eq!(mx_quantize_block(f, &[]), (MX_ZERO_BLOCK_SCALE, vec![]));
    }
}

#[test]
fn nan_or_inf_in_a_block_gives_the_nan_scale() {
    for f in ELEMS {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut v = vec![1.0f32; MX_BLOCK];
            v[17] = bad;
            let (s, c) = mx_quantize_block(f, &v);
            assert_eq!(s, 0xFF, "{f} with {bad}");
            assert!(c.iter().all(|&x| x == 0));
            assert!(mx_dequantize_block(f, s, &c).iter().all(|x| x.is_nan()));
        }
    }
}

#[test]
fn shared_exponent_is_clamped_to_the_e8m0_range() {
    // amax 2^-140 -> X = -148, clamped to -127 (code 0); elements become tiny and flush to zero.
    let tiny = 2f32.powi(-140);
    let (s, c) = mx_quantize_block(Format::F8E4M3, &[tiny, -tiny]);
    assert_eq!(s, 0);
    assert_eq!(c, vec![0x00, 0x80]);
    // smallest f32 subnormal: floor(log2) = -149 (exact even for subnormals).
    let (s, _) = mx_quantize_block(Format::F4E2M1, &[f32::from_bits(1)]);
    assert_eq!(s, 0);
    // huge amax with e5m2: floor(log2(3e38)) = 127 -> X = 112, code 239.
    let (s, c) = mx_quantize_block(Format::F8E5M2, &[3.0e38]);
    assert_eq!(s, 239);
    // 3e38 / 2^112 = 57780 > 57344: the element saturates to e5m2 max.
    assert_eq!(c, vec![0x7B]);
}

#[test]
fn scale_matches_an_independent_f64_formula_on_random_blocks() {
    let mut rng = Rng(42);
    for f in ELEMS {
        for _ in 0..20_000 {
            let mag = 2f64.powf(rng.unit() * 200.0 - 100.0);
            let v: Vec<f32> = (0..MX_BLOCK).map(|_| (rng.normalish() * mag) as f32).collect();
            let amax = v.iter().fold(0f64, |m, x| m.max((*x as f64).abs()));
            let x = (amax.log2().floor() as i32 - f.emax()).clamp(-127, 127);
            let (s, codes) = mx_quantize_block(f, &v);
            assert_eq!(s as i32, x + 127, "{f} amax {amax:e}");
            for (vi, c) in v.iter().zip(&codes) {
                let scaled = (*vi as f64 / 2f64.powi(x)) as f32; // exact: power-of-two scaling in range
                assert_eq!(*c as u16, encode(f, scaled));
            }
        }
    }
}

#[test]
fn round_trip_error_is_within_half_an_element_ulp_or_the_clipping_bound() {
    let mut rng = Rng(7);
    for f in ELEMS {
        let mbits = match f {
            Format::F4E2M1 => 1,
            Format::F6E2M3 | Format::F8E4M3 => 3,
            _ => 2,
        };
        // Largest saturation error, relative to 2^floor(log2 amax): (2^(emax+1) - max) / 2^emax.
        let clip = (2f64.powi(f.emax() + 1) - f.max_finite() as f64) / 2f64.powi(f.emax());
        let rel_bound = clip.max(2f64.powi(-(mbits + 1)));
        let mut worst = 0f64;
        for _ in 0..5_000 {
            let mag = 2f64.powf(rng.unit() * 40.0 - 20.0);
            let v: Vec<f32> = (0..MX_BLOCK).map(|_| (rng.normalish() * mag) as f32).collect();
            let (s, codes) = mx_quantize_block(f, &v);
            let back = mx_dequantize_block(f, s, &codes);
            let amax = v.iter().fold(0f64, |m, x| m.max((*x as f64).abs()));
            let top = 2f64.powf(amax.log2().floor());
            for (a, b) in v.iter().zip(&back) {
                let err = (*a as f64 - *b as f64).abs() / top;
                worst = worst.max(err);
                assert!(err <= rel_bound, "{f}: |{a} - {b}| / {top} = {err} > {rel_bound}");
            }
        }
        assert!(
            worst > rel_bound / 4.0,
            "{f}: bound {rel_bound} never approached (worst {worst})"
        );
    }
}

#[test]
fn non_mx_element_formats_are_rejected() {
    for f in [Format::E8M0, Format::UE4M3, Format::BF16, Format::F16] {
        assert!(try_mx_quantize_block(f, &[1.0]).is_err(), "{f}");
    }
    assert!(try_mx_quantize_block(Format::F8E4M3Fnuz, &[1.0]).is_ok());
}
