//! sm_100a tcgen05 block-scaled MMA facts: the 32-bit instruction descriptor of
//! `tcgen05.mma ... kind::mxf8f6f4 / mxf4nvf4 .block_scale` and the element-format codes.
//!
//! Source: PTX ISA 8.8 §9.7.16.4.2 "Instruction descriptor" (table for `.kind::mxf8f6f4`,
//! `.kind::mxf4`, `.kind::mxf4nvf4`), bit by bit as CUTLASS `UMMA::InstrDescriptorBlockScaled`
//! also spells it: [4,6) scale-factor-B id, [7,10) A format, [10,13) B format, 13/14 negate A/B,
//! 15/16 A/B major (0 = K-major), [17,23) N >> 3, 23 scale type (1 = ue8m0, 0 = ue4m3),
//! [27,29) M >> 7, [29,31) scale-factor-A id. The scale-factor ids pick which byte of each 32-bit
//! TMEM scale cell (one K-block of an nv128x4 atom row) the MMA applies. Never run on hardware.

use std::ops::{Div, Rem};
use tessera_ir::DType;
use tessera_lowering_mlir::native_scaled::Ix;

/// `kind::` of a block-scaled tcgen05 MMA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockScaleKind {
    /// MXFP8/MXFP6/MXFP4 mixes with ue8m0 scales, K = 32 per MMA, one scale per 32.
    Mxf8f6f4,
    /// FP4 x FP4 packed, K = 64 per MMA: block32 (MXFP4, ue8m0) or block16 (NVFP4, ue4m3).
    Mxf4nvf4 { block16: bool },
}

impl BlockScaleKind {
    pub fn mlir_attrs(self) -> &'static str {
        match self {
            BlockScaleKind::Mxf8f6f4 => {
                "kind = #nvvm.block_scale_kind<mxf8f6f4>, ctaGroup = #nvvm.cta_group<cta_1>"
            }
            BlockScaleKind::Mxf4nvf4 { block16: true } => {
                "kind = #nvvm.block_scale_kind<mxf4nvf4>, ctaGroup = #nvvm.cta_group<cta_1>, blockScale = #nvvm.tcgen05_mma_block_scale<block16>"
            }
            BlockScaleKind::Mxf4nvf4 { block16: false } => {
                "kind = #nvvm.block_scale_kind<mxf4nvf4>, ctaGroup = #nvvm.cta_group<cta_1>, blockScale = #nvvm.tcgen05_mma_block_scale<block32>"
            }
        }
    }

    /// PTX mnemonic prefix the audit expects.
    pub fn ptx_prefix(self) -> &'static str {
        match self {
            BlockScaleKind::Mxf8f6f4 => "tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale",
            BlockScaleKind::Mxf4nvf4 { block16: true } => {
                "tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.block16"
            }
            BlockScaleKind::Mxf4nvf4 { block16: false } => {
                "tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.block32"
            }
        }
    }

    /// K elements one MMA consumes.
    pub fn mma_k(self) -> u32 {
        match self {
            BlockScaleKind::Mxf8f6f4 => 32,
            BlockScaleKind::Mxf4nvf4 { .. } => 64,
        }
    }

    /// Bytes of one K step of one operand row (fp4 is packed two per byte).
    pub fn k_bytes(self) -> u32 {
        32
    }
}

/// The A/B format field of the descriptor.
pub fn format_code(kind: BlockScaleKind, d: DType) -> Option<u32> {
    match (kind, d) {
        (BlockScaleKind::Mxf8f6f4, DType::F8E4M3) => Some(0),
        (BlockScaleKind::Mxf8f6f4, DType::F8E5M2) => Some(1),
        (BlockScaleKind::Mxf8f6f4, DType::F6E2M3) => Some(3),
        (BlockScaleKind::Mxf8f6f4, DType::F6E3M2) => Some(4),
        (BlockScaleKind::Mxf8f6f4, DType::F4E2M1) => Some(5),
        (BlockScaleKind::Mxf4nvf4 { .. }, DType::F4E2M1) => Some(1),
        _ => None,
    }
}

/// The instruction descriptor for an `m x n` MMA (K-major A and B) whose scales come from byte
/// `sf_id` of the TMEM scale cells. `ue8m0` selects the scale type (false = ue4m3, NVFP4).
pub fn instr_desc(a_fmt: u32, b_fmt: u32, m: u32, n: u32, ue8m0: bool, sf_id: u32) -> u32 {
    ((sf_id & 3) << 4)
        | ((a_fmt & 7) << 7)
        | ((b_fmt & 7) << 10)
        | (((n >> 3) & 0x3F) << 17)
        | (u32::from(ue8m0) << 23)
        | (((m >> 7) & 3) << 27)
        | ((sf_id & 3) << 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_fields_land_in_their_bits() {
        let d = instr_desc(0, 1, 128, 128, true, 2);
        assert_eq!((d >> 4) & 3, 2);
        assert_eq!((d >> 7) & 7, 0);
        assert_eq!((d >> 10) & 7, 1);
        assert_eq!((d >> 17) & 0x3F, 16);
        assert_eq!((d >> 23) & 1, 1);
        assert_eq!((d >> 27) & 3, 1);
        assert_eq!((d >> 29) & 3, 2);
    }
}

/// The data movement of the sm_100a block-scaled GEMM tile ([`crate::sm100_kernel`]) as values
/// the generator emits and the tcgen05 model in the tests evaluates:
/// - operand rows (one per thread, 128 bytes per K iteration) go to shared memory in the K-major,
///   no-swizzle canonical layout: 16-byte chunk `c` of row `r` at `(r/8)*SBO + c*LBO + (r%8)*16`
///   ("core matrices" of 8 rows x 16 bytes, PTX ISA §9.7.16.5 "Shared memory matrix layout");
/// - MMA `s` of the iteration starts its A/B descriptors `s * 32 / 16 * LBO` bytes further (32
///   bytes of K per MMA: 32 fp8 or 64 packed fp4);
/// - the nv128x4 scale atoms covering the iteration's K-blocks are bulk-copied (512 bytes each)
///   and moved to TMEM with `tcgen05.cp .32x128b.warpx4`, atom `j` at columns `4j .. 4j+3` of the
///   scale region; MMA `s` reads atom `(s * scales_per_mma) / 4` with scale-factor id
///   `(s * scales_per_mma) % 4` (the first K-block's byte within each 32-bit cell).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sm100Plan {
    pub kind: BlockScaleKind,
    pub a_fmt: u32,
    pub b_fmt: u32,
    /// Scale type: true = ue8m0 (MX), false = ue4m3 (NVFP4).
    pub ue8m0: bool,
}

impl Sm100Plan {
    pub const TILE: u32 = 128;
    /// Bytes of one operand row per K iteration.
    pub const ROW_BYTES: u32 = 128;
    pub const LBO: u32 = 128;
    pub const SBO: u32 = 1024;
    pub const ATOM_BYTES: u32 = 512;

    /// Elements per scale block: 16 for NVFP4 (ue4m3), else 32.
    pub fn block(&self) -> u32 {
        if self.ue8m0 { 32 } else { 16 }
    }

    /// K elements per iteration (128 fp8, 256 packed fp4).
    pub fn k_per_iter(&self) -> u32 {
        match self.kind {
            BlockScaleKind::Mxf8f6f4 => 128,
            BlockScaleKind::Mxf4nvf4 { .. } => 256,
        }
    }

    /// Bits of one operand element as stored.
    pub fn elem_bits(&self) -> u32 {
        8 * Self::ROW_BYTES / self.k_per_iter()
    }

    pub fn mmas(&self) -> u32 {
        self.k_per_iter() / self.kind.mma_k()
    }

    pub fn scales_per_mma(&self) -> u32 {
        self.kind.mma_k() / self.block()
    }

    pub fn atoms_per_iter(&self) -> u32 {
        self.k_per_iter() / self.block() / 4
    }

    /// Shared-memory byte offset of 16-byte chunk `c` of the row held by thread `lane`.
    pub fn smem_chunk(&self, c: u32) -> Ix {
        Ix::lane().div(8) * i64::from(Self::SBO) + i64::from(c * Self::LBO) + Ix::lane().rem(8) * 16
    }

    /// Descriptor start-address advance of MMA `s`.
    pub fn desc_advance(&self, s: u32) -> u32 {
        s * 32 / 16 * Self::LBO
    }

    /// Global byte offset of scale atom `j` of the current iteration. Variables: `tile` (the
    /// 128-row tile), `iter` (K iteration), `ks_pad` (padded scale-K of the buffer).
    pub fn scale_atom(&self, j: u32) -> Ix {
        (Ix::var("tile") * Ix::var("ks_pad").div(4)
            + Ix::var("iter") * i64::from(self.atoms_per_iter())
            + i64::from(j))
            * i64::from(Self::ATOM_BYTES)
    }

    /// TMEM column (relative to the allocation) of scale atom `j` of A / of B: after the 128 f32
    /// accumulator columns, A's atoms then B's, four columns each.
    pub fn sfa_col(&self, j: u32) -> u32 {
        Self::TILE + 4 * j
    }

    pub fn sfb_col(&self, j: u32) -> u32 {
        Self::TILE + 4 * self.atoms_per_iter() + 4 * j
    }

    /// (scale atom, scale-factor id) MMA `s` reads.
    pub fn mma_scales(&self, s: u32) -> (u32, u32) {
        let first = s * self.scales_per_mma();
        (first / 4, first % 4)
    }

    /// Instruction descriptor of MMA `s`.
    pub fn idesc(&self, s: u32) -> u32 {
        instr_desc(
            self.a_fmt,
            self.b_fmt,
            Self::TILE,
            Self::TILE,
            self.ue8m0,
            self.mma_scales(s).1,
        )
    }
}
