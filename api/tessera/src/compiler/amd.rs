//! gfx950: the scaled-MFMA lowering (`tessera_target_amd::build_kernel`), HSACO linked with
//! `ld.lld` and audited with `llvm-objdump`, and the target's refusals (NVFP4, fnuz, ...) rendered
//! as coded diagnostics.

use super::Failure;
use super::lowered::Lowered;
use super::pipeline::SourceText;
use super::{Emit, Knobs, emit};
use serde_json::json;
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::Kernel;
use tessera_target_amd::AmdError;

pub fn build(kernel: &Kernel, knobs: &Knobs, src: &SourceText) -> Result<Lowered, Failure> {
    if knobs.emit == Some(Emit::Ptx) {
        return Err(Failure::usage(
            "error: --emit=ptx is not available for gfx950 (use --emit=mlir or --emit=llvm)",
        ));
    }
    // The 16x16x128 atom: its per-lane scale layout (amd_lane16x16x128) is the one
    // assign-scale-layout gives gfx950, so kernel.tir and the HSACO agree on the scale buffers.
    let kb = tessera_target_amd::build_kernel(kernel, false).map_err(|e| refusal(&e, src))?;
    match knobs.emit {
        Some(Emit::Mlir) => emit(&kb.build.mlir),
        Some(Emit::Llvm) => emit(&kb.build.hsaco.llvm_ir),
        Some(Emit::Ptx) | None => {}
    }
    let a = &kb.build.audit;
    let audit_json = json!({
        "target": tessera_target_amd::TARGET,
        "atom": format!("{:?}", kb.atom),
        "mfma": a.mfma,
        "software_dequant": a.dequant,
        "vgprs": a.vgprs,
        "agprs": a.agprs,
        "sgprs": a.sgprs,
        "vgpr_spills": a.vgpr_spills,
        "sgpr_spills": a.sgpr_spills,
        "lds_bytes": a.lds_bytes,
        "elf_abi_version": a.abi_version,
    });
    Ok(Lowered {
        entry: kb.entry,
        abi: kb.abi,
        grid: kb.grid,
        block: kb.block,
        dynamic_shared_bytes: 0,
        tuning: Vec::new(),
        ptx: None,
        cubin: None,
        hsaco: Some(kb.build.hsaco.elf.clone()),
        audit_text: kb.build.report_text(),
        audit_json,
        // the native block-scaled GEMM emitters compute offsets in 32 bits
        index_bits: 32,
        spill_bytes: None,
    })
}

fn refusal(e: &AmdError, src: &SourceText) -> Failure {
    let message = match e {
        AmdError::Unsupported {
            code,
            target,
            what,
            reason,
            span: Some(span),
        } => src.render(
            Diagnostic::error(
                code,
                format!("target {target} cannot lower {what}"),
                DSpan::new(span.lo, span.hi),
                reason.clone(),
            )
            .with_note("docs/TARGETS.md lists what each target lowers natively"),
        ),
        other => format!("error: target gfx950: {other}\n"),
    };
    Failure { exit: 1, message }
}
