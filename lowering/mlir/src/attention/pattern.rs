//! Recognises the FP8 attention-forward kernel (`@reference(attention)`, the shape of
//! `dsl_examples/attention_fp8.tsr`) and extracts what the Hopper attention kernel needs: the
//! q/k/v/o parameters, the five scalars, the symbolic dims and the tile sizes.
//!
//! The check is structural, not a full proof of equivalence: the signature must be exactly
//! `(q, k, v: f8e4m3[BH, S, HD], scale_q, scale_k, scale_v, sm_scale: f32, causal: i32,
//! o: out bf16[BH, S, HD])`, and the body must hold one query-block loop with the two dots of
//! online softmax (`Q·Kᵀ`, then `cast<f8e4m3>(P)·V`), `exp2`, a row max and a row sum. The
//! generated kernel implements the reference's algorithm (docs/NUMERICS.md "Reference conventions").

use crate::LoweringError;
use tessera_ir::{DType, Dim, Kernel, Op, OpKind, ParamId, ParamKind, ReduceKind, UnOp, ValueId};

/// The parts of a recognised attention kernel.
#[derive(Debug, Clone)]
pub(crate) struct AttnPattern {
    pub q: ParamId,
    pub k: ParamId,
    pub v: ParamId,
    pub o: ParamId,
    /// Body arguments of scale_q, scale_k, scale_v, sm_scale (f32) and causal (i32).
    pub scale_q: ValueId,
    pub scale_k: ValueId,
    pub scale_v: ValueId,
    pub sm_scale: ValueId,
    pub causal: ValueId,
    /// Index in `Kernel::syms` of the sequence length S.
    pub seq_sym: usize,
    pub bm: u32,
    pub bn: u32,
    pub hd: u32,
}

/// `Some(Ok)` when the kernel is structurally the program the attention kernel implements
/// (`canonical.rs`; attributes play no part), `Some(Err)` at the first op that differs when the
/// kernel has that program's signature, `None` for every other kernel (the GEMM path).
pub(crate) fn recognise(kernel: &Kernel) -> Option<Result<AttnPattern, LoweringError>> {
    match super::canonical::compare(kernel) {
        super::canonical::Match::Same => Some(match_attention(kernel)),
        super::canonical::Match::DiffersAt(span) => Some(Err(LoweringError::unsupported(
            "this op differs from the FP8 attention program the sm_90a attention schedule implements \
             (dsl_examples/attention_fp8.tsr, op for op); other attention programs wait for the general \
             wgmma lowering of `dot`",
            span,
        ))),
        super::canonical::Match::Unrelated => None,
    }
}

fn tile(kernel: &Kernel, name: &str) -> Result<u32, LoweringError> {
    kernel
        .tiles
        .iter()
        .find(|t| t.name == name)
        .and_then(|t| u32::try_from(t.value).ok())
        .ok_or_else(|| {
            LoweringError::unsupported(
                format!("the attention lowering needs a tile parameter `{name}`"),
                kernel.span,
            )
        })
}

fn match_attention(kernel: &Kernel) -> Result<AttnPattern, LoweringError> {
    let bad = |what: String| LoweringError::unsupported(what, kernel.span);
    let mut ins = Vec::new();
    let mut outs = Vec::new();
    let mut scalars = Vec::new();
    for (i, p) in kernel.params.iter().enumerate() {
        match &p.kind {
            ParamKind::Tensor { ty, is_out } => {
                if ty.scale.is_some() || ty.packed_axis.is_some() || ty.dims.len() != 3 {
                    return Err(LoweringError::unsupported(
                        format!(
                            "attention on sm_90a: tensor `{}` must be a plain rank-3 [BH, S, HD] tensor",
                            p.name
                        ),
                        p.span,
                    ));
                }
                if *is_out {
                    outs.push((ParamId(i as u32), ty.clone(), p.span));
                } else {
                    ins.push((ParamId(i as u32), ty.clone(), p.span));
                }
            }
            ParamKind::Scalar(d) => scalars.push((*d, p.span)),
        }
    }
    let want_scalars = [DType::F32, DType::F32, DType::F32, DType::F32, DType::I32];
    if ins.len() != 3 || outs.len() != 1 || scalars.iter().map(|s| s.0).collect::<Vec<_>>() != want_scalars {
        return Err(bad(
            "attention on sm_90a takes (q, k, v: f8e4m3[BH, S, HD], scale_q, scale_k, scale_v, sm_scale: f32, causal: i32, o: out bf16[BH, S, HD])".into(),
        ));
    }
    let bm = tile(kernel, "BM")?;
    let bn = tile(kernel, "BN")?;
    let hd = tile(kernel, "HD")?;
    let dims = &ins[0].1.dims;
    for (id, ty, span) in ins.iter().chain(outs.iter()) {
        let want = if *id == outs[0].0 {
            DType::BF16
        } else {
            DType::F8E4M3
        };
        if ty.dtype != want || &ty.dims != dims {
            return Err(LoweringError::unsupported(
                format!(
                    "attention on sm_90a: `{}` must be {want}[BH, S, HD] like q",
                    kernel.param(*id).name
                ),
                *span,
            ));
        }
    }
    let (Dim::Sym(_), Dim::Sym(seq), Dim::Const(d)) = (&dims[0], &dims[1], &dims[2]) else {
        return Err(bad(
            "attention on sm_90a: q must be [BH, S, HD] with symbolic BH, S and the tile constant HD".into(),
        ));
    };
    if *d != hd as u64 || hd != 128 {
        return Err(bad(format!(
            "attention on sm_90a: head dim {d} (HD = {hd}); the wgmma kernel covers HD = 128"
        )));
    }
    if !matches!(bm, 64 | 128) || !matches!(bn, 64 | 128) {
        return Err(bad(format!(
            "attention on sm_90a: BM = {bm}, BN = {bn}; the kernel covers BM, BN in 64, 128"
        )));
    }
    let seq_sym = kernel
        .syms
        .iter()
        .position(|s| s == seq)
        .ok_or_else(|| bad(format!("symbolic dim `{seq}` missing from the kernel's dims")))?;
    check_body(kernel)?;
    let arg = |i: usize| {
        kernel
            .body
            .args
            .get(i)
            .copied()
            .ok_or_else(|| bad(format!("scalar parameter #{i} has no body argument")))
    };
    Ok(AttnPattern {
        q: ins[0].0,
        k: ins[1].0,
        v: ins[2].0,
        o: outs[0].0,
        scale_q: arg(0)?,
        scale_k: arg(1)?,
        scale_v: arg(2)?,
        sm_scale: arg(3)?,
        causal: arg(4)?,
        seq_sym,
        bm,
        bn,
        hd,
    })
}

/// One top-level loop whose body has the two dots of online softmax (the second one's A is a
/// cast to f8e4m3), an exp2, a row max and a row sum; one store after it.
fn check_body(kernel: &Kernel) -> Result<(), LoweringError> {
    let bad = |what: &str, op: Option<&Op>| {
        LoweringError::unsupported(
            format!("attention on sm_90a: {what}"),
            op.map_or(kernel.span, |o| o.span),
        )
    };
    let loops: Vec<&Op> = kernel
        .body
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::For { .. }))
        .collect();
    let [lp] = loops.as_slice() else {
        return Err(bad("expected exactly one loop over key blocks", None));
    };
    let OpKind::For { body, .. } = &lp.kind else {
        return Err(bad("expected a loop", Some(lp)));
    };
    let stores = kernel
        .body
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Store { .. }))
        .count();
    if stores != 1 {
        return Err(bad(
            "expected one store of the output tile after the loop",
            Some(lp),
        ));
    }
    let producer = |v: ValueId| body.ops.iter().find(|o| o.results.contains(&v)).map(|o| &o.kind);
    let dots: Vec<&Op> = body
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Dot { .. }))
        .collect();
    let [_, pv] = dots.as_slice() else {
        return Err(bad("the loop must hold two dots (Q·Kᵀ and P·V)", Some(lp)));
    };
    let OpKind::Dot { a, .. } = &pv.kind else {
        return Err(bad("expected a dot", Some(pv)));
    };
    if !matches!(
        producer(*a),
        Some(OpKind::Cast {
            to: DType::F8E4M3,
            ..
        })
    ) {
        return Err(bad("the P·V dot must take cast<f8e4m3>(p)", Some(pv)));
    }
    let has = |f: &dyn Fn(&OpKind) -> bool| body.ops.iter().any(|o| f(&o.kind));
    if !has(&|k| matches!(k, OpKind::Unary { op: UnOp::Exp2, .. }))
        || !has(&|k| {
            matches!(
                k,
                OpKind::Reduce {
                    kind: ReduceKind::Max,
                    axis: 1,
                    ..
                }
            )
        })
        || !has(&|k| {
            matches!(
                k,
                OpKind::Reduce {
                    kind: ReduceKind::Sum,
                    axis: 1,
                    ..
                }
            )
        })
    {
        return Err(bad(
            "the loop must compute an online softmax (exp2, row max, row sum)",
            Some(lp),
        ));
    }
    Ok(())
}
