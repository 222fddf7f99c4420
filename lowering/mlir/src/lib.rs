//! Tile IR to MLIR (upstream dialects) to LLVM IR; the only crate that names melior.
//!
//! [`lower_sm90a`] turns a checked GEMM-shaped kernel into MLIR text (llvm + nvvm + scf + arith
//! dialects) with the Hopper structure: TMA into a multi-stage shared-memory ring, mbarriers,
//! `wgmma.mma_async` issued by warpgroups, and a register epilogue with masked stores. It also
//! returns the launch contract (ABI, block, shared memory). [`mlir_to_llvm_ir`] verifies the text,
//! runs the conversion passes in-process and translates to LLVM IR; codegen is the target's job.
//!
//! Layout: `pattern` (recognise the GEMM), `abi` (parameters), `mainloop` (TMA ring + mbarriers +
//! wgmma), `blockscale` (f32 block scales promoted per K tile), `fused` (MX / NVFP4 / explicit
//! dequant: e8m0 promotion per 32-K sub-block, or FP4/FP8 codes converted to bf16 in shared
//! memory), `wgmma` (descriptor, fragment layout), `epilogue` (per-element evaluation, stores),
//! `access` (masked addressing), `scalar` (elementwise ops), `text` (the MLIR text builder),
//! `pipeline` (melior: parse, verify, passes, translate). `@reference(attention)` kernels take
//! `attention` instead (FP8 online-softmax attention forward: two e4m3 wgmma products per key tile).

mod abi;
mod access;
mod attention;
mod blockscale;
mod epilogue;
mod error;
mod fused;
mod general;
mod lower;
mod mainloop;
mod pattern;
mod pipeline;
mod scalar;
mod smem;
mod text;
mod wgmma;
// Owned by the native block-scaled backends (sm_100a / sm_120a / gfx950): lane-index expressions,
// a small MLIR text builder and MLIR -> LLVM IR text for the target crates.
pub mod native_scaled;

pub use error::LoweringError;
pub use mainloop::{DEFAULT_STAGES, SM90_MAX_DYNAMIC_SMEM, SM90_SHARED_PER_SM};
pub use pipeline::{PIPELINE, mlir_to_llvm_ir};
use tessera_bundle::AbiArg;
use tessera_ir::Kernel;

/// Tuning knobs of the sm_90a lowering (tile sizes come from the kernel's tile parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoweringOptions {
    /// Shared-memory ring depth (`--stages`); at least 2, reduced (with a note) when it does not
    /// fit. `None`: the TMA mainloop takes [`DEFAULT_STAGES`], the per-op rings the deepest that
    /// leaves room for two CTAs per SM (general/ring.rs).
    pub stages: Option<u32>,
    /// Shared memory one CTA may use (static + dynamic), from the target's capabilities.
    pub max_shared_bytes: u32,
    /// Shared memory of one SM, which its resident CTAs share, from the target's capabilities.
    pub shared_per_sm: u32,
    /// fp8 only: let the wgmma chain accumulate across the whole K loop (Hopper's fp8 MMA keeps
    /// fewer accumulator bits) instead of promoting each K tile's partial into f32 registers.
    pub fp8_fast_accum: bool,
    /// Let the Hopper fast schedules (the TMA GEMM mainloop, the FA attention) take the kernels
    /// they implement exactly. Off: every kernel is lowered per op (`tessera build
    /// --no-schedules`), which is how the GPU scripts compare the two paths in one call.
    pub schedules: bool,
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
            schedules: true,
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
    /// Width of the element offsets the kernel computes (meta.json's `index_bits`): 64 for the
    /// per-op lowering, 32 for the Hopper GEMM/attention emitters.
    pub index_bits: u32,
}

/// Lower a checked kernel to sm_90a MLIR. Shapes the Hopper mainloop does not cover yet are
/// `Err(Unsupported { what, span })`; this never panics on verified IR.
///
/// A kernel at the distributed level (after `assign-layouts`) is lowered per op (`general`),
/// except the scaled GEMMs the Hopper mainloop implements and the FP8 attention the FA schedule
/// implements, which still run faster on those emitters (they read the tile-IR view of the
/// kernel, layouts erased).
pub fn lower_sm90a(kernel: &Kernel, opts: &LoweringOptions) -> Result<LoweredKernel, LoweringError> {
    if kernel.cta.is_none() {
        return lower::lower_kernel(kernel, opts);
    }
    if !has_dot(&kernel.body) || !opts.schedules {
        return general::lower(kernel, opts);
    }
    let tile = tessera_ir::erase_layouts(kernel);
    let per_op = || general::lower(kernel, opts);
    let schedules = || lower::lower_kernel(&tile, opts);
    // GEMMs the per-op path runs at least as fast as the mainloop (`lower::per_op_gemm`) are
    // lowered per op; the mainloop takes one only where the per-op path refuses it.
    if opts.async_copies && lower::per_op_gemm(&tile, opts) && general::folds_explicit_dequants(kernel, opts)
    {
        return first_then(per_op, schedules, true);
    }
    // Fast structures first: the TMA/mbarrier GEMM mainloop (for scaled operands) and the
    // FA-style attention schedule take the programs they implement exactly; every other dot
    // program is lowered per op.
    first_then(schedules, per_op, false)
}

/// `first`, or where it refuses the kernel, `second`. When both refuse, the per-op path's refusal
/// (its reason and span) is reported, with the Hopper schedules' reason as context.
fn first_then(
    first: impl FnOnce() -> Result<LoweredKernel, LoweringError>,
    second: impl FnOnce() -> Result<LoweredKernel, LoweringError>,
    per_op_first: bool,
) -> Result<LoweredKernel, LoweringError> {
    match first() {
        Err(LoweringError::Unsupported { what, span }) => second().map_err(|e| match e {
            LoweringError::Unsupported { what: w2, span: s2 } => {
                let ((per_op, at), schedule) = if per_op_first {
                    ((what, span), w2)
                } else {
                    ((w2, s2), what)
                };
                LoweringError::Unsupported {
                    what: format!(
                        "{per_op} (the Hopper GEMM/attention schedule does not take this kernel either: {schedule})"
                    ),
                    span: at,
                }
            }
            other => other,
        }),
        r => r,
    }
}

/// Whether the sm_90a attention schedule takes `kernel` (tile IR): `Ok(())` for the program it
/// implements exactly, the first differing op otherwise (tests and reports use it).
pub fn attention_schedule_check(kernel: &Kernel) -> Result<(), LoweringError> {
    match attention::recognise(kernel) {
        Some(r) => r.map(|_| ()),
        None => Err(LoweringError::unsupported(
            "not an FP8 attention forward of the form of dsl_examples/attention_fp8.tsr",
            kernel.span,
        )),
    }
}

fn has_dot(b: &tessera_ir::Block) -> bool {
    b.ops.iter().any(|op| {
        matches!(op.kind, tessera_ir::OpKind::Dot { .. }) || op.kind.blocks().into_iter().any(has_dot)
    })
}
