//! The sm_90a build: checked tile IR → (lowering) MLIR → LLVM IR → (inkwell) PTX → (ptxas) cubin,
//! with the build report and its checks. Each stage's text is kept so `--emit` can print it.

use crate::codegen::llvm_ir_to_ptx;
use crate::ptxas;
use crate::report::{BuildReport, PtxScan, scan_ptx};
use crate::target::Target;
use std::borrow::Cow;
use tessera_ir::{Kernel, Module};
use tessera_lowering_mlir::{LoweredKernel, LoweringError, LoweringOptions, lower_sm90a, mlir_to_llvm_ir};
use tessera_passes::PipelineOptions;

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
    #[error("target {target} has no wgmma/TMA; the sm_90a lowering cannot run there")]
    NoWgmma { target: String },
    #[error(transparent)]
    Lowering(#[from] LoweringError),
    #[error("PTX code generation failed: {0}")]
    Codegen(String),
    #[error("ptxas rejected the generated PTX for {arch}:\n{log}")]
    Ptxas { arch: String, log: String },
    #[error("the sm_90a pass pipeline failed on un-piped IR: {0}")]
    Pipeline(String),
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

/// The planned MMA family must be in the PTX: a dot that silently became something else (or
/// vanished) is a build error, not a slow kernel.
fn expect_mma(family: &str, scan: &PtxScan) -> Result<(), BuildError> {
    if scan.mma.contains_key(family) {
        return Ok(());
    }
    let found: Vec<&str> = scan.mma.keys().map(String::as_str).collect();
    Err(BuildError::MissingMma {
        expected: family.to_string(),
        found: if found.is_empty() {
            "no MMA instruction".into()
        } else {
            found.join(", ")
        },
    })
}

/// Whether a wgmma family multiplies fp8 operands (`...f32.e4m3.e5m2` and the like).
fn is_fp8_family(family: &str) -> bool {
    family.contains(".e4m3") || family.contains(".e5m2")
}

/// Lower to MLIR only (for `--emit=mlir`, and the first step of [`compile`]).
pub fn lower(kernel: &Kernel, opts: &BuildOptions) -> Result<LoweredKernel, BuildError> {
    if !(opts.target.caps.wgmma && opts.target.caps.tma) {
        return Err(BuildError::NoWgmma {
            target: opts.target.name.to_string(),
        });
    }
    // The target's shared-memory limit bounds the ring, whatever the caller's options said.
    let lowering = LoweringOptions {
        max_shared_bytes: opts.target.caps.max_dynamic_smem,
        shared_per_sm: opts.target.caps.shared_per_sm,
        ..opts.lowering.clone()
    };
    let piped = with_pipeline(kernel, &opts.target)?;
    Ok(lower_sm90a(&piped, &lowering)?)
}

/// The kernel after the target's pass pipeline. Callers normally hand in piped IR (`tessera
/// build` runs the pipeline first, which ends at the distributed level); tile IR without layouts
/// gets the sm_90a pipeline here, so library users and tests reach the same lowering.
fn with_pipeline<'k>(kernel: &'k Kernel, target: &Target) -> Result<Cow<'k, Kernel>, BuildError> {
    let caps =
        tessera_passes::registry::target(target.name).map_err(|e| BuildError::Pipeline(e.to_string()))?;
    if kernel.cta.is_some() {
        return Ok(Cow::Borrowed(kernel));
    }
    let mut module = Module {
        source_name: kernel.name.clone(),
        kernels: vec![kernel.clone()],
    };
    tessera_passes::run_pipeline(
        &mut module,
        caps,
        &PipelineOptions::default(),
        &mut std::io::sink(),
    )
    .map_err(|e| BuildError::Pipeline(e.to_string()))?;
    module
        .kernels
        .pop()
        .map(Cow::Owned)
        .ok_or_else(|| BuildError::Pipeline("the pipeline dropped the kernel".into()))
}

/// Run the whole build for one kernel.
pub fn compile(kernel: &Kernel, opts: &BuildOptions) -> Result<Artifacts, BuildError> {
    let lowered = lower(kernel, opts)?;
    let llvm_ir = mlir_to_llvm_ir(&lowered.mlir)?;
    let ptx = llvm_ir_to_ptx(&llvm_ir, &opts.target).map_err(BuildError::Codegen)?;
    let scan = scan_ptx(&ptx);
    if opts.target.caps.wgmma && !lowered.mma.family.is_empty() {
        expect_mma(&lowered.mma.family, &scan)?;
    }
    let (cubin, ptxas_info, ptxas_skipped) = match opts.ptxas {
        PtxasMode::Off => (None, None, Some("disabled".to_string())),
        PtxasMode::Auto => match ptxas::locate() {
            Err(why) => (None, None, Some(why)),
            Ok(path) => match ptxas::assemble(&path, &ptx, opts.target.ptxas_arch) {
                Ok((cubin, info)) => (Some(cubin), Some(info), None),
                Err(log) => {
                    return Err(BuildError::Ptxas {
                        arch: opts.target.ptxas_arch.into(),
                        log,
                    });
                }
            },
        },
    };
    let mut notes = Vec::new();
    if let Some(n) = &lowered.mma.note {
        notes.push(n.clone());
    }
    if let Some(p) = ptxas_info.as_ref().filter(|p| p.spill_stores_bytes > 0) {
        // Correct but slow: the accumulator fragment (plus the fp8 partial) outgrew the registers.
        notes.push(format!(
            "ptxas spilled {} bytes with {} registers/thread: use a smaller tile (BM, BN or BK){}",
            p.spill_stores_bytes,
            p.registers,
            // fp8 partials are promoted into f32 each K tile, which holds a second accumulator.
            if is_fp8_family(&lowered.mma.family) && !opts.lowering.fp8_fast_accum {
                ", or --fp8-fast-accum"
            } else {
                ""
            }
        ));
    }
    // Said from what the PTX does and what the ABI requires: a map slot without `or_null` makes
    // the launch fail where TMA cannot describe the tensor; with it (the per-op TMA rings) the
    // kernel copies with cp.async there instead.
    if !lowered.mma.family.is_empty() && scan.tma_loads > 0 {
        let strict = lowered
            .abi
            .iter()
            .any(|a| matches!(a, tessera_bundle::AbiArg::TensorMap { or_null: false, .. }));
        notes.push(if strict {
            "operand tensors are read through TMA tensor maps (row-major, K contiguous; row pitch must be a multiple of 16 bytes)"
                .to_string()
        } else {
            "operand tensors are read through TMA tensor maps where their row pitch is a multiple of 16 bytes, else with cp.async (chosen at launch)"
                .to_string()
        });
    }
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
        dequant: lowered.mma.dequant.clone(),
        notes,
    };
    Ok(Artifacts {
        lowered,
        llvm_ir,
        ptx,
        cubin,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_different_mma_is_an_error() {
        let fam = "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3";
        let ok = scan_ptx(&format!("{fam} {{%r1}}, %rd1, %rd2, p, 1, 1;"));
        assert!(expect_mma(fam, &ok).is_ok());
        let other =
            scan_ptx("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%r1}, {%r2}, {%r3}, {%r4};");
        match expect_mma(fam, &other) {
            Err(BuildError::MissingMma { found, .. }) => assert!(found.starts_with("mma.sync"), "{found}"),
            r => panic!("{r:?}"),
        }
        assert!(matches!(
            expect_mma(fam, &scan_ptx("ret;")),
            Err(BuildError::MissingMma { .. })
        ));
    }
}
