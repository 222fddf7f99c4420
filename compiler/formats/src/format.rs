//! The `Format` enum: every element and scale encoding Tessera stores as codes, with the static
//! facts (bit width, range, special values) that encode/decode and the quantizers need.

use std::fmt;

/// An element or block-scale encoding. Codes are held in the low [`Format::bits`] bits of a `u16`
/// (one `u8` per element in buffers, except FP4 which is packed two per byte, see [`crate::pack`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// OCP FP4 E2M1: s1 e2 m1, bias 1, max 6, no inf/NaN.
    F4E2M1,
    /// OCP FP6 E2M3: s1 e2 m3, bias 1, max 7.5, no inf/NaN.
    F6E2M3,
    /// OCP FP6 E3M2: s1 e3 m2, bias 3, max 28, no inf/NaN.
    F6E3M2,
    /// OCP FP8 E4M3 ("fn"): bias 7, max 448, NaN = S.1111.111, no inf.
    F8E4M3,
    /// AMD gfx942 FP8 E4M3 "fnuz": bias 8, max 240, NaN = 0x80 only, no negative zero.
    F8E4M3Fnuz,
    /// OCP FP8 E5M2: bias 15, max 57344, IEEE-style inf and NaN.
    F8E5M2,
    /// MX block scale: unsigned power of two 2^(b-127); 0xFF = NaN; 0x00 = 2^-127 (not zero).
    E8M0,
    /// NVFP4 block scale: unsigned E4M3 (bias 7, max 448, 0x7F = NaN); bit 7 must be 0.
    UE4M3,
    /// bfloat16 (IEEE-style, 8-bit exponent).
    BF16,
    /// IEEE binary16.
    F16,
}

impl Format {
    /// Every format, in declaration order (exhaustive tests iterate this).
    pub const ALL: [Format; 10] = [
        Format::F4E2M1,
        Format::F6E2M3,
        Format::F6E3M2,
        Format::F8E4M3,
        Format::F8E4M3Fnuz,
        Format::F8E5M2,
        Format::E8M0,
        Format::UE4M3,
        Format::BF16,
        Format::F16,
    ];

    /// Bits of one code (the FP6 formats are 6 even though buffers hold one code per byte).
    pub fn bits(self) -> u32 {
        match self {
            Format::F4E2M1 => 4,
            Format::F6E2M3 | Format::F6E3M2 => 6,
            Format::F8E4M3 | Format::F8E4M3Fnuz | Format::F8E5M2 | Format::E8M0 | Format::UE4M3 => 8,
            Format::BF16 | Format::F16 => 16,
        }
    }

    /// Number of distinct codes (`2^bits`).
    pub fn code_count(self) -> u32 {
        1 << self.bits()
    }

    /// Largest finite value.
    pub fn max_finite(self) -> f32 {
        match self {
            Format::F4E2M1 => 6.0,
            Format::F6E2M3 => 7.5,
            Format::F6E3M2 => 28.0,
            Format::F8E4M3 | Format::UE4M3 => 448.0,
            Format::F8E4M3Fnuz => 240.0,
            Format::F8E5M2 => 57344.0,
            // 2^127: the largest power of two an f32 holds.
            Format::E8M0 => f32::from_bits(254 << 23),
            Format::BF16 => half::bf16::MAX.to_f32(),
            Format::F16 => half::f16::MAX.to_f32(),
        }
    }

    /// The unbiased exponent of [`Format::max_finite`] (`emax_elem` of OCP MX v1.0 §6.3: 2 for
    /// e2m1, 8 for e4m3, 15 for e5m2).
    pub fn emax(self) -> i32 {
        match self {
            Format::F4E2M1 | Format::F6E2M3 => 2,
            Format::F6E3M2 => 4,
            Format::F8E4M3 | Format::UE4M3 => 8,
            Format::F8E4M3Fnuz => 7,
            Format::F8E5M2 | Format::F16 => 15,
            Format::E8M0 | Format::BF16 => 127,
        }
    }

    /// The spelling shared with the IR's dtype names (`f8e4m3`, `ue4m3`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::F4E2M1 => "f4e2m1",
            Format::F6E2M3 => "f6e2m3",
            Format::F6E3M2 => "f6e3m2",
            Format::F8E4M3 => "f8e4m3",
            Format::F8E4M3Fnuz => "f8e4m3fnuz",
            Format::F8E5M2 => "f8e5m2",
            Format::E8M0 => "e8m0",
            Format::UE4M3 => "ue4m3",
            Format::BF16 => "bf16",
            Format::F16 => "f16",
        }
    }

    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whether negative values are representable (false for the two scale formats).
    pub fn is_signed(self) -> bool {
        !matches!(self, Format::E8M0 | Format::UE4M3)
    }

    pub fn has_inf(self) -> bool {
        matches!(self, Format::F8E5M2 | Format::BF16 | Format::F16)
    }

    /// Whether some code decodes to NaN (false only for FP4/FP6).
    pub fn has_nan(self) -> bool {
        !matches!(self, Format::F4E2M1 | Format::F6E2M3 | Format::F6E3M2)
    }

    /// The code [`crate::encode`] produces for a NaN input. FP4/FP6 have no NaN: NaN encodes to
    /// `+max_finite` there (a loud value rather than a silent zero); see docs/NUMERICS.md.
    pub fn nan_code(self) -> u16 {
        match self {
            Format::F4E2M1 => 0x7,
            Format::F6E2M3 | Format::F6E3M2 => 0x1F,
            Format::F8E4M3 | Format::F8E5M2 | Format::UE4M3 => 0x7F,
            Format::F8E4M3Fnuz => 0x80,
            Format::E8M0 => 0xFF,
            Format::BF16 => 0x7FC0,
            Format::F16 => 0x7E00,
        }
    }

    /// Code of `+max_finite`.
    pub fn max_code(self) -> u16 {
        match self {
            Format::F4E2M1 => 0x7,
            Format::F6E2M3 | Format::F6E3M2 => 0x1F,
            Format::F8E4M3 | Format::UE4M3 => 0x7E,
            Format::F8E4M3Fnuz => 0x7F,
            Format::F8E5M2 => 0x7B,
            Format::E8M0 => 0xFE,
            Format::BF16 => 0x7F7F,
            Format::F16 => 0x7BFF,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
