//! NVFP4 two-level quantization: the recipe's global scale, known blocks, scale rounding and
//! saturation, degenerate blocks, and round-trip error on random data.

mod common;

use common::Rng;
use tessera_formats::{
    Format, NVFP4_BLOCK, decode, encode, nvfp4_dequantize_block, nvfp4_global_scale, nvfp4_quantize_block,
};

#[test]
fn global_scale_follows_the_recipe() {
    assert_eq!(nvfp4_global_scale(&[2688.0, -1.0]), 1.0);
    assert_eq!(nvfp4_global_scale(&[-5376.0, 3.0]), 2.0);
    assert_eq!(nvfp4_global_scale(&[0.0; 8]), 1.0);
    assert_eq!(nvfp4_global_scale(&[]), 1.0);
    // Non-finite values do not set the tensor scale.
    assert_eq!(nvfp4_global_scale(&[f32::NAN, f32::INFINITY, 2688.0]), 1.0);
    // Tiny tensors keep a positive normal scale.
    assert_eq!(nvfp4_global_scale(&[f32::from_bits(1)]), f32::MIN_POSITIVE);
}

#[test]
fn known_block_with_unit_global() {
    // amax 6, global 1: scale = encode(ue4m3, 1.0) = 0x38; elements are exact FP4 values.
    let v = [6.0, -3.0, 0.5, 1.5, 0.0, -0.0, 4.0, 2.0];
    let (s, c) = nvfp4_quantize_block(&v, 1.0);
    assert_eq!(s, 0x38);
    assert_eq!(c, vec![0x7, 0xD, 0x1, 0x3, 0x0, 0x8, 0x6, 0x4]);
    assert_eq!(nvfp4_dequantize_block(s, &c, 1.0), v.to_vec());
}

#[test]
fn scale_is_rounded_to_ue4m3_and_elements_divided_by_the_decoded_scale() {
    // amax 1.8, global 1: 1.8 / 6 = 0.3 -> ue4m3 0.3125 (1.25 * 2^-2, code 0x2A).
    let (s, c) = nvfp4_quantize_block(&[1.8, 0.9, -0.3], 1.0);
    assert_eq!(s, 0x2A);
    assert_eq!(decode(Format::UE4M3, s as u16), 0.3125);
    // 1.8 / 0.3125 = 5.76 -> 6; 0.9 / 0.3125 = 2.88 -> 3; -0.3 / 0.3125 = -0.96 -> -1.
    assert_eq!(c, vec![0x7, 0x5, 0xA]);
    // With a global scale of 0.5 the ue4m3 scale doubles: 1.8 / 6 / 0.5 = 0.6 -> 0.625 (0x32).
    let (s2, c2) = nvfp4_quantize_block(&[1.8, 0.9, -0.3], 0.5);
    assert_eq!(s2, 0x32);
    assert_eq!(c2, c);
}

#[test]
fn block_scale_saturates_at_448() {
    // amax / 6 / global = 1000 > 448: scale saturates, elements saturate at 6.
    let (s, c) = nvfp4_quantize_block(&[6000.0, 100.0], 1.0);
    assert_eq!(s, 0x7E);
    assert_eq!(c[0], 0x7);
    assert_eq!(c[1], encode(Format::F4E2M1, 100.0 / 448.0) as u8);
}

#[test]
fn degenerate_blocks() {
    // All zeros: scale code 0, signed zero elements.
    assert_eq!(nvfp4_quantize_block(&[0.0, -0.0], 1.0), (0, vec![0x0, 0x8]));
    // Too small for the smallest ue4m3 scale (2^-9 / 2): scale 0, elements zero.
    let (s, c) = nvfp4_quantize_block(&[1e-4, -1e-4], 1.0);
    assert_eq!((s, c), (0, vec![0x0, 0x8]));
    // NaN / inf in the block, or an unusable global scale: NaN scale, zero codes.
    for (v, g) in [
        (f32::NAN, 1.0),
        (f32::INFINITY, 1.0),
        (1.0, 0.0),
        (1.0, f32::NAN),
        (1.0, -1.0),
    ] {
        let (s, c) = nvfp4_quantize_block(&[v, 2.0], g);
        assert_eq!((s, c), (0x7F, vec![0, 0]), "value {v}, global {g}");
        assert!(nvfp4_dequantize_block(s, &[0, 0], 1.0).iter().all(|x| x.is_nan()));
    }
}

#[test]
fn round_trip_error_on_random_tensors() {
    let mut rng = Rng(99);
    for _ in 0..200 {
        let mag = 2f64.powf(rng.unit() * 30.0 - 15.0);
        let v: Vec<f32> = (0..NVFP4_BLOCK * 64)
            .map(|_| (rng.normalish() * mag) as f32)
            .collect();
        let g = nvfp4_global_scale(&v);
        let (mut num, mut den) = (0f64, 0f64);
        for blk in v.chunks(NVFP4_BLOCK) {
            let (s, c) = nvfp4_quantize_block(blk, g);
            let back = nvfp4_dequantize_block(s, &c, g);
            let amax = blk.iter().fold(0f64, |m, x| m.max((*x as f64).abs()));
            let step = decode(Format::UE4M3, s as u16) as f64 * g as f64;
            for (a, b) in blk.iter().zip(&back) {
                let err = (*a as f64 - *b as f64).abs();
                // Half the widest FP4 step (2, between 4 and 6) times the block scale, plus the
                // clipping of values up to amax / step <= 6 * (1 + 2^-4).
                assert!(
                    err <= step * 1.0 + 1e-12 * amax,
                    "err {err} step {step} amax {amax}"
                );
                num += err * err;
                den += (*a as f64).powi(2);
            }
        }
        let rel = (num / den).sqrt();
        // FP4 with 16-blocks on Gaussian data: roughly 10% relative L2 error.
        assert!(rel < 0.16 && rel > 0.03, "relative L2 error {rel}");
    }
}
