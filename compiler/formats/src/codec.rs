//! `decode`/`encode` for every [`Format`]: dispatch to the narrow-float engine, the E8M0 power-of-two
//! scale, or `half` for bf16/f16; plus slice helpers.

use crate::Format;
use crate::minifloat::{self, Spec, Specials};

fn spec(f: Format) -> Option<Spec> {
    let s = |ebits, mbits, bias, signed, specials, max_mag| Spec {
        ebits,
        mbits,
        bias,
        signed,
        specials,
        max_mag,
    };
    Some(match f {
        Format::F4E2M1 => s(2, 1, 1, true, Specials::None, 0x7),
        Format::F6E2M3 => s(2, 3, 1, true, Specials::None, 0x1F),
        Format::F6E3M2 => s(3, 2, 3, true, Specials::None, 0x1F),
        Format::F8E4M3 => s(4, 3, 7, true, Specials::NanAllOnes, 0x7E),
        Format::F8E4M3Fnuz => s(4, 3, 8, true, Specials::NanNegZero, 0x7F),
        Format::F8E5M2 => s(5, 2, 15, true, Specials::Ieee, 0x7B),
        Format::UE4M3 => s(4, 3, 7, false, Specials::NanAllOnes, 0x7E),
        Format::E8M0 | Format::BF16 | Format::F16 => return None,
    })
}

/// The exact value of `code`. Only the low [`Format::bits`] bits are used (so an FP4 nibble may be
/// passed with garbage above it). NaN codes decode to NaN, E5M2/bf16/f16 inf codes to ±inf.
/// UE4M3 codes with bit 7 set are invalid (the format is unsigned) and decode to NaN, so that a
/// buffer written as *signed* E4M3 can never pass as a valid scale.
pub fn decode(f: Format, code: u16) -> f32 {
    let code = if f.bits() < 16 {
        code & ((1 << f.bits()) - 1)
    } else {
        code
    };
    match f {
        Format::BF16 => half::bf16::from_bits(code).to_f32(),
        Format::F16 => half::f16::from_bits(code).to_f32(),
        Format::E8M0 => decode_e8m0(code as u8),
        Format::UE4M3 if code & 0x80 != 0 => f32::NAN,
        _ => match spec(f) {
            Some(s) => minifloat::decode(&s, code),
            None => f32::NAN, // unreachable: every other format has a spec
        },
    }
}

fn decode_e8m0(b: u8) -> f32 {
    match b {
        0xFF => f32::NAN,
        // 2^-127 is an f32 subnormal: mantissa bit 22.
        0 => f32::from_bits(1 << 22),
        b => f32::from_bits((b as u32) << 23),
    }
}

/// Round-to-nearest-even conversion of `x` to `f`.
///
/// - FP4/FP6/FP8/UE4M3 saturate like `cvt.rn.satfinite`: |x| beyond max (including ±inf) gives
///   ±max; NaN gives [`Format::nan_code`] (for FP4/FP6, which have no NaN, that is +max).
///   F8E4M3Fnuz has no -0: negative values that round to zero give 0x00. UE4M3 is unsigned:
///   negative values give 0x00 (their nearest representable value).
/// - E8M0 rounds to the nearest power of two in the *linear* domain's binade midpoint sense used by
///   ml_dtypes: a significand >= 1.5 rounds up (ties up); values below 2^-127 give 0x00, values
///   above 2^127 (and +inf) saturate to 0xFE; zero, negatives and NaN give 0xFF (NaN: a zero or
///   negative scale has no meaning).
/// - bf16/f16 are IEEE conversions (via `half`): overflow gives ±inf, as `cvt.rn.bf16.f32` does on
///   the GPU, so kernel outputs and the host reference agree.
pub fn encode(f: Format, x: f32) -> u16 {
    encode_f64(f, x as f64)
}

/// [`encode`] of an f64 with a single rounding for every format of 8 bits or fewer (the quantizers
/// divide by a block scale in f64 and encode the quotient directly, avoiding a double rounding
/// through f32). bf16/f16 round the f64 to f32 first, which is exact only for f32-exact inputs.
pub fn encode_f64(f: Format, x: f64) -> u16 {
    match f {
        Format::BF16 => half::bf16::from_f32(x as f32).to_bits(),
        Format::F16 => half::f16::from_f32(x as f32).to_bits(),
        Format::E8M0 => encode_e8m0(x) as u16,
        _ => match spec(f) {
            Some(s) => minifloat::encode(&s, x, f.nan_code()),
            None => f.nan_code(),
        },
    }
}

fn encode_e8m0(x: f64) -> u8 {
    if x.is_nan() || x <= 0.0 {
        return 0xFF;
    }
    if x.is_infinite() {
        return 0xFE;
    }
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    // Significand >= 1.5 <=> the top stored mantissa bit is set.
    let up = (bits >> 51) & 1 == 1;
    let e = e + up as i32;
    (e + 127).clamp(0, 254) as u8
}

/// Decode every code of `codes` (one code per element, FP4 unpacked).
pub fn decode_slice(f: Format, codes: &[u16]) -> Vec<f32> {
    codes.iter().map(|&c| decode(f, c)).collect()
}

/// Decode byte codes (every format of 8 bits or fewer; FP4 must be unpacked first).
pub fn decode_u8_slice(f: Format, codes: &[u8]) -> Vec<f32> {
    codes.iter().map(|&c| decode(f, c as u16)).collect()
}

/// Encode every value to a 16-bit code.
pub fn encode_f32_slice(f: Format, values: &[f32]) -> Vec<u16> {
    values.iter().map(|&v| encode(f, v)).collect()
}

/// Encode to byte codes (formats of 8 bits or fewer; FP4 gives one unpacked nibble per byte).
/// For bf16/f16 only the low byte would survive, so those formats return `None`.
pub fn encode_f32_slice_u8(f: Format, values: &[f32]) -> Option<Vec<u8>> {
    (f.bits() <= 8).then(|| values.iter().map(|&v| encode(f, v) as u8).collect())
}

/// Round every value through `f` (encode then decode): what a value becomes when stored in `f`.
pub fn round_trip(f: Format, x: f32) -> f32 {
    decode(f, encode(f, x))
}
