//! The gfx950 scaled-MFMA atom and its lane maps: which lane of the wave64 holds which operand
//! element, which scale byte and which accumulator element. Every map is an [`Ix`] so the kernel
//! generator ([`crate::kernel`]) emits it and the operand-layout model in the tests evaluates it.
//!
//! Source: AMD CDNA4 ISA reference guide, chapter 7 "Matrix Arithmetic Instructions"
//! (V_MFMA_SCALE_F32_16X16X128_F8F6F4 / V_MFMA_SCALE_F32_32X32X64_F8F6F4 and the MFMA register
//! layout tables), as we read it:
//! - A (M x K) and B (K x N) share one layout: lane `l` holds row (resp. column) `l % M` and the
//!   32 *consecutive* K elements of K-group `l / M` (16x16x128: 4 groups; 32x32x64: 2 groups),
//!   packed little-endian in 8 VGPRs (fp8), 6 (fp6) or 4 (fp4, element 2i in the low nibble).
//! - The scale of that row/column and K-group (one e8m0 per 32 elements) is byte `op_sel` of the
//!   lane's 32-bit scale VGPR (so four MFMAs along K can share one VGPR).
//! - D (M x N, f32): 16x16: lane `l`, register `i` -> row `4*(l/16) + i`, column `l % 16`;
//!   32x32: register `i` -> row `8*(i/4) + 4*(l/32) + i%4`, column `l % 32`.

use std::ops::{Div, Rem};
use tessera_ir::{DType, ScaleLayout};
use tessera_lowering_mlir::native_scaled::Ix;

pub const WAVE: u32 = 64;
/// Elements one lane holds per operand per MFMA (one MX block).
pub const ELEMS_PER_LANE: u32 = 32;
/// MFMAs along K that share one 32-bit scale VGPR (one per `op_sel` byte).
pub const OPSEL_STEPS: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MfmaShape {
    M16N16K128,
    M32N32K64,
}

impl MfmaShape {
    /// M (= N) of the atom.
    pub fn mn(self) -> u32 {
        match self {
            MfmaShape::M16N16K128 => 16,
            MfmaShape::M32N32K64 => 32,
        }
    }

    pub fn k(self) -> u32 {
        match self {
            MfmaShape::M16N16K128 => 128,
            MfmaShape::M32N32K64 => 64,
        }
    }

    /// K-groups of 32 elements per MFMA = lanes / MN.
    pub fn k_groups(self) -> u32 {
        WAVE / self.mn()
    }

    /// f32 accumulator registers per lane.
    pub fn acc_regs(self) -> u32 {
        self.mn() * self.mn() / WAVE
    }

    pub fn mnemonic(self) -> &'static str {
        match self {
            MfmaShape::M16N16K128 => "v_mfma_scale_f32_16x16x128_f8f6f4",
            MfmaShape::M32N32K64 => "v_mfma_scale_f32_32x32x64_f8f6f4",
        }
    }

    pub fn rocdl_op(self) -> &'static str {
        match self {
            MfmaShape::M16N16K128 => "rocdl.mfma.scale.f32.16x16x128.f8f6f4",
            MfmaShape::M32N32K64 => "rocdl.mfma.scale.f32.32x32x64.f8f6f4",
        }
    }

    /// The scale layout (assign-scale-layout's name for it) whose buffers this atom reads.
    pub fn scale_layout(self) -> ScaleLayout {
        match self {
            MfmaShape::M16N16K128 => ScaleLayout::AmdLane16x16x128,
            MfmaShape::M32N32K64 => ScaleLayout::AmdLane32x32x64,
        }
    }
}

/// Operand format codes of `cbsz` (A) / `blgp` (B).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MfmaFormat {
    Fp8E4M3,
    Bf8E5M2,
    Fp6E2M3,
    Bf6E3M2,
    Fp4E2M1,
}

impl MfmaFormat {
    pub fn from_dtype(d: DType) -> Option<MfmaFormat> {
        Some(match d {
            DType::F8E4M3 => MfmaFormat::Fp8E4M3,
            DType::F8E5M2 => MfmaFormat::Bf8E5M2,
            DType::F6E2M3 => MfmaFormat::Fp6E2M3,
            DType::F6E3M2 => MfmaFormat::Bf6E3M2,
            DType::F4E2M1 => MfmaFormat::Fp4E2M1,
            _ => return None,
        })
    }

    pub fn dtype(self) -> DType {
        match self {
            MfmaFormat::Fp8E4M3 => DType::F8E4M3,
            MfmaFormat::Bf8E5M2 => DType::F8E5M2,
            MfmaFormat::Fp6E2M3 => DType::F6E2M3,
            MfmaFormat::Bf6E3M2 => DType::F6E3M2,
            MfmaFormat::Fp4E2M1 => DType::F4E2M1,
        }
    }

    /// The `cbsz` / `blgp` immediate.
    pub fn code(self) -> u32 {
        match self {
            MfmaFormat::Fp8E4M3 => 0,
            MfmaFormat::Bf8E5M2 => 1,
            MfmaFormat::Fp6E2M3 => 2,
            MfmaFormat::Bf6E3M2 => 3,
            MfmaFormat::Fp4E2M1 => 4,
        }
    }

    pub fn bits(self) -> u32 {
        self.dtype().bits()
    }

    /// 32-bit registers per lane for one operand (32 elements): 8 fp8, 6 fp6, 4 fp4.
    pub fn words(self) -> u32 {
        ELEMS_PER_LANE * self.bits() / 32
    }
}

/// One scaled-MFMA instruction: shape and operand formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScaledMfma {
    pub shape: MfmaShape,
    pub a: MfmaFormat,
    pub b: MfmaFormat,
}

impl ScaledMfma {
    /// Row of A (column of B) whose elements lane `l` holds: `l % MN`.
    pub fn operand_mn(&self) -> Ix {
        Ix::lane().rem(self.shape.mn() as i64)
    }

    /// K-group (32-element block within the MFMA's K) lane `l` holds: `l / MN`.
    pub fn operand_kgroup(&self) -> Ix {
        Ix::lane().div(self.shape.mn() as i64)
    }

    /// Accumulator register `i` of lane `l`: (row, column) of D.
    pub fn acc_coord(&self, i: u32) -> (Ix, Ix) {
        let i = i as i64;
        let col = Ix::lane().rem(self.shape.mn() as i64);
        let row = match self.shape {
            MfmaShape::M16N16K128 => Ix::lane().div(16) * 4 + i,
            MfmaShape::M32N32K64 => Ix::lane().div(32) * 4 + (8 * (i / 4) + i % 4),
        };
        (row, col)
    }
}
