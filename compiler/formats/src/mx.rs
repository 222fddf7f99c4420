//! OCP MX v1.0 block quantization (§6.3): one E8M0 power-of-two scale shared by a block (32
//! elements in the MX formats) of FP4/FP6/FP8 elements.

use crate::codec::{decode, encode_f64};
use crate::minifloat::pow2;
use crate::{Format, FormatError};

/// Scale code of an all-zero block: 127 (2^0), a neutral scale, rather than code 0 (2^-127), so
/// that a zero block stays harmless if its scale is ever applied to something else (e.g. padding).
pub const MX_ZERO_BLOCK_SCALE: u8 = 127;

/// Element formats an MX block may hold (the OCP MX ones, plus gfx942's E4M3 fnuz).
pub fn is_mx_element(f: Format) -> bool {
    matches!(
        f,
        Format::F4E2M1
            | Format::F6E2M3
            | Format::F6E3M2
            | Format::F8E4M3
            | Format::F8E4M3Fnuz
            | Format::F8E5M2
    )
}

/// `floor(log2(a))` for a positive finite f32, exact (subnormals included).
pub(crate) fn floor_log2(a: f32) -> i32 {
    let bits = a.to_bits() & 0x7fff_ffff;
    let e = (bits >> 23) as i32;
    if e == 0 {
        // subnormal: value = m * 2^-149
        let m = bits & 0x7f_ffff;
        -149 + (31 - m.leading_zeros() as i32)
    } else {
        e - 127
    }
}

/// Quantize one block: shared exponent `X = floor(log2(amax)) - emax(elem)` clamped to
/// [-127, 127], scale code `X + 127`, element `i` = `encode(elem, v_i / 2^X)` (saturating).
///
/// - All-zero block (or empty): scale [`MX_ZERO_BLOCK_SCALE`], elements encode ±0.
/// - A block holding NaN or ±inf: scale 0xFF (NaN) and all element codes 0 — per OCP a NaN
///   scale makes the whole block NaN, and an infinite amax has no finite shared exponent
///   (the microxcaling reference likewise maps an overflowing shared exponent to NaN).
///
/// Panics if `elem` is not an MX element format ([`is_mx_element`]); use
/// [`try_mx_quantize_block`] when the format comes from data.
pub fn mx_quantize_block(elem: Format, values: &[f32]) -> (u8, Vec<u8>) {
    match try_mx_quantize_block(elem, values) {
        Ok(r) => r,
        Err(e) => panic!("mx_quantize_block: {e}"),
    }
}

pub fn try_mx_quantize_block(elem: Format, values: &[f32]) -> Result<(u8, Vec<u8>), FormatError> {
    if !is_mx_element(elem) {
        return Err(FormatError::NotAnElementFormat {
            format: elem,
            recipe: "MX",
        });
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Ok((0xFF, vec![0; values.len()]));
    }
    let amax = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let x = if amax == 0.0 {
        MX_ZERO_BLOCK_SCALE as i32 - 127
    } else {
        floor_log2(amax) - elem.emax()
    };
    let x = x.clamp(-127, 127);
    let inv = pow2(-x);
    // v * 2^-X in f64 is exact, so the element code sees exactly one rounding.
    let codes = values
        .iter()
        .map(|&v| encode_f64(elem, v as f64 * inv) as u8)
        .collect();
    Ok(((x + 127) as u8, codes))
}

/// The values a quantized block stands for: `decode(elem, c) * 2^(scale - 127)` (NaN if the scale
/// is 0xFF). Computed in f64 and rounded once to f32 (it is exact unless it overflows f32).
pub fn mx_dequantize_block(elem: Format, scale: u8, codes: &[u8]) -> Vec<f32> {
    let s = decode(Format::E8M0, scale as u16) as f64;
    codes
        .iter()
        .map(|&c| (decode(elem, c as u16) as f64 * s) as f32)
        .collect()
}
