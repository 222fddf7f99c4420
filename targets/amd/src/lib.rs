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
pub use tessera_lowering_mlir::native_scaled::GemmAbi;

/// Everything one native scaled-GEMM build produced.
#[derive(Clone, Debug)]
pub struct AmdBuild {
    pub mlir: String,
    pub hsaco: Hsaco,
    pub audit: AmdAudit,
}

impl AmdBuild {
    /// The build report's instruction section (`report.txt`): MFMA families, dequant check,
    /// registers, spills, LDS and code object version, as read from the HSACO.
    pub fn report_text(&self) -> String {
        let a = &self.audit;
        let fig = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
        let mut t = format!(
            "target: {TARGET}
mfma: {}
",
            a.families().join(", ")
        );
        t.push_str(&if a.dequant.is_empty() {
            "dequant: fused into v_mfma_scale (no software conversion)
"
            .to_string()
        } else {
            format!("dequant: software conversions present {:?}\n", a.dequant)
        });
        t.push_str(&format!(
            "vgprs: {}  agprs: {}  sgprs: {}  vgpr spills: {}  sgpr spills: {}  lds bytes: {}  ELF ABI version: {}
",
            fig(a.vgprs),
            fig(a.agprs),
            fig(a.sgprs),
            fig(a.vgpr_spills),
            fig(a.sgpr_spills),
            fig(a.lds_bytes),
            fig(a.abi_version)
        ));
        t
    }
}

/// Generate, compile, link and audit the scaled-GEMM kernel `name` for `atom` on gfx950.
pub fn build_scaled_gemm(name: &str, atom: ScaledMfma, abi: &GemmAbi) -> Result<AmdBuild, AmdError> {
    let plan = GemmTilePlan::new(atom);
    let mlir = scaled_gemm_mlir(name, &plan, abi)?;
    let ir = tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir(&mlir, None)?;
    let hsaco = compile_llvm_ir(&ir, TARGET, caps().code_object_version)?;
    let audit = audit_hsaco(&hsaco.elf, TARGET)?;
    Ok(AmdBuild { mlir, hsaco, audit })
}

/// A kernel of the user's program compiled for gfx950, with its launch contract.
#[derive(Clone, Debug)]
pub struct AmdKernelBuild {
    pub build: AmdBuild,
    pub entry: String,
    pub abi: Vec<tessera_bundle::AbiArg>,
    pub grid: Vec<tessera_ir::DimExpr>,
    pub block: [u32; 3],
    pub atom: ScaledMfma,
}

/// Compile a checked GEMM-shaped kernel for gfx950: recognise it, map its operand contracts onto
/// the scaled MFMA (coded, spanned diagnostics for NVFP4, fnuz, ...), generate, link and audit.
/// `prefer_32` picks the 32x32x64 atom instead of 16x16x128.
pub fn build_kernel(kernel: &tessera_ir::Kernel, prefer_32: bool) -> Result<AmdKernelBuild, AmdError> {
    use tessera_lowering_mlir::native_scaled::recognise;
    let p = recognise(kernel).map_err(|e| AmdError::Unsupported {
        code: code::NOT_A_GEMM,
        target: TARGET,
        what: format!("kernel `{}`", kernel.name),
        reason: e.reason,
        span: Some(e.span),
    })?;
    let at = |e: AmdError| match e {
        AmdError::Unsupported {
            code,
            target,
            what,
            reason,
            ..
        } => AmdError::Unsupported {
            code,
            target,
            what,
            reason,
            span: Some(p.dot_span),
        },
        other => other,
    };
    let fa = operand_format(p.a_elem, p.a_scale.as_ref()).map_err(at)?;
    let fb = operand_format(p.b_elem, p.b_scale.as_ref()).map_err(at)?;
    let atom = scaled_atom(fa, fb, prefer_32);
    let entry = kernel.name.clone();
    let build = build_scaled_gemm(&entry, atom, &GemmAbi::of(&p))?;
    let mn = i64::from(atom.shape.mn());
    let cdiv = |s: &str| {
        tessera_ir::DimExpr::CeilDiv(
            Box::new(tessera_ir::DimExpr::Sym(s.to_string())),
            Box::new(tessera_ir::DimExpr::Const(mn)),
        )
    };
    Ok(AmdKernelBuild {
        build,
        entry,
        abi: p.abi(),
        grid: vec![cdiv(&p.m), cdiv(&p.n)],
        block: [mfma::WAVE, 1, 1],
        atom,
    })
}
