//! LLVM IR → AMDGPU object (inkwell, gfx950) → HSACO (`ld.lld -shared`). The code object version
//! is set explicitly as a module flag (LLVM 22 defaults to v6; ROCm runtimes of the lent kind
//! load v5), so the choice is visible in the IR and checkable in the ELF header.

use crate::error::AmdError;
use crate::tools::{llvm_tool, run, scratch_dir};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::FlagBehavior;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetTriple};
use std::ffi::OsStr;

pub const TRIPLE: &str = "amdgcn-amd-amdhsa";

/// A linked gfx950 code object and the stages that produced it.
#[derive(Clone, Debug)]
pub struct Hsaco {
    pub llvm_ir: String,
    pub object: Vec<u8>,
    pub elf: Vec<u8>,
}

/// Compile LLVM IR text for `cpu` (gfx950) with code object version `cov` (5 or 6) and link it.
pub fn compile_llvm_ir(ir: &str, cpu: &str, cov: u32) -> Result<Hsaco, AmdError> {
    let ctx = Context::create();
    let buf = MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), "tessera_amd");
    let module = ctx
        .create_module_from_ir(buf)
        .map_err(|e| AmdError::Codegen(format!("LLVM IR does not parse: {e}")))?;
    let cov_value = ctx.i32_type().const_int(u64::from(cov) * 100, false);
    module.add_basic_value_flag("amdhsa_code_object_version", FlagBehavior::Error, cov_value);
    Target::initialize_amd_gpu(&InitializationConfig::default());
    let target = Target::from_name("amdgcn")
        .ok_or_else(|| AmdError::Codegen("AMDGPU target not built into LLVM".into()))?;
    let triple = TargetTriple::create(TRIPLE);
    let tm = target
        .create_target_machine(
            &triple,
            cpu,
            "",
            OptimizationLevel::Aggressive,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| AmdError::Codegen(format!("no target machine for {TRIPLE} / {cpu}")))?;
    module.set_triple(&triple);
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    module
        .verify()
        .map_err(|e| AmdError::Codegen(format!("LLVM IR does not verify: {e}")))?;
    let object = tm
        .write_to_memory_buffer(&module, FileType::Object)
        .map_err(|e| AmdError::Codegen(e.to_string()))?
        .as_slice()
        .to_vec();
    let elf = link(&object)?;
    Ok(Hsaco {
        llvm_ir: ir.to_string(),
        object,
        elf,
    })
}

/// `ld.lld -shared` the object into an HSACO.
pub fn link(object: &[u8]) -> Result<Vec<u8>, AmdError> {
    let lld = llvm_tool("ld.lld")?;
    let dir = scratch_dir("amd-link")?;
    let (o, so) = (dir.join("k.o"), dir.join("k.hsaco"));
    let io = |e: std::io::Error| AmdError::Tool {
        tool: "ld.lld".into(),
        message: e.to_string(),
    };
    let result = (|| {
        std::fs::write(&o, object).map_err(io)?;
        run(
            &lld,
            &[
                OsStr::new("-shared"),
                o.as_os_str(),
                OsStr::new("-o"),
                so.as_os_str(),
            ],
        )?;
        std::fs::read(&so).map_err(io)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
