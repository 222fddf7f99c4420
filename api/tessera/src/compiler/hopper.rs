//! sm_90a: the per-op lowering through
//! `tessera_target_nvidia::compile`, with `--emit` stages and lowering errors rendered against the
//! source.

use super::Failure;
use super::lowered::Lowered;
use super::pipeline::SourceText;
use super::{Emit, Knobs, emit};
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::Kernel;
use tessera_target_nvidia::{BuildError, BuildOptions, LoweringError, LoweringOptions, PtxasMode, Target};

/// Code of a lowering error that points at the user's source (an op the sm_90a lowering cannot
/// compile, with the reason). Not a checker code: the checker accepts these programs.
pub const UNSUPPORTED_ON_TARGET: &str = "L0001";
/// ptxas rejected the PTX of an NVIDIA target (the log is kept in the message).
pub const E_PTXAS: &str = "E0713";
/// A tensor too large for 32-bit element offsets. Since the GEMM mainloop and the attention
/// schedule were removed no sm_90a build reports it (the per-op lowering computes 64-bit
/// offsets); kept so the code keeps its meaning.
pub const E_TOO_LARGE: &str = "E0714";
/// An internal failure of the sm_90a backend (MLIR rejected the generated module, codegen, a
/// missing MMA): a compiler bug, reported with what the tool said.
pub const E_BACKEND_INTERNAL: &str = "E0715";

/// The message of a ptxas rejection: coded, naming the kernel and the target, with ptxas's log.
pub fn ptxas_rejected(kernel: &str, target: &str, arch: &str, log: &str) -> String {
    format!(
        "error[{E_PTXAS}]: target {target}: ptxas rejected the PTX generated for kernel `{kernel}` (-arch={arch}); no bundle was written. ptxas said:\n{}\n  help: the usual cause is register pressure: a smaller BM/BN tile (or fewer stages) fits; `--no-ptxas --emit=ptx` shows the PTX\n",
        log.trim_end()
    )
}

pub fn build(kernel: &Kernel, target: Target, knobs: &Knobs, src: &SourceText) -> Result<Lowered, Failure> {
    let opts = BuildOptions {
        target,
        lowering: LoweringOptions {
            stages: knobs.stages,
            fp8_fast_accum: knobs.fp8_fast_accum,
            async_copies: knobs.async_copies,
            nvfp4_wgmma: knobs.nvfp4_wgmma,
            async_scaled_copies: knobs.async_scaled_copies,
            packed_fp4_staging: knobs.packed_fp4_staging,
            tma_rings: knobs.tma_rings,
            ..LoweringOptions::default()
        },
        ptxas: if knobs.ptxas {
            PtxasMode::Auto
        } else {
            PtxasMode::Off
        },
    };
    let fail = |e: BuildError| Failure {
        exit: 1,
        message: render(&e, &kernel.name, target.name, src),
    };
    if knobs.emit == Some(Emit::Mlir) {
        // Printed even when a later stage fails: that is when one wants to see it.
        emit(&tessera_target_nvidia::lower(kernel, &opts).map_err(fail)?.mlir);
    }
    let art = tessera_target_nvidia::compile(kernel, &opts).map_err(fail)?;
    match knobs.emit {
        Some(Emit::Llvm) => emit(&art.llvm_ir),
        Some(Emit::Ptx) => emit(&art.ptx),
        Some(Emit::Mlir) | None => {}
    }
    let audit_text = art.report.to_text();
    let audit_json = serde_json::to_value(&art.report).unwrap_or(serde_json::Value::Null);
    Ok(Lowered {
        entry: art.lowered.entry.clone(),
        abi: art.lowered.abi.clone(),
        grid: kernel.grid.clone(),
        block: art.lowered.block,
        dynamic_shared_bytes: art.lowered.dynamic_shared_bytes,
        tuning: art.lowered.tuning.clone(),
        ptx: Some(art.ptx.clone()),
        cubin: art.cubin.clone(),
        hsaco: None,
        audit_text,
        audit_json,
        index_bits: art.lowered.index_bits,
        spill_bytes: art.report.ptxas.as_ref().map(|p| u64::from(p.spill_stores_bytes)),
    })
}

/// Lowering errors with a span are shown against the source like any diagnostic.
fn render(e: &BuildError, kernel: &str, target: &str, src: &SourceText) -> String {
    match e {
        BuildError::Lowering(le @ LoweringError::Unsupported { what, span }) => src.render(
            Diagnostic::error(
                UNSUPPORTED_ON_TARGET,
                format!("target {target}: {le}"),
                DSpan::new(span.lo, span.hi),
                what.clone(),
            )
            .with_note(
                "on sm_90a every kernel is lowered op by op; see docs/dev/per-op-lowering.md",
            ),
        ),
        BuildError::Lowering(le @ LoweringError::TooLarge { span, .. }) => src.render(
            Diagnostic::error(
                E_TOO_LARGE,
                format!("target {target}: {le}"),
                DSpan::new(span.lo, span.hi),
                "more than 2^31 - 1 elements",
            )
            .with_note(
                "use symbolic dims (passed at launch) for large tensors, or split the tensor; the per-op sm_90a lowering (kernels without a dot) uses 64-bit offsets",
            ),
        ),
        BuildError::Ptxas { arch, log } => ptxas_rejected(kernel, target, arch, log),
        other => format!(
            "error[{E_BACKEND_INTERNAL}]: target {target}: kernel `{kernel}`: internal error in the sm_90a backend (please report it with the .tsr): {other}\n"
        ),
    }
}
