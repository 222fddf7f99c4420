//! NVFP4 two-level quantization: FP4 E2M1 elements in blocks of 16, one UE4M3 scale per block,
//! and one f32 scale per tensor that brings the block scales into UE4M3's range.

use crate::Format;
use crate::codec::{decode, encode_f64};

/// The NVFP4 block length.
pub const NVFP4_BLOCK: usize = 16;

/// Per-tensor scale of the common recipe: `amax_tensor / (448 * 6)`, so that the largest block
/// scale lands at UE4M3's max (448) and the largest element at FP4's max (6).
///
/// Non-finite values are ignored (they poison their own block, see [`nvfp4_quantize_block`]).
/// An all-zero (or empty) tensor gets 1.0, and a result that would underflow f32's normal range
/// is raised to `f32::MIN_POSITIVE`, so the global scale is always a positive normal f32.
pub fn nvfp4_global_scale(values: &[f32]) -> f32 {
    let amax = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f32, |m, v| m.max(v.abs()));
    if amax == 0.0 {
        return 1.0;
    }
    ((amax as f64 / (448.0 * 6.0)) as f32).max(f32::MIN_POSITIVE)
}

/// Quantize one block (normally 16 values) against the tensor's `global` scale:
/// scale code = `encode(UE4M3, amax / 6 / global)` (RNE, saturating at 448), element code =
/// `encode(F4E2M1, v / (decode(scale) * global))`. Both quotients are taken in f64, so each code
/// sees one rounding only.
///
/// - A scale that rounds to zero (tiny block, or all zeros) gives element codes of ±0.
/// - A block holding NaN or ±inf, or a `global` that is not a positive finite number, gives the
///   NaN scale 0x7F and element codes 0 (the block is unusable, and says so).
pub fn nvfp4_quantize_block(values: &[f32], global: f32) -> (u8, Vec<u8>) {
    if !(global.is_finite() && global > 0.0) || values.iter().any(|v| !v.is_finite()) {
        return (Format::UE4M3.nan_code() as u8, vec![0; values.len()]);
    }
    let amax = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let g = global as f64;
    let scale = encode_f64(Format::UE4M3, amax as f64 / (6.0 * g)) as u8;
    let s = decode(Format::UE4M3, scale as u16) as f64 * g; // exact: 4 x 24 significant bits
    let codes = values
        .iter()
        .map(|&v| {
            // A zero scale (all-zero or tiny block) maps every element to a signed zero.
            let q = if s == 0.0 {
                0.0f64.copysign(v as f64)
            } else {
                v as f64 / s
            };
            encode_f64(Format::F4E2M1, q) as u8
        })
        .collect();
    (scale, codes)
}

/// The values a quantized block stands for: `decode(F4E2M1, c) * decode(UE4M3, scale) * global`,
/// in f64 rounded once to f32.
pub fn nvfp4_dequantize_block(scale: u8, codes: &[u8], global: f32) -> Vec<f32> {
    let s = decode(Format::UE4M3, scale as u16) as f64 * global as f64;
    codes
        .iter()
        .map(|&c| (decode(Format::F4E2M1, c as u16) as f64 * s) as f32)
        .collect()
}
