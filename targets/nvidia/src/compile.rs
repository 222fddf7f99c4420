//! The sm_90a build: checked tile IR → (lowering) MLIR → LLVM IR → (inkwell) PTX → (ptxas) cubin,
//! with the build report and its checks. Each stage's text is kept so `--emit` can print it.

use crate::codegen::llvm_ir_to_ptx;
use crate::ptxas;
use crate::report::{BuildReport, scan_ptx};
use crate::target::Target;
use tessera_ir::Kernel;
use tessera_lowering_mlir::{LoweredKernel, LoweringError, LoweringOptions, lower_sm90a, mlir_to_llvm_ir};

/// Whether to assemble a cubin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtxasMode {
    /// Use ptxas when it can be found; skip (with a note in the report) when not.
    Auto,
    /// Never run ptxas.
    Off,
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub target: Target,
    pub lowering: LoweringOptions,
    pub ptxas: PtxasMode,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("target {target} is not supported by this build (known: sm_90a)")]
    UnknownTarget { target: String },
    #[error(transparent)]
    Lowering(#[from] LoweringError),
    #[error("PTX code generation failed: {0}")]
    Codegen(String),
    #[error("ptxas rejected the generated PTX for {arch}:\n{log}")]
    Ptxas { arch: String, log: String },
    #[error("the dot was lowered to {expected}, but the PTX has no wgmma.mma_async (found: {found})")]
    MissingMma { expected: String, found: String },
}

/// Every stage of one kernel's build.
#[derive(Clone, Debug)]
pub struct Artifacts {
    pub lowered: LoweredKernel,
    pub llvm_ir: String,
    pub ptx: String,
    pub cubin: Option<Vec<u8>>,
    pub report: BuildReport,
}

/// Lower to MLIR only (for `--emit=mlir`, and the first step of [`compile`]).
pub fn lower(kernel: &Kernel, opts: &BuildOptions) -> Result<LoweredKernel, BuildError> {
    Ok(lower_sm90a(kernel, &opts.lowering)?)
}

/// Run the whole build for one kernel.
pub fn compile(kernel: &Kernel, opts: &BuildOptions) -> Result<Artifacts, BuildError> {
    let lowered = lower(kernel, opts)?;
    let llvm_ir = mlir_to_llvm_ir(&lowered.mlir)?;
    let ptx = llvm_ir_to_ptx(&llvm_ir, &opts.target).map_err(BuildError::Codegen)?;
    let scan = scan_ptx(&ptx);
    if opts.target.caps.wgmma && !scan.mma.keys().any(|k| k == &lowered.mma.family) {
        let found: Vec<&str> = scan.mma.keys().map(String::as_str).collect();
        return Err(BuildError::MissingMma {
            expected: lowered.mma.family.clone(),
            found: if found.is_empty() { "no MMA instruction".into() } else { found.join(", ") },
        });
    }
    let (cubin, ptxas_info, ptxas_skipped) = match opts.ptxas {
        PtxasMode::Off => (None, None, Some("disabled".to_string())),
        PtxasMode::Auto => match ptxas::locate() {
            Err(why) => (None, None, Some(why)),
            Ok(path) => match ptxas::assemble(&path, &ptx, opts.target.ptxas_arch) {
                Ok((cubin, info)) => (Some(cubin), Some(info), None),
                Err(log) => return Err(BuildError::Ptxas { arch: opts.target.ptxas_arch.into(), log }),
            },
        },
    };
    let mut notes = Vec::new();
    if let Some(n) = &lowered.mma.note {
        notes.push(n.clone());
    }
    notes.push(format!(
        "operand tensors are read through TMA tensor maps (row-major, K contiguous; row pitch must be a multiple of 16 bytes)"
    ));
    let report = BuildReport {
        kernel: kernel.name.clone(),
        entry: lowered.entry.clone(),
        target: opts.target.name.to_string(),
        expected_mma: lowered.mma.family.clone(),
        scan,
        threads: lowered.block[0] * lowered.block[1] * lowered.block[2],
        dynamic_smem_bytes: lowered.dynamic_shared_bytes,
        tuning: lowered.tuning.clone(),
        ptxas: ptxas_info,
        ptxas_skipped,
        // The passes helper will report fused/emulated dequantization here once scaled dots reach
        // this lowering; today only plain operands are lowered.
        dequant: format!("none (plain {} x {} operands)", lowered.mma.operand_a, lowered.mma.operand_b),
        notes,
    };
    Ok(Artifacts { lowered, llvm_ir, ptx, cubin, report })
}
