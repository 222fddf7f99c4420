//! AMD gfx950 (CDNA4) target: capabilities as data, the scaled-MFMA atom and its lane maps,
//! the LDS-staged scaled-GEMM tile plan, MLIR generation from that plan, inkwell AMDGPU codegen,
//! `ld.lld` linking (explicit code object version) and the `llvm-objdump` instruction audit.
//!
//! Pipeline of [`build_scaled_gemm`]: plan (lane maps as `Ix`) → LLVM-dialect + ROCDL MLIR text
//! → `tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir` → inkwell object (gfx950) →
//! `ld.lld -shared` → HSACO → audit. Nothing here runs a GPU; correctness of the lane maps is
//! argued by the operand-layout model tests (`tests/`), see docs/TARGETS.md.

pub mod audit;
pub mod caps;
pub mod codegen;
pub mod error;
pub mod kernel;
pub mod mfma;
pub mod plan;
mod tools;

pub use audit::{AmdAudit, audit_hsaco};
pub use caps::{Gfx950Caps, TARGET, TargetListing, caps, list_targets, operand_format, scaled_atom};
pub use codegen::{Hsaco, compile_llvm_ir};
pub use error::{AmdError, code};
pub use kernel::scaled_gemm_mlir;
pub use mfma::{MfmaFormat, MfmaShape, ScaledMfma};
pub use plan::{GemmTilePlan, OperandPlan};

/// Everything one native scaled-GEMM build produced.
#[derive(Clone, Debug)]
pub struct AmdBuild {
    pub mlir: String,
    pub hsaco: Hsaco,
    pub audit: AmdAudit,
}

/// Generate, compile, link and audit the scaled-GEMM kernel `name` for `atom` on gfx950.
pub fn build_scaled_gemm(name: &str, atom: ScaledMfma) -> Result<AmdBuild, AmdError> {
    let plan = GemmTilePlan::new(atom);
    let mlir = scaled_gemm_mlir(name, &plan)?;
    let ir = tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir(&mlir, None)?;
    let hsaco = compile_llvm_ir(&ir, TARGET, caps().code_object_version)?;
    let audit = audit_hsaco(&hsaco.elf, TARGET)?;
    Ok(AmdBuild { mlir, hsaco, audit })
}
