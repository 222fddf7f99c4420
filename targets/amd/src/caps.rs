//! gfx950 (MI350/MI355, CDNA4) capabilities as data, the `--list-targets` entry, and the decision
//! of how a dot's operand contract maps onto the chip (scaled MFMA, plain OCP-fp8 MFMA, or a coded
//! diagnostic naming the target and the reason).

use crate::error::{AmdError, code};
use crate::mfma::{MfmaFormat, MfmaShape, ScaledMfma};
use tessera_ir::{DType, ScaleSpec};

pub const TARGET: &str = "gfx950";

/// What gfx950 offers the compiler, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gfx950Caps {
    pub wave_size: u32,
    pub lds_bytes: u32,
    /// Scaled MFMA shapes (`v_mfma_scale_f32_*_f8f6f4`).
    pub scaled_mfma: Vec<MfmaShape>,
    /// Element formats the scaled MFMA takes (cbsz/blgp codes 0..4).
    pub scaled_formats: Vec<DType>,
    /// Block-scale types the scaled MFMA applies (e8m0, block 32 only).
    pub scale_dtypes: Vec<DType>,
    /// HSACO code object version Tessera links (explicit, not LLVM 22's default of 6).
    pub code_object_version: u32,
}

pub fn caps() -> Gfx950Caps {
    Gfx950Caps {
        wave_size: 64,
        lds_bytes: 160 * 1024,
        scaled_mfma: vec![MfmaShape::M16N16K128, MfmaShape::M32N32K64],
        scaled_formats: vec![
            DType::F8E4M3,
            DType::F8E5M2,
            DType::F6E2M3,
            DType::F6E3M2,
            DType::F4E2M1,
        ],
        scale_dtypes: vec![DType::E8M0],
        code_object_version: 5,
    }
}

/// One `tessera build --list-targets` line: name, one-line summary, capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetListing {
    pub name: &'static str,
    pub summary: &'static str,
    pub capabilities: Vec<String>,
}

pub fn list_targets() -> Vec<TargetListing> {
    vec![TargetListing {
        name: TARGET,
        summary: "AMD CDNA4 (MI350/MI355): wave64 scaled MFMA, HSACO via inkwell + ld.lld",
        capabilities: vec![
            "MXFP8/MXFP6/MXFP4 dots -> v_mfma_scale_f32_16x16x128_f8f6f4 / 32x32x64 (e8m0, block 32)".into(),
            "per-lane scale bytes in VGPRs (amd_lane16x16x128 / amd_lane32x32x64), op_sel byte select".into(),
            "operands staged through LDS (160 KiB)".into(),
            "NVFP4 (ue4m3, block 16): not expressible -> E0701".into(),
            "f8e4m3fnuz: gfx942 only -> E0702".into(),
            "compile-only here: assembled and audited with llvm-objdump, never run".into(),
        ],
    }]
}

/// How one dot operand (element dtype + optional scale contract) lowers on gfx950.
pub fn operand_format(elem: DType, scale: Option<&ScaleSpec>) -> Result<MfmaFormat, AmdError> {
    let unsupported = |c: &'static str, reason: String| AmdError::Unsupported {
        code: c,
        target: TARGET,
        what: format!(
            "a dot operand of {}{}",
            elem.name(),
            scale
                .map(|s| format!(" with {} scales", s.scale_dtype.name()))
                .unwrap_or_default()
        ),
        reason,
        span: None,
    };
    if elem == DType::F8E4M3Fnuz {
        return Err(unsupported(
            code::FNUZ_ON_GFX950,
            "f8e4m3fnuz (bias 8, NaN = 0x80) is the gfx942 FP8; gfx950 MFMAs use OCP f8e4m3 — convert the data or build for gfx942".into(),
        ));
    }
    if let Some(s) = scale {
        if s.scale_dtype == DType::UE4M3 || s.global {
            return Err(unsupported(
                code::NVFP4_ON_GFX950,
                "NVFP4 needs ue4m3 block-16 scales; v_mfma_scale applies only e8m0 scales per 32-element block (no ue4m3 scale path)".into(),
            ));
        }
        if s.scale_dtype != DType::E8M0 || s.scaled_axes() != [1] || s.block.get(1) != Some(&32) {
            return Err(unsupported(
                code::UNSUPPORTED_OPERAND,
                "the scaled MFMA takes e8m0 scales over 32-element blocks along K only".into(),
            ));
        }
    }
    if matches!(elem, DType::F6E2M3 | DType::F6E3M2) {
        // The hardware takes MXFP6, but Tessera's buffers hold one FP6 code per byte and this
        // lowering does not yet repack them into the MFMA's 6-bit register layout.
        return Err(unsupported(
            code::UNSUPPORTED_OPERAND,
            "MXFP6 operands are stored one code per byte; packing them into the 6-bit MFMA register layout is not implemented yet".into(),
        ));
    }
    MfmaFormat::from_dtype(elem).ok_or_else(|| {
        unsupported(
            code::UNSUPPORTED_OPERAND,
            "v_mfma_scale takes fp8 e4m3/e5m2, fp6 e2m3/e3m2 or fp4 e2m1 operands".into(),
        )
    })
}

/// Choose the scaled-MFMA atom for a dot `a @ b` (both operands already checked): 16x16x128 by
/// default (more rows per wave for small tiles), 32x32x64 when asked for.
pub fn scaled_atom(a: MfmaFormat, b: MfmaFormat, prefer_32: bool) -> ScaledMfma {
    let shape = if prefer_32 {
        MfmaShape::M32N32K64
    } else {
        MfmaShape::M16N16K128
    };
    ScaledMfma { shape, a, b }
}
