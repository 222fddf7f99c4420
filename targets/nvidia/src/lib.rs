//! NVIDIA targets: capabilities as data, the sm_90a build (lowering through MLIR, inkwell NVPTX
//! codegen, the pinned ptxas), the build report and the artifact bundle.
//!
//! Modules: `target` (targets and capabilities), `compile` (the stage ladder and its checks),
//! `codegen` (LLVM IR → PTX), `ptxas` (locate, assemble, parse -v), `report` (PTX scan and the
//! report), `bundle` (meta.json and the bundle).

mod bundle;
mod codegen;
mod compile;
mod ptxas;
mod report;
mod target;

pub use bundle::{Source, make_bundle};
pub use codegen::llvm_ir_to_ptx;
pub use compile::{Artifacts, BuildError, BuildOptions, PtxasMode, compile, lower};
pub use ptxas::{
    PtxasInfo, assemble as ptxas_assemble, locate as locate_ptxas, parse_verbose as parse_ptxas_verbose,
};
pub use report::{BuildReport, PtxScan, scan_ptx};
pub use target::{Capabilities, SM90A, TARGETS, Target, by_name};
pub use tessera_lowering_mlir::{LoweredKernel, LoweringError, LoweringOptions, MmaSummary, mlir_to_llvm_ir};

// Native block-scaled backends (sm_100a tcgen05, sm_120a/sm_121a mma.sync block_scale): targets,
// lane maps, kernel generators and the PTX instruction audit.
pub mod native;
pub mod sm100;
pub mod sm100_kernel;
pub mod sm120;
pub mod sm120_kernel;
