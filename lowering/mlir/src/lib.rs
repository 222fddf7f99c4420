//! Tile IR to MLIR (upstream dialects) to LLVM IR; the only crate that names melior.
//!
//! [`lower_sm90a`] turns a checked kernel at the distributed level (after the sm_90a pipeline's
//! `assign-layouts`) into MLIR (llvm + nvvm + scf + arith dialects) and its launch contract (ABI,
//! block, shared memory). Every kernel is lowered op by op (`general`): elementwise math,
//! reductions, loads and stores, loops, and dots on `wgmma.mma_async` with their operands staged
//! through shared-memory rings (TMA or `cp.async`). No kernel is recognised as a known program:
//! the last such schedule (the FA-style FP8 attention) was deleted in session 12, once the per-op
//! lowering ran that attention faster (docs/PERFORMANCE.md). [`mlir_to_llvm_ir`] verifies the
//! MLIR, runs the conversion passes in-process and translates to LLVM IR; codegen is the target's
//! job.
//!
//! Layout: `general` (the per-op lowering), `abi` (parameters), `pipeline` (melior: parse,
//! verify, passes, translate), `native_scaled` (the block-scaled native targets' helpers).

mod abi;
mod error;
mod general;
mod pipeline;
// Owned by the native block-scaled backends (sm_100a / sm_120a / gfx950): lane-index expressions,
// a small MLIR text builder and MLIR -> LLVM IR text for the target crates.
pub mod native_scaled;

pub use error::LoweringError;
pub use pipeline::{PIPELINE, mlir_to_llvm_ir};
use tessera_bundle::AbiArg;
use tessera_ir::Kernel;

/// The largest dynamic shared memory block an sm_90 CTA may opt into (227 KiB).
pub const SM90_MAX_DYNAMIC_SMEM: u32 = 232_448;
/// Shared memory of one sm_90 SM (228 KiB), shared by the CTAs resident on it.
pub const SM90_SHARED_PER_SM: u32 = 233_472;

/// Tuning knobs of the sm_90a lowering (tile sizes come from the kernel's tile parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoweringOptions {
    /// Shared-memory ring depth (`--stages`); at least 2, reduced (with a note) when it does not
    /// fit. `None`: the deepest ring that leaves room for two CTAs per SM (general/ring.rs).
    pub stages: Option<u32>,
    /// Shared memory one CTA may use (static + dynamic), from the target's capabilities.
    pub max_shared_bytes: u32,
    /// Shared memory of one SM, which its resident CTAs share, from the target's capabilities.
    pub shared_per_sm: u32,
    /// fp8 only: let the wgmma chain accumulate across the whole K loop (Hopper's fp8 MMA keeps
    /// fewer accumulator bits) instead of promoting each K tile's partial into f32 registers.
    pub fp8_fast_accum: bool,
    /// Per-op dots: loads that only feed a dot are copied by the dot with `cp.async`, through a
    /// ring of stages across loop iterations where the dot is in a loop, and in-place wgmma
    /// chains share one wait (general/async_copy.rs, general/ring.rs). On by default (validated
    /// on the H200, docs/GPU-TESTING.md); off (`--no-async-copies`), operands are staged from
    /// registers.
    pub async_copies: bool,
    /// Per-op dots of NVFP4 operands (with a bf16 partner) on bf16 wgmma: `code * s` is exact in
    /// bf16 and the per-tensor scales multiply each dot's partial. On by default (validated on the
    /// H200, session 7: docs/GPU-TESTING.md); off (`--no-nvfp4-wgmma`), NVFP4 dots take the f32
    /// FMA path.
    pub nvfp4_wgmma: bool,
    /// Async copies (and rings) also for MXFP8 dot operands taken as codes: the e4m3/e5m2 codes
    /// are copied like plain fp8 tiles and each K group's e8m0 scales are read from global
    /// memory into the dot's scale tables. On by default (validated on the H200, session 7); off
    /// (`--no-async-scaled-copies`), codes and scales go through registers.
    pub async_scaled_copies: bool,
    /// Packed FP4 dot operands (MXFP4, NVFP4) staged by the dot from their bytes, 8 or 16 codes
    /// per thread at a time, into the e4m3 or bf16 tile wgmma reads (general/packed.rs). On by
    /// default; off (`--no-packed-fp4-staging`), their codes go through registers one per
    /// register.
    pub packed_fp4_staging: bool,
    /// Per-op rings whose operand tiles TMA can copy as the stage holds them are filled by TMA
    /// (one thread, an mbarrier per stage; general/ring.rs), with `cp.async` kept for launches
    /// whose tensors TMA cannot describe. On by default; off (`--no-tma-rings`), every ring is
    /// filled by `cp.async`.
    pub tma_rings: bool,
}

impl Default for LoweringOptions {
    fn default() -> Self {
        LoweringOptions {
            stages: None,
            max_shared_bytes: SM90_MAX_DYNAMIC_SMEM,
            shared_per_sm: SM90_SHARED_PER_SM,
            fp8_fast_accum: false,
            async_copies: true,
            nvfp4_wgmma: true,
            async_scaled_copies: true,
            packed_fp4_staging: true,
            tma_rings: true,
        }
    }
}

/// What the lowering chose for the kernel's `dot`, for the build report and its checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmaSummary {
    /// The PTX instruction family expected in the output, e.g.
    /// `wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3`.
    pub family: String,
    /// wgmma instructions issued per K tile by the whole CTA.
    pub per_k_tile: u32,
    pub operand_a: String,
    pub operand_b: String,
    pub stages: u32,
    /// How scaled operands are dequantized (the report's "dequant:" line).
    pub dequant: String,
    /// Why the plan differs from what was asked, if it does.
    pub note: Option<String>,
}

/// A kernel lowered to MLIR, with its launch contract.
#[derive(Clone, Debug)]
pub struct LoweredKernel {
    /// Entry-point symbol.
    pub entry: String,
    /// The generated MLIR (before any pass).
    pub mlir: String,
    pub abi: Vec<AbiArg>,
    pub block: [u32; 3],
    pub dynamic_shared_bytes: u32,
    /// Chosen tile sizes and pipeline parameters.
    pub tuning: Vec<(String, i64)>,
    pub mma: MmaSummary,
    /// Width of the element offsets the kernel computes (meta.json's `index_bits`): 64, as the
    /// per-op lowering computes every offset (tensors may exceed 2^31 elements).
    pub index_bits: u32,
}

/// Lower a checked kernel at the distributed level (after the sm_90a pipeline) to sm_90a MLIR, op
/// by op (`general`). What the target cannot run is `Err(Unsupported { what, span })` at the op
/// responsible; this never panics on verified IR.
pub fn lower_sm90a(kernel: &Kernel, opts: &LoweringOptions) -> Result<LoweredKernel, LoweringError> {
    if kernel.cta.is_none() {
        return Err(LoweringError::unsupported(
            format!(
                "kernel `{}` is tile IR without layouts; run the sm_90a pass pipeline \
(`tessera_passes::run_pipeline`, as `tessera build` does) before lowering it",
                kernel.name
            ),
            kernel.span,
        ));
    }
    general::lower(kernel, opts)
}
