//! FP8 attention forward (FlashAttention-2 style online softmax) on sm_90a.
//!
//! One CTA per (query block of BM rows, batch*head), one warpgroup per 64 query rows. Q's block is
//! loaded once by TMA (128B swizzle); K and V tiles of BN keys stream through a 2-stage TMA +
//! mbarrier ring. Per key tile: S = Q·Kᵀ by `wgmma m64nBNk32 e4m3` (both operands K-major from
//! shared memory), V transposed by the CTA into a swizzled K-major tile, online softmax on the
//! S accumulator fragment in registers (row max/sum across the 4 threads of a row by `shfl.xor`
//! 1 and 2, `ex2` with log2(e)·sm_scale·scale_q·scale_k folded in, causal and S-edge masks from
//! (row, col)), P rounded to e4m3 and fed from registers as the A operand of
//! `wgmma m64n128k32 e4m3` against Vᵀ (layout.rs explains the K permutation that makes this work
//! without shuffles). The output O = acc·scale_v / l is cast to bf16 and stored (rows ≥ S masked).
//!
//! `pattern` recognises the kernel, `layout` holds the fragment/swizzle facts, `emit` writes the
//! MLIR. The launch contract (ABI, block, shared memory) comes back in a `LoweredKernel` like the
//! per-op lowering's.

mod canonical;
mod emit;
mod layout;
mod pattern;

use crate::abi;
use crate::{LoweredKernel, LoweringError, LoweringOptions, MmaSummary};
use std::collections::HashMap;
use tessera_bundle::TmaSpec;
use tessera_ir::{Dim, Kernel, ParamKind};

use pattern::AttnPattern;
pub(crate) use pattern::recognise;

/// Extra dynamic shared memory so the base can be aligned to 1024 bytes at run time.
const ALIGN_SLACK: u32 = 1024;
/// K/V ring depth.
const STAGES: u32 = 2;

/// Shared-memory plan (byte offsets from the 1024-aligned base).
#[derive(Debug, Clone)]
pub(crate) struct AttnPlan {
    pub bm: u32,
    pub bn: u32,
    pub hd: u32,
    pub threads: u32,
    /// Bytes of one K (or V) tile: BN rows x HD bytes.
    pub kv_bytes: u32,
    /// Stage s: K tile at `q_bytes + s * stage_bytes`, V tile right after it.
    pub q_bytes: u32,
    pub stage_bytes: u32,
    /// The transposed V tile `[HD rows][BN bytes]`, BN-byte swizzle.
    pub vt_off: u32,
    pub dynamic_smem: u32,
}

impl AttnPlan {
    fn new(p: &AttnPattern) -> AttnPlan {
        let kv_bytes = p.bn * p.hd;
        let q_bytes = p.bm * p.hd;
        let stage_bytes = 2 * kv_bytes;
        let vt_off = q_bytes + STAGES * stage_bytes;
        AttnPlan {
            bm: p.bm,
            bn: p.bn,
            hd: p.hd,
            threads: p.bm / 64 * 128,
            kv_bytes,
            q_bytes,
            stage_bytes,
            vt_off,
            dynamic_smem: vt_off + p.hd * p.bn + ALIGN_SLACK,
        }
    }

    fn qk_family(&self) -> String {
        format!("wgmma.mma_async.sync.aligned.m64n{}k32.f32.e4m3.e4m3", self.bn)
    }

    fn pv_family(&self) -> String {
        format!("wgmma.mma_async.sync.aligned.m64n{}k32.f32.e4m3.e4m3", self.hd)
    }
}

/// Lower a recognised attention kernel.
pub(crate) fn lower(
    kernel: &Kernel,
    pat: &AttnPattern,
    opts: &LoweringOptions,
) -> Result<LoweredKernel, LoweringError> {
    check_i32_extents(kernel)?;
    let plan = AttnPlan::new(pat);
    if plan.dynamic_smem + 1024 > opts.max_shared_bytes {
        return Err(LoweringError::unsupported(
            format!(
                "attention BM = {}, BN = {} needs {} bytes of shared memory (limit {})",
                plan.bm, plan.bn, plan.dynamic_smem, opts.max_shared_bytes
            ),
            kernel.span,
        ));
    }
    // Q and K: 128-byte swizzled boxes (the wgmma descriptor's layout); V: a plain box, read
    // back by the threads that transpose it.
    let spec = |rows: u32, swizzle: u32| TmaSpec {
        elem: "u8".into(),
        box_dims: vec![pat.hd, rows, 1],
        swizzle,
    };
    let tma = HashMap::from([
        (pat.q, spec(plan.bm, 128)),
        (pat.k, spec(plan.bn, 128)),
        (pat.v, spec(plan.bn, 0)),
    ]);
    let abi = abi::build(kernel, &tma)?;
    let entry = crate::abi::entry_symbol(&kernel.name);
    let body = emit::body(kernel, pat, &plan, &abi)?;

    let mut text = String::new();
    text.push_str(&format!(
        "// Tessera: attention `{}` for sm_90a (BM {}, BN {}, HD {}, {} K/V stages, {} warpgroups)\n",
        kernel.name,
        plan.bm,
        plan.bn,
        plan.hd,
        STAGES,
        plan.bm / 64
    ));
    text.push_str(&format!("!sacc = {}\n", crate::wgmma::acc_struct(plan.bn)));
    text.push_str(&format!("!oacc = {}\n", crate::wgmma::acc_struct(plan.hd)));
    text.push_str("module {\n");
    text.push_str(&format!(
        "  llvm.mlir.global external @tessera_smem() {{addr_space = 3 : i32, alignment = 1024 : i64}} : !llvm.array<0 x i8>\n  llvm.mlir.global internal @tessera_att_bars() {{addr_space = 3 : i32, alignment = 8 : i64}} : !llvm.array<{} x i64>\n",
        STAGES + 1
    ));
    text.push_str(&format!(
        "  llvm.func @{entry}({}) attributes {{nvvm.kernel, nvvm.maxntid = array<i32: {}, 1, 1>}} {{\n",
        abi.signature.join(", "),
        plan.threads
    ));
    body.finish(&mut text);
    text.push_str("  }\n}\n");

    Ok(LoweredKernel {
        // element offsets and extents are i32 here (`check_i32_extents` leaves larger tensors to the
        // per-op lowering)
        index_bits: 32,
        entry,
        mlir: text,
        abi: abi.slots,
        block: [plan.threads, 1, 1],
        dynamic_shared_bytes: plan.dynamic_smem,
        tuning: vec![
            ("BM".into(), plan.bm as i64),
            ("BN".into(), plan.bn as i64),
            ("HD".into(), plan.hd as i64),
            ("stages".into(), STAGES as i64),
            ("warpgroups".into(), (plan.bm / 64) as i64),
        ],
        mma: MmaSummary {
            family: plan.qk_family(),
            per_k_tile: (plan.bm / 64) * (plan.hd / 32 + plan.bn / 32),
            operand_a: "e4m3".into(),
            operand_b: "e4m3".into(),
            stages: STAGES,
            dequant: format!(
                "none (per-tensor scales: scale_q*scale_k folded into the softmax exponent, scale_v into the epilogue); S = Q.K^T by {} (smem x smem), O += P.V by {} (P e4m3 from registers, V transposed in shared memory)",
                plan.qk_family(),
                plan.pv_family()
            ),
            note: None,
        },
    })
}

/// The attention schedule indexes global tensors with i32 dims and offsets. A tensor whose
/// constant dims alone make more than 2^31 - 1 elements would wrap, so it is refused at its
/// parameter (symbolic dims arrive as i32 at launch).
pub(crate) fn check_i32_extents(kernel: &Kernel) -> Result<(), LoweringError> {
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
the attention schedule computes 32-bit element offsets, which would wrap",
                    p.name,
                    dims.join(", ")
                ),
                span: p.span,
            });
        }
    }
    Ok(())
}
