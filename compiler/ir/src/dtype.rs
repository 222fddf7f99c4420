//! Element types of tiles and tensors, and the facts about them every stage needs (bit width,
//! whether a value is a float, an integer, a block-scale format).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every element type Tessera knows. Narrow float formats are stored as *codes* (u8 per element,
/// FP4 packed two per byte in memory) and decoded by `tessera-formats`; the IR only names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DType {
    /// 1-bit boolean, produced by comparisons; never stored to memory.
    I1,
    I8,
    I32,
    BF16,
    F16,
    F32,
    /// OCP FP8 E4M3 ("fn": no inf, NaN = S.1111.111), max 448.
    F8E4M3,
    /// AMD MI300 (gfx942) FP8 E4M3 with bias 8, NaN = 0x80 only, max 240. A distinct type.
    F8E4M3Fnuz,
    /// OCP FP8 E5M2 (has inf and NaN), max 57344.
    F8E5M2,
    /// OCP FP6 E2M3, max 7.5.
    F6E2M3,
    /// OCP FP6 E3M2, max 28.
    F6E3M2,
    /// OCP FP4 E2M1, max 6.
    F4E2M1,
    /// MX block scale: unsigned power of two 2^(b-127); 0xFF = NaN; 0x00 = 2^-127.
    E8M0,
    /// NVFP4 block scale: unsigned E4M3 (sign bit must be 0).
    UE4M3,
}

impl DType {
    /// All dtypes, in declaration order (used by exhaustive tests and the language reference).
    pub const ALL: [DType; 14] = [
        DType::I1,
        DType::I8,
        DType::I32,
        DType::BF16,
        DType::F16,
        DType::F32,
        DType::F8E4M3,
        DType::F8E4M3Fnuz,
        DType::F8E5M2,
        DType::F6E2M3,
        DType::F6E3M2,
        DType::F4E2M1,
        DType::E8M0,
        DType::UE4M3,
    ];

    /// The spelling used in `.tsr` sources and in the IR text form.
    pub fn name(self) -> &'static str {
        match self {
            DType::I1 => "i1",
            DType::I8 => "i8",
            DType::I32 => "i32",
            DType::BF16 => "bf16",
            DType::F16 => "f16",
            DType::F32 => "f32",
            DType::F8E4M3 => "f8e4m3",
            DType::F8E4M3Fnuz => "f8e4m3fnuz",
            DType::F8E5M2 => "f8e5m2",
            DType::F6E2M3 => "f6e2m3",
            DType::F6E3M2 => "f6e3m2",
            DType::F4E2M1 => "f4e2m1",
            DType::E8M0 => "e8m0",
            DType::UE4M3 => "ue4m3",
        }
    }

    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.name() == s)
    }

    /// Logical bits per element (FP4 = 4, FP6 = 6 even though memory holds one code per byte for FP6).
    pub fn bits(self) -> u32 {
        match self {
            DType::I1 => 1,
            DType::I8 | DType::F8E4M3 | DType::F8E4M3Fnuz | DType::F8E5M2 | DType::E8M0 | DType::UE4M3 => 8,
            DType::F6E2M3 | DType::F6E3M2 => 6,
            DType::F4E2M1 => 4,
            DType::BF16 | DType::F16 => 16,
            DType::I32 | DType::F32 => 32,
        }
    }

    /// Bytes one element occupies in a global-memory buffer. FP4 is packed two per byte (see
    /// [`crate::TensorType::packed_axis`]); FP6 is stored one code per byte (unpacked) in buffers.
    /// Returns `None` for FP4, whose size is half a byte; callers use [`DType::storage_bytes`].
    pub fn byte_size(self) -> Option<usize> {
        match self {
            DType::F4E2M1 => None,
            DType::I1 => Some(1),
            DType::F6E2M3 | DType::F6E3M2 => Some(1),
            d => Some((d.bits() / 8) as usize),
        }
    }

    /// Bytes needed to store `n` elements in memory, packing FP4 two per byte (rounded up).
    pub fn storage_bytes(self, n: usize) -> usize {
        match self.byte_size() {
            Some(b) => b * n,
            None => n.div_ceil(2),
        }
    }

    pub fn is_float(self) -> bool {
        !matches!(self, DType::I1 | DType::I8 | DType::I32)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I8 | DType::I32)
    }

    /// Narrow formats held as codes (decoded through `tessera-formats`).
    pub fn is_narrow_float(self) -> bool {
        matches!(
            self,
            DType::F8E4M3
                | DType::F8E4M3Fnuz
                | DType::F8E5M2
                | DType::F6E2M3
                | DType::F6E3M2
                | DType::F4E2M1
                | DType::E8M0
                | DType::UE4M3
        )
    }

    /// Types that can be a block-scale factor.
    pub fn is_scale_format(self) -> bool {
        matches!(self, DType::E8M0 | DType::UE4M3 | DType::F32)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
