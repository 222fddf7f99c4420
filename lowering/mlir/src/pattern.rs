//! Recognises the GEMM-shaped kernel the Hopper mainloop implements and extracts its parts:
//! top-level scalar ops, one `For` over K whose body loads an A tile `[BM, BK]` from an `[M, K]`
//! tensor and a B tile `[BN, BK]` from an `[N, K]` tensor and computes `acc = dot(a, transpose(b),
//! acc)`, then an elementwise epilogue and stores of `[BM, BN]` tiles. Anything else is reported as
//! `Unsupported` with the span of the op that does not fit.

use crate::LoweringError;
use std::collections::HashMap;
use tessera_ir::{
    Access, Bound, DType, Index, Kernel, Op, OpKind, ParamId, ParamKind, ScaleLayout, ScaleSpec, Type,
    ValueId,
};

/// One operand load of the mainloop (inside the K loop).
#[derive(Debug, Clone)]
pub(crate) struct OperandLoad {
    pub tensor: ParamId,
    pub dtype: DType,
    /// Start of the M (for A) or N (for B) range.
    pub row_start: ValueId,
    /// Start of the K range.
    pub k_start: ValueId,
    pub rows: u32,
    pub bk: u32,
    /// DeepSeek-style f32 block scales of the operand tensor (`[rows/b0, K/b1]`, row-major), if any.
    pub scale: Option<ScaleSpec>,
    /// A constant the row start is known to be a multiple of (`program_id(0) * BM` → BM).
    pub row_start_multiple: Option<i64>,
    /// `dequant(load(q), load(s))`: the separate scale tensor `s` (`[rows, K / block_k]`, plain,
    /// row-major) and its K block, when the operand is dequantized explicitly in the loop body.
    pub explicit_scale: Option<ExplicitScale>,
}

/// The scale operand of an explicit `dequant(q, s)` feeding the dot.
#[derive(Debug, Clone)]
pub(crate) struct ExplicitScale {
    pub tensor: ParamId,
    pub dtype: DType,
    pub block_k: u32,
}

#[derive(Debug)]
pub(crate) struct GemmPattern<'k> {
    /// Top-level ops other than the loop, in program order (scalars, tiles, stores).
    pub top: Vec<&'k Op>,
    pub loop_op: &'k Op,
    pub lo: ValueId,
    pub hi: ValueId,
    pub step: ValueId,
    pub iv: ValueId,
    /// Scalar ops of the loop body (index arithmetic), keyed by result.
    pub body_scalars: HashMap<ValueId, &'k Op>,
    pub a: OperandLoad,
    pub b: OperandLoad,
    pub acc_init: f64,
    /// The loop's result: the final accumulator tile.
    pub acc: ValueId,
    /// `lo` and `step` when they are integer constants.
    pub lo_const: Option<i64>,
    pub step_const: Option<i64>,
    pub bm: u32,
    pub bn: u32,
}

fn is_default_bound(b: &Bound) -> bool {
    b.lo.is_none() && b.hi.is_none()
}

/// Find the op defining each value of a block (not descending into nested blocks).
fn defs(ops: &[Op]) -> HashMap<ValueId, &Op> {
    let mut m = HashMap::new();
    for op in ops {
        for r in &op.results {
            m.insert(*r, op);
        }
    }
    m
}

/// `K`-loop operand load: `load(t[r0 .. +R, k0 .. +BK])` of a rank-2 plain tensor, no view bounds,
/// zero fill (TMA's out-of-bounds fill).
fn operand_load(kernel: &Kernel, op: &Op, role: &str) -> Result<OperandLoad, LoweringError> {
    let bad = |why: &str| LoweringError::unsupported(format!("dot operand {role}: {why}"), op.span);
    let OpKind::Load { access, other } = &op.kind else {
        return Err(bad(&format!(
            "expected a load feeding the dot, found `{}`",
            op.kind.mnemonic()
        )));
    };
    let Access {
        tensor,
        index,
        bounds,
    } = access;
    let param = kernel
        .params
        .get(tensor.0 as usize)
        .ok_or_else(|| bad("unknown tensor parameter"))?;
    let ParamKind::Tensor { ty, .. } = &param.kind else {
        return Err(bad("not a tensor parameter"));
    };
    if let Some(spec) = &ty.scale {
        // Hopper has no block-scaled MMA: f32 block scales are applied per K tile in registers
        // (mainloop.rs); MX/NVFP4 scales need the fuse-dequant pass first.
        // MX (e8m0) and NV (ue4m3) scales are fused in the mainloop (fused.rs) once the pipeline
        // has given them the linear `hopper_reg` layout; they scale along K only.
        let linear =
            spec.block.len() == 2 && matches!(spec.layout, ScaleLayout::Linear | ScaleLayout::HopperRegister);
        let f32_blocks = spec.scale_dtype == DType::F32 && !spec.global;
        let mx_nv = matches!(spec.scale_dtype, DType::E8M0 | DType::UE4M3) && spec.block[0] == 1;
        if !linear || !(f32_blocks || mx_nv) {
            return Err(bad(&format!(
                "{}-scaled operands ({} scales, block {:?}, layout {:?}) are not lowered on sm_90a: the mainloop applies f32 block scales and linear e8m0/ue4m3 scales along K (run the sm_90a pass pipeline first)",
                spec.family(),
                spec.scale_dtype,
                spec.block,
                spec.layout
            )));
        }
    }
    if ty.dims.len() != 2 || index.len() != 2 {
        return Err(bad("the operand tensor must be rank 2 ([rows, K], K contiguous)"));
    }
    if !bounds.iter().all(is_default_bound) {
        return Err(bad(
            "view bounds on a TMA-loaded operand (TMA masks only at the tensor edge)",
        ));
    }
    if *other != 0.0 {
        return Err(bad(
            "masked-out fill must be 0 (TMA fills out-of-bounds elements with zero)",
        ));
    }
    let (
        Index::Range {
            start: row_start,
            size: rows,
        },
        Index::Range {
            start: k_start,
            size: bk,
        },
    ) = (&index[0], &index[1])
    else {
        return Err(bad("both dims must be ranges `start .. +size`"));
    };
    Ok(OperandLoad {
        tensor: *tensor,
        dtype: ty.dtype,
        row_start: *row_start,
        k_start: *k_start,
        rows: *rows,
        bk: *bk,
        scale: ty.scale.clone(),
        row_start_multiple: None,
        explicit_scale: None,
    })
}

pub(crate) fn match_gemm(kernel: &Kernel) -> Result<GemmPattern<'_>, LoweringError> {
    let mut loops = kernel
        .body
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::For { .. }));
    let loop_op = loops.next().ok_or_else(|| {
        LoweringError::unsupported(
            format!(
                "kernel `{}` has no K loop with a dot; the sm_90a lowering needs a GEMM mainloop",
                kernel.name
            ),
            kernel.span,
        )
    })?;
    if let Some(second) = loops.next() {
        return Err(LoweringError::unsupported(
            "a second top-level loop (only one K mainloop per kernel)",
            second.span,
        ));
    }
    let OpKind::For {
        lo,
        hi,
        step,
        inits,
        body,
    } = &loop_op.kind
    else {
        return Err(LoweringError::unsupported(
            "internal: loop op is not a for",
            loop_op.span,
        ));
    };
    if inits.len() != 1 || loop_op.results.len() != 1 || body.args.len() != 2 {
        return Err(LoweringError::unsupported(
            "the K loop must carry exactly one value (the accumulator)",
            loop_op.span,
        ));
    }
    let top_defs = defs(&kernel.body.ops);
    let iv = body.args[0];
    let acc_arg = body.args[1];

    // The accumulator's initial value: a constant-filled f32 tile.
    let init_op = top_defs.get(&inits[0]).copied();
    let acc_init = match init_op.map(|o| &o.kind) {
        Some(OpKind::Full { value }) => *value,
        _ => {
            return Err(LoweringError::unsupported(
                "the accumulator must start as a constant tile (`zeros`/`full`)",
                init_op.map_or(loop_op.span, |o| o.span),
            ));
        }
    };

    // The body: scalar index math, two loads, a transpose, the dot and the yield.
    let body_defs = defs(&body.ops);
    let mut dot = None;
    let mut body_scalars = HashMap::new();
    for op in &body.ops {
        match &op.kind {
            OpKind::Dot { .. } => {
                if dot.replace(op).is_some() {
                    return Err(LoweringError::unsupported(
                        "more than one dot in the K loop",
                        op.span,
                    ));
                }
            }
            OpKind::Load { .. }
            | OpKind::Transpose { .. }
            | OpKind::Dequant { .. }
            | OpKind::Yield { .. } => {}
            OpKind::ConstInt { .. }
            | OpKind::ConstFloat { .. }
            | OpKind::ProgramId { .. }
            | OpKind::NumPrograms { .. }
            | OpKind::SymDim { .. }
            | OpKind::Binary { .. }
            | OpKind::Unary { .. }
            | OpKind::Cmp { .. }
            | OpKind::Select { .. }
            | OpKind::Cast { .. }
                if op
                    .results
                    .iter()
                    .all(|r| matches!(kernel.ty(*r), Type::Scalar(_))) =>
            {
                for r in &op.results {
                    body_scalars.insert(*r, op);
                }
            }
            other => {
                return Err(LoweringError::unsupported(
                    format!(
                        "`{}` inside the K loop (only index math, operand loads and the dot)",
                        other.mnemonic()
                    ),
                    op.span,
                ));
            }
        }
    }
    let dot = dot.ok_or_else(|| LoweringError::unsupported("the K loop has no dot", loop_op.span))?;
    let OpKind::Dot { a, b, acc } = &dot.kind else {
        return Err(LoweringError::unsupported("internal: dot is not a dot", dot.span));
    };
    if *acc != acc_arg {
        return Err(LoweringError::unsupported(
            "the dot must accumulate into the loop-carried value",
            dot.span,
        ));
    }
    match body.ops.last().map(|o| &o.kind) {
        Some(OpKind::Yield { values }) if values.as_slice() == dot.results.as_slice() => {}
        _ => {
            return Err(LoweringError::unsupported(
                "the K loop must yield the dot result",
                loop_op.span,
            ));
        }
    }
    let a_op = body_defs.get(a).copied().ok_or_else(|| {
        LoweringError::unsupported("dot operand a must be loaded inside the K loop", dot.span)
    })?;
    let bt_op = body_defs.get(b).copied().ok_or_else(|| {
        LoweringError::unsupported("dot operand b must be loaded inside the K loop", dot.span)
    })?;
    let OpKind::Transpose { x: b_loaded } = &bt_op.kind else {
        return Err(LoweringError::unsupported(
            "dot operand b must be `transpose(load(b[n .. +BN, k .. +BK]))` (K-major B; fp8 wgmma needs it)",
            bt_op.span,
        ));
    };
    let b_op = body_defs.get(b_loaded).copied().ok_or_else(|| {
        LoweringError::unsupported("dot operand b must be loaded inside the K loop", bt_op.span)
    })?;
    let mut a_load = dequant_operand(kernel, &body_defs, a_op, "a")?;
    let mut b_load = dequant_operand(kernel, &body_defs, b_op, "b")?;
    a_load.row_start_multiple = const_multiple(&top_defs, a_load.row_start);
    b_load.row_start_multiple = const_multiple(&top_defs, b_load.row_start);
    let const_of = |v: &ValueId| match top_defs.get(v).map(|o| &o.kind) {
        Some(OpKind::ConstInt { value }) => Some(*value),
        _ => None,
    };
    if a_load.bk != b_load.bk {
        return Err(LoweringError::unsupported(
            "A and B K-tile sizes differ",
            dot.span,
        ));
    }
    // Mixed types are fine when one side is converted in the mainloop (fused.rs decides).
    let converted = |o: &OperandLoad| {
        o.dtype == DType::F4E2M1
            || o.explicit_scale.is_some()
            || o.scale.as_ref().is_some_and(|s| s.scale_dtype != DType::F32)
    };
    let compatible = a_load.dtype == b_load.dtype
        || (is_fp8(a_load.dtype) && is_fp8(b_load.dtype))
        || converted(&a_load)
        || converted(&b_load);
    if !compatible {
        return Err(LoweringError::unsupported(
            format!(
                "mixed operand types {} x {} (wgmma mixes only e4m3/e5m2)",
                a_load.dtype, b_load.dtype
            ),
            dot.span,
        ));
    }
    let acc_ty = kernel.ty(loop_op.results[0]).as_tile().cloned();
    match acc_ty {
        Some(t) if t.dtype == DType::F32 && t.shape == [a_load.rows, b_load.rows] => {}
        _ => {
            return Err(LoweringError::unsupported(
                "the accumulator must be an f32 tile of shape [BM, BN]",
                loop_op.span,
            ));
        }
    }
    let top = kernel
        .body
        .ops
        .iter()
        .filter(|o| !std::ptr::eq(*o, loop_op))
        .collect();
    Ok(GemmPattern {
        top,
        loop_op,
        lo: *lo,
        hi: *hi,
        step: *step,
        iv,
        body_scalars,
        bm: a_load.rows,
        bn: b_load.rows,
        a: a_load,
        b: b_load,
        acc_init,
        acc: loop_op.results[0],
        lo_const: const_of(lo),
        step_const: const_of(step),
    })
}

/// A dot operand: `load(t[..])`, or `dequant(load(q[..]), load(s[..]))` with a separate scale
/// tensor whose tile is `[rows, BK / block_k]` at `[row_start, k_start / block_k]`.
fn dequant_operand(
    kernel: &Kernel,
    body_defs: &HashMap<ValueId, &Op>,
    op: &Op,
    role: &str,
) -> Result<OperandLoad, LoweringError> {
    let OpKind::Dequant { x, scale, to } = &op.kind else {
        return operand_load(kernel, op, role);
    };
    let bad = |why: String| LoweringError::unsupported(format!("dot operand {role}: {why}"), op.span);
    // The mainloop converts dequantized operands to bf16: another dtype (f16 rounds and overflows
    // differently) is not its program.
    if *to != DType::BF16 {
        return Err(bad(format!(
            "dequant to {to} (the Hopper mainloop stages dequantized operands as bf16)"
        )));
    }
    let q_op = body_defs
        .get(x)
        .copied()
        .ok_or_else(|| bad("the dequantized codes must be loaded inside the K loop".into()))?;
    let mut q = operand_load(kernel, q_op, role)?;
    let Some(s) = scale else {
        // dequant of a scaled tile: the tile's own scales (the fuse-dequant pass folds these away).
        return Ok(q);
    };
    if q.scale.is_some() {
        return Err(bad("dequant with a second scale of an already scaled tile".into()));
    }
    let s_op = body_defs
        .get(s)
        .copied()
        .ok_or_else(|| bad("the dequant scales must be loaded inside the K loop".into()))?;
    let OpKind::Load { access, .. } = &s_op.kind else {
        return Err(bad(format!(
            "dequant scales from `{}` (expected a load)",
            s_op.kind.mnemonic()
        )));
    };
    let dtype = match kernel.params.get(access.tensor.0 as usize).map(|p| &p.kind) {
        Some(ParamKind::Tensor { ty, .. }) if ty.dims.len() == 2 && ty.scale.is_none() => ty.dtype,
        _ => return Err(bad("the scale tensor must be a plain rank-2 tensor".into())),
    };
    if !matches!(dtype, DType::E8M0 | DType::UE4M3) {
        return Err(bad(format!("{dtype} dequant scales (e8m0 or ue4m3 here)")));
    }
    let (
        [
            Index::Range {
                start: s_row,
                size: s_rows,
            },
            Index::Range {
                start: s_k,
                size: s_ks,
            },
        ],
        true,
    ) = (
        access.index.as_slice(),
        access.bounds.iter().all(is_default_bound),
    )
    else {
        return Err(bad(
            "the scale load must be `s[r0 .. +R, k0 / B .. +BK / B]` without view bounds".into(),
        ));
    };
    let block_k = if *s_ks > 0 && q.bk % s_ks == 0 {
        q.bk / s_ks
    } else {
        0
    };
    // The scale tile must cover the code tile exactly: same rows, K block index k0 / block_k.
    let k_is_block = matches!(
        body_defs.get(s_k).map(|o| &o.kind),
        Some(OpKind::Binary { op: tessera_ir::BinOp::Div, lhs, rhs })
            if *lhs == q.k_start
                && matches!(body_defs.get(rhs).map(|o| &o.kind),
                    Some(OpKind::ConstInt { value }) if *value == block_k as i64)
    );
    if *s_row != q.row_start || *s_rows != q.rows || block_k == 0 || !k_is_block {
        return Err(bad(format!(
            "the scale tile must be `s[r0 .. +{}, k0 / B .. +{} / B]` matching the code tile",
            q.rows, q.bk
        )));
    }
    q.explicit_scale = Some(ExplicitScale {
        tensor: access.tensor,
        dtype,
        block_k,
    });
    Ok(q)
}

/// A constant `v` is a multiple of, when its definition shows one: a constant itself, or a
/// product with a constant (the usual `program_id(0) * BM`).
fn const_multiple(defs: &HashMap<ValueId, &Op>, v: ValueId) -> Option<i64> {
    let konst = |x: &ValueId| match defs.get(x).map(|o| &o.kind) {
        Some(OpKind::ConstInt { value }) => Some(*value),
        _ => None,
    };
    match defs.get(&v).map(|o| &o.kind) {
        Some(OpKind::ConstInt { value }) => Some(*value),
        Some(OpKind::Binary {
            op: tessera_ir::BinOp::Mul,
            lhs,
            rhs,
        }) => konst(lhs).or_else(|| konst(rhs)),
        _ => None,
    }
}

pub(crate) fn is_fp8(d: DType) -> bool {
    matches!(d, DType::F8E4M3 | DType::F8E5M2)
}
