//! MLIR text → LLVM IR text for the native block-scaled backends. The target crates generate
//! LLVM-dialect MLIR with `nvvm.*` / `rocdl.*` ops from their MMA-atom lane maps; this is the one
//! step that needs melior: parse, run a pass pipeline (e.g. `convert-nvvm-to-llvm` for
//! `mbarrier.try_wait`), translate to LLVM IR. The result is text, so this crate never links
//! inkwell (boundary rule): the target crate parses it into its own LLVM context for codegen.

use melior::{
    Context,
    dialect::DialectRegistry,
    ir::Module,
    pass::PassManager,
    utility::{
        parse_pass_pipeline, register_all_dialects, register_all_llvm_translations, register_all_passes,
    },
};
use std::sync::{Arc, Mutex, Once};

/// Why MLIR text could not be turned into LLVM IR. Always a compiler bug once the tile IR
/// verified (the text is generated), so the messages carry MLIR's own diagnostics verbatim.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NativeMlirError {
    #[error("generated MLIR contains a NUL byte at offset {0}")]
    NulByte(usize),
    #[error("generated MLIR does not parse: {0}")]
    Parse(String),
    #[error("MLIR pass pipeline `{pipeline}` is invalid: {message}")]
    Pipeline { pipeline: String, message: String },
    #[error("MLIR pass pipeline `{pipeline}` failed: {message}")]
    PassFailed { pipeline: String, message: String },
    #[error("translation of the LLVM-dialect module to LLVM IR failed: {0}")]
    Translate(String),
}

/// Parse `mlir`, run `pipeline` (a textual pass pipeline such as
/// `builtin.module(convert-nvvm-to-llvm,reconcile-unrealized-casts)`; `None` runs nothing) and
/// return the module translated to LLVM IR text.
pub fn mlir_to_llvm_ir(mlir: &str, pipeline: Option<&str>) -> Result<String, NativeMlirError> {
    if let Some(at) = mlir.find('\0') {
        return Err(NativeMlirError::NulByte(at));
    }
    let context = context();
    // MLIR reports through the diagnostic engine, not return values: collect what it says.
    let diags = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&diags);
    context.attach_diagnostic_handler(move |d| {
        if let Ok(mut v) = sink.lock() {
            v.push(format!("{}: {}", d.location(), d));
        }
        true
    });
    let said = || diags.lock().map(|v| v.join("; ")).unwrap_or_default();
    let mut module = Module::parse(&context, mlir).ok_or_else(|| NativeMlirError::Parse(said()))?;
    if let Some(p) = pipeline {
        let pm = PassManager::new(&context);
        parse_pass_pipeline(pm.as_operation_pass_manager(), p).map_err(|e| NativeMlirError::Pipeline {
            pipeline: p.to_string(),
            message: e.to_string(),
        })?;
        pm.run(&mut module).map_err(|_| NativeMlirError::PassFailed {
            pipeline: p.to_string(),
            message: said(),
        })?;
    }
    // SAFETY: the operation is a live, verified builtin.module owned by `module`; the returned
    // string is malloc'ed by the C API, copied here and freed with the matching LLVM routine.
    let text = unsafe {
        let raw = mlir_sys::mlirTranslateModuleToLLVMIRToString(module.as_operation().to_raw());
        if raw.is_null() {
            return Err(NativeMlirError::Translate(said()));
        }
        let s = std::ffi::CStr::from_ptr(raw).to_string_lossy().into_owned();
        mlir_sys::LLVMDisposeMessage(raw);
        s
    };
    if text.trim().is_empty() {
        return Err(NativeMlirError::Translate(said()));
    }
    Ok(text)
}

/// A context with every upstream dialect and translation loaded (LLVM, NVVM, ROCDL ...).
fn context() -> Context {
    static PASSES: Once = Once::new();
    // Pass registration is process-global in MLIR and not idempotent-safe to race: do it once.
    PASSES.call_once(register_all_passes);
    let registry = DialectRegistry::new();
    register_all_dialects(&registry);
    let context = Context::new();
    context.append_dialect_registry(&registry);
    context.load_all_available_dialects();
    register_all_llvm_translations(&context);
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_a_rocdl_module() {
        let mlir = r#"module {
  llvm.func @k(%p: !llvm.ptr<1>) attributes {rocdl.kernel} {
    %t = rocdl.workitem.id.x : i32
    llvm.store %t, %p : i32, !llvm.ptr<1>
    llvm.return
  }
}"#;
        let ir = mlir_to_llvm_ir(mlir, Some("builtin.module(reconcile-unrealized-casts)")).unwrap();
        assert!(ir.contains("amdgpu_kernel"), "{ir}");
        assert!(ir.contains("llvm.amdgcn.workitem.id.x"), "{ir}");
    }

    #[test]
    fn parse_errors_carry_mlir_diagnostics() {
        let err = mlir_to_llvm_ir("module { llvm.func @k( }", None).unwrap_err();
        match err {
            NativeMlirError::Parse(m) => assert!(!m.is_empty()),
            e => panic!("unexpected {e:?}"),
        }
    }
}
