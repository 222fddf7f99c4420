//! sm_120a / sm_121a (consumer Blackwell, DGX Spark): the warp-level block-scaled MMA
//! `mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.<a>.<b>.f32.ue8m0`
//! (MLIR `nvvm.mma.block_scale`) and its lane maps as [`Ix`] values, shared by the kernel
//! generator ([`crate::sm120_kernel`]) and the operand-layout model in the tests.
//!
//! Sources, PTX ISA 8.7+:
//! - §9.7.14.5.x "Matrix Fragments for mma.m16n8k32" (8-bit `.e4m3`/`.e5m2` types), with
//!   `groupID = lane >> 2`, `threadID_in_group = lane % 4`:
//!   A `a_i` (i = 0..15, four `.b32`): row `groupID` for `i < 4 || 8 <= i < 12`, else `groupID + 8`;
//!   column `threadID_in_group * 4 + (i & 3)`, `+ 16` for `i >= 8`.
//!   B `b_i` (i = 0..7, two `.b32`): row (K) `threadID_in_group * 4 + (i & 3)`, `+ 16` for `i >= 4`;
//!   column `groupID`.
//!   C/D `c_i` (four f32): row `groupID` (i < 2) or `groupID + 8`; column `threadID_in_group * 2 + (i & 1)`.
//! - §9.7.14.3 "Block Scaling for mma.sync": `scale_vec::1X` = one ue8m0 per row of A / column of
//!   B (K = 32 = one MX block); `{byte-id, thread-id}` select which byte of which threads' scale
//!   register is read. For thread-id 0: the scale of A row `m` is in lane `4*(m % 8) + m / 8`
//!   (the first two threads of each quad: `lane % 4 == 0` → row `lane/4`, `== 1` → row
//!   `lane/4 + 8`), the scale of B column `n` in lane `4*n`. Byte-id picks one of four bytes, so
//!   one register per lane carries the scales of four consecutive MMAs along K.

use std::ops::{Div, Rem};
use tessera_ir::DType;
use tessera_lowering_mlir::native_scaled::Ix;

pub const WARP: u32 = 32;
/// K of one `m16n8k32` MMA (= the MX block: one scale per row/column).
pub const MMA_K: u32 = 32;
/// MMAs along K that share one scale register (byte-id 0..3); also the 4 K-blocks of an
/// Nv128x4 atom row, so one aligned 32-bit load per lane per 128 K.
pub const BYTE_STEPS: u32 = 4;

/// Operand element types the MXF8F6F4 kind takes (fp6/fp4 in 8-bit containers are not used here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fp8Type {
    E4M3,
    E5M2,
}

impl Fp8Type {
    pub fn from_dtype(d: DType) -> Option<Fp8Type> {
        match d {
            DType::F8E4M3 => Some(Fp8Type::E4M3),
            DType::F8E5M2 => Some(Fp8Type::E5M2),
            _ => None,
        }
    }

    pub fn ptx(self) -> &'static str {
        match self {
            Fp8Type::E4M3 => "e4m3",
            Fp8Type::E5M2 => "e5m2",
        }
    }
}

/// Which block-scaled `mma.sync` the kernel issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sm120Kind {
    /// `m16n8k32 kind::mxf8f6f4 scale_vec::1X ue8m0`: MXFP8 (or plain FP8 with unit scales).
    Mxf8 { a: Fp8Type, b: Fp8Type },
    /// `m16n8k64 kind::mxf4nvf4 scale_vec::2X ue8m0`: MXFP4 x MXFP4 (packed e2m1, block 32).
    Mxf4,
    /// `m16n8k64 kind::mxf4nvf4 scale_vec::4X ue4m3`: NVFP4 x NVFP4 (packed e2m1, block 16).
    Nvf4,
}

/// One warp-level block-scaled MMA and its lane maps. FP4 uses `m16n8k64` whose fragments (PTX
/// ISA "Matrix Fragments for mma.m16n8k64", `.e2m1`: eight per `.b32`, row `groupID (+8)`, column
/// `threadID_in_group * 8 + (i & 7) (+32)`) hold, byte for byte, the same positions as the 8-bit
/// `m16n8k32` ones: register `j` carries 4 consecutive K *bytes* at `threadID_in_group*4 + 16*(j/2)`.
/// With `scale_vec::2X` / `4X` a row's 2 / 4 scales are bytes `byte-id ..` of its scale register
/// (§9.7.14.3), so one nv128x4 word per lane (4 K-blocks) feeds 4 / 2 / 1 MMAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MxMmaSync {
    pub kind: Sm120Kind,
}

impl MxMmaSync {
    pub const M: u32 = 16;
    pub const N: u32 = 8;

    pub const fn fp8(a: Fp8Type, b: Fp8Type) -> MxMmaSync {
        MxMmaSync {
            kind: Sm120Kind::Mxf8 { a, b },
        }
    }

    /// K elements of one MMA.
    pub fn mma_k(&self) -> u32 {
        match self.kind {
            Sm120Kind::Mxf8 { .. } => 32,
            Sm120Kind::Mxf4 | Sm120Kind::Nvf4 => 64,
        }
    }

    /// Elements per scale block (32, or 16 for NVFP4).
    pub fn block(&self) -> u32 {
        if self.kind == Sm120Kind::Nvf4 { 16 } else { 32 }
    }

    /// Scales per row per MMA (`scale_vec`).
    pub fn scale_vec(&self) -> u32 {
        self.mma_k() / self.block()
    }

    /// MMAs per scale word (an nv128x4 atom row holds 4 K-blocks): byte-id of MMA `s` is
    /// `s * scale_vec`.
    pub fn mmas_per_word(&self) -> u32 {
        BYTE_STEPS / self.scale_vec()
    }

    /// K elements covered by one scale word.
    pub fn k_per_word(&self) -> u32 {
        self.mma_k() * self.mmas_per_word()
    }

    /// Bits per stored element.
    pub fn elem_bits(&self) -> u32 {
        if matches!(self.kind, Sm120Kind::Mxf8 { .. }) {
            8
        } else {
            4
        }
    }

    fn group() -> Ix {
        Ix::lane().div(4)
    }

    fn tig() -> Ix {
        Ix::lane().rem(4)
    }

    /// A register `j` (0..4) of the lane holds 4 consecutive K bytes: (row, first K byte).
    pub fn a_reg(&self, j: u32) -> (Ix, Ix) {
        (
            Self::group() + (8 * (j % 2)) as i64,
            Self::tig() * 4 + (16 * (j / 2)) as i64,
        )
    }

    /// B register `j` (0..2): (column, first K byte) of 4 consecutive K bytes.
    pub fn b_reg(&self, j: u32) -> (Ix, Ix) {
        (Self::group(), Self::tig() * 4 + (16 * j) as i64)
    }

    /// Accumulator register `i` (0..4): (row, column).
    pub fn acc(&self, i: u32) -> (Ix, Ix) {
        (
            Self::group() + (8 * (i / 2)) as i64,
            Self::tig() * 2 + (i % 2) as i64,
        )
    }

    /// Row of A whose scale this lane supplies (thread-id-a = 0; lanes with `lane % 4 >= 2` are
    /// not read by the hardware and load the same row as their partner to stay in bounds).
    pub fn sfa_row(&self) -> Ix {
        Self::group() + Self::tig().rem(2) * 8
    }

    /// Column of B whose scale this lane supplies (thread-id-b = 0; only `lane % 4 == 0` is read).
    pub fn sfb_col(&self) -> Ix {
        Self::group()
    }

    /// PTX mnemonic family expected in the output.
    pub fn ptx_family(&self) -> String {
        match self.kind {
            Sm120Kind::Mxf8 { a, b } => format!(
                "mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale.scale_vec::1X.f32.{}.{}.f32.ue8m0",
                a.ptx(),
                b.ptx()
            ),
            Sm120Kind::Mxf4 => "mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0".into(),
            Sm120Kind::Nvf4 => "mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3".into(),
        }
    }

    /// The `nvvm.mma.block_scale` attribute dictionary.
    pub fn mlir_attrs(&self) -> String {
        let (k, a, b, vec, fmt, kind) = match self.kind {
            Sm120Kind::Mxf8 { a, b } => (32, a.ptx(), b.ptx(), "x1", "ue8m0", "mxf8f6f4"),
            Sm120Kind::Mxf4 => (64, "e2m1", "e2m1", "x2", "ue8m0", "mxf4nvf4"),
            Sm120Kind::Nvf4 => (64, "e2m1", "e2m1", "x4", "ue4m3", "mxf4nvf4"),
        };
        format!(
            "shape = #nvvm.shape<m = 16, n = 8, k = {k}>, multiplicandAPtxType = #nvvm.mma_type<{a}>, multiplicandBPtxType = #nvvm.mma_type<{b}>, scaleVecSize = #nvvm.scale_vec_size<{vec}>, blockScaleFormat = #nvvm.block_scale_format<{fmt}>, kind = #nvvm.block_scale_kind<{kind}>"
        )
    }
}

/// Byte offset, in an Nv128x4 scale buffer with padded scale-K `ks_pad`, of the 32-bit word that
/// holds K-blocks `4*katom .. 4*katom+3` of MN row `row` (128x4 atoms of 512 bytes; within an
/// atom `(r%32)*16 + ((r%128)/32)*4 + c%4`, see formats-and-scale-layouts.md).
pub fn nv128x4_word(row: Ix, katom: Ix, ks_pad: Ix) -> Ix {
    row.clone().div(128) * (ks_pad.div(4) * 512)
        + katom * 512
        + row.clone().rem(32) * 16
        + row.rem(128).div(32) * 4
}
