//! Orchestrates the lowering of one GEMM-shaped kernel: the ABI, the top-level scalar math (program
//! ids, tile origins), the Hopper mainloop, the epilogue, and the module text around them.

use crate::abi::{self, Abi};
use crate::epilogue;
use crate::mainloop::{self, MainloopPlan};
use crate::pattern::{self, GemmPattern};
use crate::scalar;
use crate::text::Body;
use crate::{LoweredKernel, LoweringError, LoweringOptions};
use std::collections::{HashMap, HashSet};
use tessera_ir::{DType, Dim, Kernel, OpKind, ParamId, ParamKind, Span, Type, ValueId};

/// Lowering state shared by the mainloop and epilogue emitters.
pub(crate) struct Lower<'k> {
    pub k: &'k Kernel,
    pub b: Body,
    pub abi: Abi,
    /// SSA name of every top-level scalar value (emitted once at function entry).
    pub scalars: HashMap<ValueId, String>,
    /// Tensor parameters read through TMA (they have no element pointer).
    pub tma_params: HashSet<ParamId>,
}

impl Lower<'_> {
    /// The SSA name of a top-level scalar value.
    pub(crate) fn scalar(&self, v: ValueId, span: Span) -> Result<String, LoweringError> {
        self.scalars.get(&v).cloned().ok_or_else(|| {
            LoweringError::unsupported(format!("value %{} is not a kernel-level scalar", v.0), span)
        })
    }

    /// Emit the top-level scalar ops in program order. Tile ops are left to the epilogue, which
    /// evaluates them per accumulator element.
    fn emit_top_scalars(&mut self, pat: &GemmPattern) -> Result<(), LoweringError> {
        for op in &pat.top {
            let scalar_results = op
                .results
                .iter()
                .all(|r| matches!(self.k.ty(*r), Type::Scalar(_)));
            match &op.kind {
                OpKind::Store { .. } => {}
                OpKind::SymDim { sym } if scalar_results => {
                    let v = self.abi.syms.get(*sym as usize).cloned().ok_or_else(|| {
                        LoweringError::unsupported(format!("symbolic dim #{sym} out of range"), op.span)
                    })?;
                    for r in &op.results {
                        self.scalars.insert(*r, v.clone());
                    }
                }
                OpKind::Load { access, other } if scalar_results && !op.results.is_empty() => {
                    let v = self.masked_load(access, &[], *other, op.span)?;
                    self.scalars.insert(op.results[0], v);
                }
                OpKind::ConstInt { .. }
                | OpKind::ConstFloat { .. }
                | OpKind::ProgramId { .. }
                | OpKind::NumPrograms { .. }
                | OpKind::Binary { .. }
                | OpKind::Unary { .. }
                | OpKind::Cmp { .. }
                | OpKind::Select { .. }
                | OpKind::Cast { .. }
                    if scalar_results && !op.results.is_empty() =>
                {
                    let mut args = Vec::new();
                    for a in op.kind.operands() {
                        args.push((self.scalar(a, op.span)?, self.k.ty(a).dtype()));
                    }
                    let out = self.k.ty(op.results[0]).dtype();
                    let v = scalar::elementwise(&mut self.b, &op.kind, &args, out, op.span)?;
                    self.scalars.insert(op.results[0], v);
                }
                OpKind::Full { .. }
                | OpKind::Arange { .. }
                | OpKind::Broadcast { .. }
                | OpKind::ExpandDims { .. }
                | OpKind::Transpose { .. }
                | OpKind::Binary { .. }
                | OpKind::Unary { .. }
                | OpKind::Cmp { .. }
                | OpKind::Select { .. }
                | OpKind::Cast { .. }
                | OpKind::Load { .. } => {}
                other => {
                    return Err(LoweringError::unsupported(
                        format!(
                            "`{}` at kernel level next to a GEMM mainloop (not lowered yet)",
                            other.mnemonic()
                        ),
                        op.span,
                    ));
                }
            }
        }
        Ok(())
    }

    /// A scalar used by the K loop's operand loads, with the induction variable bound to `iv`:
    /// loop-body index math is re-emitted at the use site (the producer runs ahead of the loop).
    pub(crate) fn loop_scalar(
        &mut self,
        pat: &GemmPattern,
        v: ValueId,
        iv: &str,
        memo: &mut HashMap<ValueId, String>,
    ) -> Result<String, LoweringError> {
        if v == pat.iv {
            return Ok(iv.to_string());
        }
        if let Some(s) = self.scalars.get(&v).or_else(|| memo.get(&v)) {
            return Ok(s.clone());
        }
        let op = pat.body_scalars.get(&v).copied().ok_or_else(|| {
            LoweringError::unsupported(
                format!("operand index %{} is not scalar index math", v.0),
                pat.loop_op.span,
            )
        })?;
        if let OpKind::SymDim { sym } = op.kind {
            return self.abi.syms.get(sym as usize).cloned().ok_or_else(|| {
                LoweringError::unsupported(format!("symbolic dim #{sym} out of range"), op.span)
            });
        }
        let mut args = Vec::new();
        for a in op.kind.operands() {
            args.push((self.loop_scalar(pat, a, iv, memo)?, self.k.ty(a).dtype()));
        }
        let r = scalar::elementwise(&mut self.b, &op.kind, &args, self.k.ty(v).dtype(), op.span)?;
        memo.insert(v, r.clone());
        Ok(r)
    }
}

/// An MLIR/PTX-safe entry symbol for a kernel name.
pub(crate) fn entry_symbol(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("k_{s}")
    } else {
        s
    }
}

/// The GEMM and attention emitters index global tensors with i32 dims and offsets. A tensor whose
/// constant dims alone make more than 2^31 - 1 elements would wrap, so it is refused at its
/// parameter (symbolic dims arrive as i32 at launch).
fn check_i32_extents(kernel: &Kernel) -> Result<(), LoweringError> {
    const LIMIT: u128 = i32::MAX as u128;
    for p in &kernel.params {
        let ParamKind::Tensor { ty, .. } = &p.kind else {
            continue;
        };
        let mut elems: u128 = 1;
        for d in &ty.dims {
            if let Dim::Const(c) = d {
                elems = elems.saturating_mul(u128::from(*c));
            }
        }
        if elems > LIMIT {
            let dims: Vec<String> = ty
                .dims
                .iter()
                .map(|d| match d {
                    Dim::Const(c) => c.to_string(),
                    Dim::Sym(s) => s.clone(),
                    Dim::CeilDiv(s, by) => format!("cdiv({s}, {by})"),
                })
                .collect();
            return Err(LoweringError::TooLarge {
                what: format!(
                    "`{}` [{}] has at least {elems} elements by its constant dims, above 2^31 - 1 = {LIMIT}; \
these emitters compute 32-bit element offsets, which would wrap",
                    p.name,
                    dims.join(", ")
                ),
                span: p.span,
            });
        }
    }
    Ok(())
}

/// Output tiles from which the per-op lowering runs GEMMs at least as fast as the mainloop when its
/// rings are filled by `cp.async` (`--no-tma-rings`).
const PER_OP_MIN_TILE: u32 = 128 * 128;

/// Whether the TMA mainloop would take `kernel` (tile IR) as a GEMM the per-op lowering runs at
/// least as fast (output tiles of at least 128x128 unless noted below):
/// - plain operands (no block scales, no fused dequant), through cp.async rings (H200, session 6,
///   4096^3: bf16 310.2 vs 308.4 us, fp8 218.0 vs 262.1 us);
/// - MXFP8 x MXFP8 (the mainloop's `MxPromote`), when MXFP8 codes are copied by the dot
///   (`async_scaled_copies`): with two warpgroups (the build's spill retry) and a 4-stage ring,
///   gemm_mxfp8 ran 577.3 / 578.7 us per op against the mainloop's 580.9 / 580.2 us in the same
///   call (session 7; docs/PERFORMANCE.md).
///
/// - every FP4 GEMM (the mainloop's `Convert`: MXFP4 with MXFP8, MXFP4 or bf16, NVFP4, FP4 codes
///   with their scales written out in an explicit `dequant(q, s)` to bf16, e8m0 or ue4m3), when the
///   dot stages the packed codes from their bytes through its ring (`packed_fp4_staging`; an
///   explicit `dequant` folded in, each chunk's scale read where the scale tile's load would).
///   Session 9, one call (docs/perf/fp4-units-2026-12-03-session9.txt; several chunks of a row per
///   thread with one scale read, bf16x2 multiplies), per op vs mainloop: gemm_mxfp4_bf16 424.1 vs
///   601.8 us at 4096^3, 3312.1 vs 4447.0 at 8192^3, 153.3 vs 207.8 at 16x8192x8192, 154.9 vs
///   209.7 at 64x8192x8192, 12.2 vs 17.2 at 100x704x320; gemm_mxfp4_fp8 642.1 vs 1271.1 at 4096^3,
///   164.2 vs 301.1 at 16x8192x8192; gemm_nvfp4 792.4 vs 1262.1, 195.9 vs 307.0;
///   gemm_dequant_explicit 525.3 vs 718.5, 138.5 vs 179.1. (Session 8 recorded the other shapes of
///   gemm_mxfp4_fp8 and gemm_nvfp4, also faster per op: docs/perf/scaled-2026-12-03-session8.txt.)
///
/// GEMMs of smaller tiles go per op when its rings are filled by TMA (`tma_rings`: with `cp.async`
/// rings the mainloop's single-thread TMA issue won there, 64x64 bf16 with a GELU epilogue 573.9
/// vs 511.6 us), as do FP4 GEMMs staged from their packed bytes at any tile (their rings stay on
/// `cp.async`; 128x64 gemm_dequant_fp4_blocks 640.2 vs 711.8 us), and f32 block scales. With the
/// default options the mainloop takes none of the examples' or the corpus's GEMMs; it still takes
/// FP4 operands not packed along K or with a K tile not a multiple of 32, block scales with a
/// fused dequant, explicit `dequant`s the per-op dot does not fold, and (`--no-tma-rings`,
/// `--no-async-copies`, `--no-async-scaled-copies`) the GEMMs it was faster on without those.
pub(crate) fn per_op_gemm(kernel: &Kernel, opts: &LoweringOptions) -> bool {
    // (An attention kernel has two dots in its loop, which `match_gemm` refuses.)
    if check_i32_extents(kernel).is_err() {
        return false;
    }
    let Ok(pat) = pattern::match_gemm(kernel) else {
        return false;
    };
    mainloop::plan(kernel, &pat, opts).is_ok_and(|p| {
        let mxfp8 = p
            .fused
            .as_ref()
            .is_some_and(|f| f.mode == crate::fused::FuseMode::MxPromote);
        let plain = p.block_scales.is_none() && p.fused.is_none();
        // FP4 operands (the mainloop's `Convert`): MXFP4 with MXFP8, MXFP4 or bf16, NVFP4 (on
        // bf16 wgmma, `nvfp4_wgmma`), explicit `dequant`s of FP4 codes to bf16, which the per-op
        // dot stages from their packed bytes through its ring.
        let fp4 = p.fused.as_ref().is_some_and(|f| {
            f.mode == crate::fused::FuseMode::Convert
                && f.ops.iter().all(|o| match &o.scale {
                    // A plain bf16 partner (MXFP4 x bf16, gemm_dequant_explicit).
                    None => o.src == DType::BF16,
                    Some(s) if s.explicit.is_some() => {
                        o.src == DType::F4E2M1 && matches!(s.dtype, DType::E8M0 | DType::UE4M3)
                    }
                    Some(s) if s.dtype == DType::E8M0 => {
                        matches!(o.src, DType::F8E4M3 | DType::F8E5M2 | DType::F4E2M1)
                    }
                    Some(s) => s.dtype == DType::UE4M3 && o.src == DType::F4E2M1 && opts.nvfp4_wgmma,
                })
                && f.ops.iter().any(|o| o.src == DType::F4E2M1)
                // Staged from their bytes only when packed along K and copied 32 codes at a time
                // (else their codes would go through registers, much slower than the mainloop).
                && f.ops.iter().filter(|o| o.src == DType::F4E2M1).all(|o| {
                    o.scale.as_ref().is_some_and(|s| {
                        matches!(&kernel.param(s.data).kind, ParamKind::Tensor { ty, .. }
                            if ty.packed_axis == ty.dims.len().checked_sub(1))
                    })
                })
        }) && p.block_scales.is_none()
            && p.bk.is_multiple_of(32)
            && [p.bm, p.bn, p.bk].iter().all(|x| x.is_power_of_two());
        let packed = opts.async_scaled_copies && opts.packed_fp4_staging;
        // Any tile once the per-op rings are filled by TMA (H200 session 10, 4096^3, per op vs
        // the mainloop in one call: 64x64 bf16 + GELU 492.2 vs 511.7 us, 64x64 fp8 with
        // row/column scales 247.2 vs 262.0; 64x64 MXFP8 + SiLU 583.6 vs 615.3; 128x64 bf16 x
        // explicit ue4m3-scaled FP4 640.2 vs 711.8).
        let tile_ok = p.bm * p.bn >= PER_OP_MIN_TILE || fp4 || (opts.tma_rings && opts.async_copies);
        // f32 block scales (DeepSeek style) once the per-op ring is filled by TMA and issues its
        // prefetch behind the wgmma (H200 session 10, one call: gemm_fp8_blockscale 197.1 vs the
        // mainloop's 210.3 us at 4096^3; 8.9 vs 10.9 at 100x704x384 in another).
        let f32_blocks = p.block_scales.is_some()
            && p.fused.is_none()
            && opts.tma_rings
            && opts.async_copies
            && opts.async_scaled_copies;
        (plain || (mxfp8 && opts.async_scaled_copies) || (fp4 && packed) || f32_blocks) && tile_ok
    })
}

pub(crate) fn lower_kernel(kernel: &Kernel, opts: &LoweringOptions) -> Result<LoweredKernel, LoweringError> {
    check_i32_extents(kernel)?;
    // `@reference(attention)` kernels take the attention path (attention/); all others are GEMMs.
    if let Some(att) = crate::attention::recognise(kernel) {
        return crate::attention::lower(kernel, &att?, opts);
    }
    let pat = pattern::match_gemm(kernel)?;
    let plan: MainloopPlan = mainloop::plan(kernel, &pat, opts)?;
    let tma = HashMap::from([
        (pat.a.tensor, plan.tma_a.clone()),
        (pat.b.tensor, plan.tma_b.clone()),
    ]);
    let abi = abi::build(kernel, &tma)?;
    let mut lw = Lower {
        k: kernel,
        b: Body::default(),
        abi,
        scalars: HashMap::new(),
        tma_params: tma.keys().copied().collect(),
    };
    for (arg, name) in lw.abi.scalars.clone() {
        lw.scalars.insert(arg, name);
    }
    let geo = mainloop::thread_geometry(&mut lw.b);
    lw.emit_top_scalars(&pat)?;
    let acc = mainloop::emit(&mut lw, &pat, &plan, &geo)?;
    epilogue::emit(&mut lw, &pat, &plan, &geo, &acc)?;
    lw.b.line("llvm.return");

    let entry = entry_symbol(&kernel.name);
    let mut text = String::new();
    text.push_str(&format!(
        "// Tessera: kernel `{}` for sm_90a ({}x{}x{} tiles, {} stages, {} warpgroups)\n",
        kernel.name, plan.bm, plan.bn, plan.bk, plan.stages, plan.warpgroups
    ));
    text.push_str(&format!("!acc = {}\n", plan.acc_type()));
    text.push_str("module {\n");
    text.push_str(&mainloop::globals(&plan));
    text.push_str(&format!(
        "  llvm.func @{entry}({}) attributes {{nvvm.kernel, nvvm.maxntid = array<i32: {}, 1, 1>}} {{\n",
        lw.abi.signature.join(", "),
        plan.threads
    ));
    lw.b.finish(&mut text);
    text.push_str("  }\n}\n");

    Ok(LoweredKernel {
        // element offsets and extents are i32 here (E0714 refuses constant dims past that)
        index_bits: 32,
        entry,
        mlir: text,
        abi: lw.abi.slots,
        block: [plan.threads, 1, 1],
        dynamic_shared_bytes: plan.dynamic_smem,
        tuning: plan.tuning(),
        mma: plan.mma_summary(),
    })
}
