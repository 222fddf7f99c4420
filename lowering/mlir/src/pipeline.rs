//! MLIR text → verified module → conversion passes (in-process, melior) → LLVM IR text through
//! `mlirTranslateModuleToLLVMIR`. Every MLIR diagnostic is captured by a handler and returned in
//! the error: nothing reaches stderr and nothing aborts.

use crate::LoweringError;
use melior::{
    Context,
    dialect::DialectRegistry,
    ir::{Module, operation::OperationLike},
    pass::PassManager,
    utility::{
        parse_pass_pipeline, register_all_dialects, register_all_llvm_translations, register_all_passes,
    },
};
use std::cell::RefCell;
use std::ffi::CStr;
use std::rc::Rc;
use std::sync::Once;

/// scf → cf, then everything to the LLVM dialect. `convert-nvvm-to-llvm` is required: LLVM has no
/// intrinsic for wgmma.mma_async or mbarrier.try_wait.parity, so they become inline PTX.
pub const PIPELINE: &str = "builtin.module(convert-scf-to-cf,convert-nvvm-to-llvm,convert-arith-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts)";

static PASSES: Once = Once::new();

/// A context with every dialect and LLVM translation, whose diagnostics land in `sink`.
pub(crate) fn context(sink: Rc<RefCell<Vec<String>>>) -> Context {
    PASSES.call_once(register_all_passes);
    let registry = DialectRegistry::new();
    register_all_dialects(&registry);
    let context = Context::new();
    context.append_dialect_registry(&registry);
    context.load_all_available_dialects();
    register_all_llvm_translations(&context);
    context.attach_diagnostic_handler(move |d| {
        sink.borrow_mut().push(format!("{}: {d}", d.location()));
        // Handled: MLIR must not print it.
        true
    });
    context
}

fn fail(stage: &'static str, sink: &Rc<RefCell<Vec<String>>>) -> LoweringError {
    let mut diagnostics = sink.borrow_mut().drain(..).collect::<Vec<_>>();
    if diagnostics.is_empty() {
        diagnostics.push("(no diagnostic was emitted)".into());
    }
    LoweringError::Mlir { stage, diagnostics }
}

/// Parse and verify `mlir`, run [`PIPELINE`], and translate to LLVM IR text.
pub fn mlir_to_llvm_ir(mlir: &str) -> Result<String, LoweringError> {
    let sink = Rc::new(RefCell::new(Vec::new()));
    let ctx = context(sink.clone());
    let mut module = Module::parse(&ctx, mlir).ok_or_else(|| fail("parse", &sink))?;
    if !module.as_operation().verify() {
        return Err(fail("verify", &sink));
    }
    let pm = PassManager::new(&ctx);
    parse_pass_pipeline(pm.as_operation_pass_manager(), PIPELINE)
        .map_err(|_| fail("pipeline parse", &sink))?;
    pm.run(&mut module).map_err(|_| fail("pass pipeline", &sink))?;
    translate(&module).ok_or_else(|| fail("translation to LLVM IR", &sink))
}

/// The LLVM-dialect module as LLVM IR text, through a private LLVM context.
fn translate(module: &Module) -> Option<String> {
    // SAFETY: the LLVM context is created and disposed here; the module it owns is disposed before
    // it; the printed string is copied and released with LLVMDisposeMessage.
    unsafe {
        let llctx = mlir_sys::LLVMContextCreate();
        let llmod = mlir_sys::mlirTranslateModuleToLLVMIR(module.as_operation().to_raw(), llctx);
        let text = if llmod.is_null() {
            None
        } else {
            let s = mlir_sys::LLVMPrintModuleToString(llmod);
            let out = CStr::from_ptr(s).to_string_lossy().into_owned();
            mlir_sys::LLVMDisposeMessage(s);
            mlir_sys::LLVMDisposeModule(llmod);
            Some(out)
        };
        mlir_sys::LLVMContextDispose(llctx);
        text
    }
}
