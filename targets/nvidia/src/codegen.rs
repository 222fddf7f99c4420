//! LLVM IR text → PTX through inkwell's NVPTX TargetMachine (in-process; no llc).

use crate::target::Target;
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target as LlvmTarget, TargetTriple,
};
use std::sync::Once;

static INIT: Once = Once::new();

/// Parse `llvm_ir`, optimise it at O3 (inlines helpers, hoists the epilogue's loads), and emit PTX.
pub fn llvm_ir_to_ptx(llvm_ir: &str, target: &Target) -> Result<String, String> {
    INIT.call_once(|| LlvmTarget::initialize_nvptx(&InitializationConfig::default()));
    let ctx = Context::create();
    let buf = MemoryBuffer::create_from_memory_range_copy(llvm_ir.as_bytes(), "tessera");
    let module = ctx
        .create_module_from_ir(buf)
        .map_err(|e| format!("LLVM IR parse: {e}"))?;
    let llvm_target = LlvmTarget::from_name("nvptx64").ok_or("the NVPTX backend is not linked")?;
    let triple = TargetTriple::create(target.triple);
    let tm = llvm_target
        .create_target_machine(
            &triple,
            target.cpu,
            target.features,
            OptimizationLevel::Aggressive,
            RelocMode::Default,
            CodeModel::Default,
        )
        .ok_or_else(|| format!("no target machine for {} {}", target.triple, target.cpu))?;
    module.set_triple(&triple);
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    module.verify().map_err(|e| format!("LLVM verifier: {e}"))?;
    module
        .run_passes("default<O3>", &tm, PassBuilderOptions::create())
        .map_err(|e| format!("LLVM O3 pipeline: {e}"))?;
    let ptx = tm
        .write_to_memory_buffer(&module, FileType::Assembly)
        .map_err(|e| format!("NVPTX codegen: {e}"))?;
    String::from_utf8(ptx.as_slice().to_vec()).map_err(|_| "NVPTX emitted non-UTF-8 PTX".to_string())
}
