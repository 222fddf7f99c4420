//! sm_90a: the Hopper mainloop (TMA + mbarrier + wgmma) through `tessera_target_nvidia::compile`,
//! with `--emit` stages and lowering errors rendered against the source.

use super::Failure;
use super::lowered::Lowered;
use super::pipeline::SourceText;
use super::{Emit, Knobs, emit};
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::Kernel;
use tessera_target_nvidia::{BuildError, BuildOptions, LoweringError, LoweringOptions, PtxasMode, Target};

/// Code of a lowering error that points at the user's source (an IR shape the Hopper lowering
/// cannot compile). Not a checker code: the checker accepts these programs.
pub const UNSUPPORTED_ON_TARGET: &str = "L0001";

pub fn build(kernel: &Kernel, target: Target, knobs: &Knobs, src: &SourceText) -> Result<Lowered, Failure> {
    let opts = BuildOptions {
        target,
        lowering: LoweringOptions {
            stages: knobs.stages,
            fp8_fast_accum: knobs.fp8_fast_accum,
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
        message: render(&e, target.name, src),
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
        audit_text: art.report.to_text(),
        audit_json,
    })
}

/// Lowering errors with a span are shown against the source like any diagnostic.
fn render(e: &BuildError, target: &str, src: &SourceText) -> String {
    match e {
        BuildError::Lowering(le @ LoweringError::Unsupported { what, span }) => src.render(
            Diagnostic::error(
                UNSUPPORTED_ON_TARGET,
                format!("target {target}: {le}"),
                DSpan::new(span.lo, span.hi),
                what.clone(),
            )
            .with_note(
                "on sm_90a, kernels without a dot are lowered op by op; kernels with a dot use the Hopper GEMM mainloop or the FP8 attention schedule (exactly dsl_examples/attention_fp8.tsr); see docs/dev/hopper-gemm.md and docs/dev/per-op-lowering.md",
            ),
        ),
        other => format!("error: target {target}: {other}\n"),
    }
}
