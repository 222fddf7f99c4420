//! sm_100a / sm_120a / sm_121a: the native block-scaled NVIDIA lowering
//! (`tessera_target_nvidia::native::build_kernel`), the pinned ptxas for the cubin and the
//! register/spill figures, and the target's refusals rendered as coded diagnostics.

use super::Failure;
use super::lowered::Lowered;
use super::pipeline::SourceText;
use super::{Emit, Knobs, emit};
use serde_json::json;
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::Kernel;
use tessera_target_nvidia::Target;
use tessera_target_nvidia::native::{NativeError, build_kernel};

pub fn build(kernel: &Kernel, target: Target, knobs: &Knobs, src: &SourceText) -> Result<Lowered, Failure> {
    if knobs.emit == Some(Emit::Llvm) {
        return Err(Failure::usage(format!(
            "error: --emit=llvm is not available for {} (use --emit=mlir or --emit=ptx)",
            target.name
        )));
    }
    let nb = build_kernel(kernel, &target).map_err(|e| refusal(&e, src))?;
    match knobs.emit {
        Some(Emit::Mlir) => emit(&nb.build.mlir),
        Some(Emit::Ptx) => emit(&nb.build.ptx),
        Some(Emit::Llvm) | None => {}
    }
    let (cubin, ptxas, skipped) = if knobs.ptxas {
        match tessera_target_nvidia::locate_ptxas() {
            Ok(path) => {
                let (cubin, info) =
                    tessera_target_nvidia::ptxas_assemble(&path, &nb.build.ptx, target.ptxas_arch).map_err(
                        |log| Failure {
                            exit: 1,
                            message: super::hopper::ptxas_rejected(
                                &kernel.name,
                                target.name,
                                target.ptxas_arch,
                                &log,
                            ),
                        },
                    )?;
                (Some(cubin), Some(info), None)
            }
            Err(why) => (None, None, Some(why)),
        }
    } else {
        (None, None, Some("--no-ptxas".to_string()))
    };
    let spill_bytes = ptxas.as_ref().map(|p| u64::from(p.spill_stores_bytes));
    let mut audit_text = nb.build.report_text();
    audit_text.push_str(&match (&ptxas, &skipped) {
        (Some(p), _) => format!(
            "ptxas -arch={}: {} registers, {} bytes static smem, {} bytes stack, spills {} B stores / {} B loads\n",
            target.ptxas_arch,
            p.registers,
            p.static_smem_bytes,
            p.stack_frame_bytes,
            p.spill_stores_bytes,
            p.spill_loads_bytes
        ),
        (None, Some(why)) => format!("ptxas: skipped ({why}); the bundle has PTX only\n"),
        (None, None) => "ptxas: not run\n".to_string(),
    });
    let a = &nb.build.audit;
    let audit_json = json!({
        "target": target.name,
        "ptx_version": a.ptx_version,
        "expected_family": nb.build.family,
        "expected_family_count": a.count(&nb.build.family),
        "block_scaled": a.block_scaled,
        "tcgen05": a.tcgen05,
        "software_dequant": a.dequant,
        "ptxas": ptxas,
        "ptxas_skipped": skipped,
    });
    Ok(Lowered {
        entry: nb.entry,
        abi: nb.abi,
        grid: nb.grid,
        block: nb.block,
        // The native kernels use static shared memory only.
        dynamic_shared_bytes: 0,
        tuning: Vec::new(),
        ptx: Some(nb.build.ptx),
        cubin,
        hsaco: None,
        audit_text,
        audit_json,
        // the native block-scaled GEMM emitters compute offsets in 32 bits
        index_bits: 32,
        spill_bytes,
    })
}

/// A kernel the target cannot express: the coded diagnostic at its span (or a plain coded error
/// when the backend has none, e.g. an internal E0710).
fn refusal(e: &NativeError, src: &SourceText) -> Failure {
    let message = match e.span {
        Some(span) => src.render(
            Diagnostic::error(
                e.code,
                format!("target {} cannot lower {}", e.target, e.what),
                DSpan::new(span.lo, span.hi),
                e.reason.clone(),
            )
            .with_note("docs/TARGETS.md lists what each target lowers natively"),
        ),
        None => format!("{e}\n"),
    };
    Failure { exit: 1, message }
}
