//! `fuse-dequant`: makes every dot that consumes low-precision data dequantize inside the dot, and
//! records how. Two steps:
//!
//! 1. Rewrite: `dot(dequant(x), y)` (and `dot(y, transpose(dequant(x)))`, the weight form) where
//!    `x` is a scaled tile and the dequantized tile has no other use becomes `dot(x, y)` on the
//!    scaled tile, so the dequantized tile does not exist at all. `dequant(q, s)` with an explicit
//!    scale tile stays (the IR has no op that attaches a scale tile to codes); it is a register
//!    value feeding the dot, converted by it.
//! 2. Decide, per dot with scaled, narrow or mixed operands, the [`FuseStrategy`] for the target
//!    (a function of operand formats and [`TargetCaps`] only, so the lowering can recompute it),
//!    and record it as the kernel attribute `fuse.dot@<lo>:<hi> = "<strategy>"` (keyed by the
//!    dot's source span, which every pass preserves), printed with the IR.
//!
//! Strategy on a target without a native block-scaled MMA for the operands (sm_90a always):
//! - both operands FP8 of one type (MX FP8, DeepSeek f32 block scales, per-tensor FP8): the MMA
//!   runs on the raw e4m3/e5m2 codes per K-block and the f32 partial sums are multiplied by
//!   `sa[m] * sb[n]` of that block as they are added to the accumulator (accumulator promotion);
//! - an FP4/FP6 operand or operands of different types (MXFP4 weights x FP8 or bf16 activations,
//!   NVFP4): codes are converted in registers to bf16 with their block scale folded in (exact: a
//!   bf16 has e8m0's exponent range and holds e2m1 x ue4m3 products exactly) and fed to a bf16 MMA;
//!   an NVFP4 per-tensor scale multiplies the accumulator once after the K loop.
//!
//! A dequantized tile that is also stored to memory cannot stay in registers: that dot is reported
//! as emulated (a visible note), never silently.
//!
//! The strategy is the plan the native block-scaled targets implement. The sm_90a per-op lowering
//! reads the scaled operands itself and reports what it did in its own dequant line (for instance
//! MXFP4 x MXFP8 on e4m3 codes with the FP4 operand converted as it is staged, not both to bf16);
//! the build report marks the pass's line "not used" there.

use crate::walk::{definitions, use_counts, walk};
use crate::{Changed, Pass, PassError, PassInfo, TargetCaps};
use std::collections::HashMap;
use tessera_ir::{Block, DType, Kernel, OpKind, Span, TileType, Type, ValueId};

pub const INFO: PassInfo = PassInfo {
    name: "fuse-dequant",
    summary: "fold dequant into scaled dots and choose each dot's dequant strategy per target",
    make: || Box::new(FuseDequant),
};

/// Prefix of the strategy attributes this pass writes.
pub const FUSE_ATTR: &str = "fuse.dot@";

pub struct FuseDequant;

/// How a dot's dequantization happens inside the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuseStrategy {
    /// The target's MMA consumes both block-scale contracts natively.
    Native { instr: &'static str },
    /// MMA on raw codes per K-block of `k_block`; f32 partial sums scaled into the accumulator.
    AccumulatorScale { k_block: u32 },
    /// Codes converted in registers to `to` with the block scale folded in, then a plain MMA.
    RegisterConvert { to: DType },
    /// The dequantized tile also goes to memory: computed as a separate dequant (a visible note).
    Emulated { why: String },
}

impl FuseStrategy {
    /// The attribute value and the report's "(how)".
    pub fn describe(&self) -> String {
        match self {
            FuseStrategy::Native { instr } => format!("native block-scaled MMA ({instr})"),
            FuseStrategy::AccumulatorScale { k_block } => {
                format!("MMA on raw codes, scales applied to the f32 accumulator per K-block of {k_block}")
            }
            FuseStrategy::RegisterConvert { to } => {
                format!("codes converted to {to} in registers with the scale folded in, then MMA")
            }
            FuseStrategy::Emulated { why } => format!("emulated: {why}"),
        }
    }
}

impl Pass for FuseDequant {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn run(&self, kernel: &mut Kernel, caps: &TargetCaps) -> Result<Changed, PassError> {
        let rewritten = fold_dequants(kernel);
        let before = kernel.attrs.clone();
        kernel.attrs.retain(|(k, _)| !k.starts_with(FUSE_ATTR));
        for (span, s) in dot_strategies(kernel, caps) {
            kernel
                .attrs
                .push((format!("{FUSE_ATTR}{}:{}", span.lo, span.hi), s.describe()));
        }
        Ok(Changed::from_bool(rewritten > 0 || kernel.attrs != before))
    }
}

/// One line per dot that involves dequantization, for the build report:
/// `dequant: fused (how)` or `dequant: emulated (why)` with the dot's span.
pub fn dequant_report(kernel: &Kernel, caps: &TargetCaps) -> Vec<(Span, String)> {
    dot_strategies(kernel, caps)
        .into_iter()
        .map(|(span, s)| {
            let line = match &s {
                FuseStrategy::Emulated { why } => format!("dequant: emulated ({why})"),
                s => format!("dequant: fused ({})", s.describe()),
            };
            (span, line)
        })
        .collect()
}

/// The strategy of every dot that needs one, in program order.
pub fn dot_strategies(kernel: &Kernel, caps: &TargetCaps) -> Vec<(Span, FuseStrategy)> {
    let defs = definitions(kernel);
    let stored = stored_values(kernel);
    let mut out = Vec::new();
    walk(&kernel.body, &mut |op| {
        if let OpKind::Dot { a, b, .. } = op.kind
            && let Some(s) = strategy(kernel, &defs, &stored, a, b, caps)
        {
            out.push((op.span, s));
        }
    });
    out
}

/// A dot operand seen through `transpose` and `dequant`: its element type and scale contract.
struct Source<'k> {
    tile: &'k TileType,
    /// Axis of `tile` that runs along the dot's K.
    k_axis: usize,
    /// Came through a `dequant` (explicit or of a scaled tile) that is still in the IR.
    dequant: Option<ValueId>,
}

/// `k_axis` is the K axis of the operand as the dot sees it (lhs 1, rhs 0).
fn source<'k>(
    k: &'k Kernel,
    defs: &HashMap<ValueId, &'k OpKind>,
    v: ValueId,
    k_axis: usize,
) -> Option<Source<'k>> {
    let (mut v, mut k_axis) = (v, k_axis);
    if let Some(OpKind::Transpose { x }) = defs.get(&v) {
        v = *x;
        k_axis = 1 - k_axis;
    }
    if let Some(OpKind::Dequant { x, .. }) = defs.get(&v) {
        return Some(Source {
            tile: k.ty(*x).as_tile()?,
            k_axis,
            dequant: Some(v),
        });
    }
    Some(Source {
        tile: k.ty(v).as_tile()?,
        k_axis,
        dequant: None,
    })
}

fn strategy(
    k: &Kernel,
    defs: &HashMap<ValueId, &OpKind>,
    stored: &[bool],
    a: ValueId,
    b: ValueId,
    caps: &TargetCaps,
) -> Option<FuseStrategy> {
    let (sa, sb) = (source(k, defs, a, 1)?, source(k, defs, b, 0)?);
    // A dot needs dequantization when a scale is present, a dequant feeds it, or a narrow format
    // is not something the MMA takes as is (FP4/FP6, or FP8 against another type). Plain FP8 x FP8
    // of one type and bf16/f16/f32 dots are the MMA's own business.
    let mma_ok = |t: &TileType| caps.mma_operand_types.contains(&t.dtype) && sa.tile.dtype == sb.tile.dtype;
    let needs = |t: &TileType| t.scale.is_some() || (t.dtype.is_narrow_float() && !mma_ok(t));
    let involved = sa.dequant.is_some() || sb.dequant.is_some() || needs(sa.tile) || needs(sb.tile);
    if !involved {
        return None;
    }
    for s in [&sa, &sb] {
        if let Some(d) = s.dequant
            && stored.get(d.0 as usize).copied().unwrap_or(false)
        {
            return Some(FuseStrategy::Emulated {
                why: "the dequantized tile is also stored to memory, so it is materialized".into(),
            });
        }
    }
    let native = |t: &TileType| t.scale.as_ref().and_then(|s| caps.native_for(t.dtype, s));
    if sa.dequant.is_none()
        && sb.dequant.is_none()
        && let (Some(na), Some(nb)) = (native(sa.tile), native(sb.tile))
        && na.instr == nb.instr
    {
        return Some(FuseStrategy::Native { instr: na.instr });
    }
    let mma_type = |t: &TileType| caps.mma_operand_types.contains(&t.dtype);
    let explicit_dequant = sa.dequant.is_some() || sb.dequant.is_some();
    if !explicit_dequant && sa.tile.dtype == sb.tile.dtype && mma_type(sa.tile) && mma_type(sb.tile) {
        // K block of the scaled operands; unscaled (per-tensor) operands span the whole K tile.
        let kb = [&sa, &sb]
            .iter()
            .filter_map(|s| {
                s.tile
                    .scale
                    .as_ref()
                    .and_then(|sp| sp.block.get(s.k_axis).copied())
            })
            .min()
            .or_else(|| sa.tile.shape.get(sa.k_axis).copied())
            .unwrap_or(1);
        return Some(FuseStrategy::AccumulatorScale { k_block: kb });
    }
    Some(FuseStrategy::RegisterConvert { to: DType::BF16 })
}

/// Rewrite `dot(dequant(x))` / `dot(transpose(dequant(x)))` onto the scaled tile `x` when the
/// dequantized tile has no other use; returns the number of dequants removed.
fn fold_dequants(k: &mut Kernel) -> usize {
    let uses = use_counts(k);
    let plan = {
        let defs = definitions(k);
        let mut plan = Vec::new();
        walk(&k.body, &mut |op| {
            if let OpKind::Dot { a, b, .. } = op.kind {
                for (slot, v) in [(0, a), (1, b)] {
                    if let Some(r) = foldable(k, &defs, &uses, v) {
                        plan.push((op.results[0], slot, r));
                    }
                }
            }
        });
        plan
    };
    let mut removed = 0;
    for (dot, slot, r) in plan {
        match r {
            Fold::Direct { scaled } => set_dot_operand(&mut k.body, dot, slot, scaled),
            Fold::Transposed { transpose, scaled } => {
                retarget_transpose(&mut k.body, transpose, scaled);
                let Some(st) = k.ty(scaled).as_tile().cloned() else {
                    continue;
                };
                let mut tt = st.clone();
                tt.shape.reverse();
                if let Some(s) = &mut tt.scale {
                    s.block.reverse();
                }
                if let Some(v) = k.values.get_mut(transpose.0 as usize) {
                    v.ty = Type::Tile(tt);
                }
            }
        }
        removed += 1;
    }
    if removed > 0 {
        // The dequants now have no use; drop them (a dead dequant would still be lowered).
        let uses = use_counts(k);
        drop_dead_dequants(&mut k.body, &uses);
    }
    removed
}

enum Fold {
    Direct { scaled: ValueId },
    Transposed { transpose: ValueId, scaled: ValueId },
}

fn foldable(k: &Kernel, defs: &HashMap<ValueId, &OpKind>, uses: &[u32], v: ValueId) -> Option<Fold> {
    let single = |x: ValueId| uses.get(x.0 as usize) == Some(&1);
    let scaled_dequant = |x: ValueId| match defs.get(&x) {
        Some(OpKind::Dequant {
            x: src, scale: None, ..
        }) if k.ty(*src).as_tile()?.scale.is_some() => Some(*src),
        _ => None,
    };
    if let Some(src) = scaled_dequant(v)
        && single(v)
    {
        return Some(Fold::Direct { scaled: src });
    }
    if let Some(OpKind::Transpose { x }) = defs.get(&v)
        && single(v)
        && single(*x)
        && let Some(src) = scaled_dequant(*x)
    {
        return Some(Fold::Transposed {
            transpose: v,
            scaled: src,
        });
    }
    None
}

fn set_dot_operand(b: &mut Block, dot: ValueId, slot: usize, to: ValueId) {
    for op in &mut b.ops {
        if op.results.first() == Some(&dot)
            && let OpKind::Dot { a, b, .. } = &mut op.kind
        {
            *(if slot == 0 { a } else { b }) = to;
        }
        for inner in op.kind.blocks_mut() {
            set_dot_operand(inner, dot, slot, to);
        }
    }
}

fn retarget_transpose(b: &mut Block, t: ValueId, to: ValueId) {
    for op in &mut b.ops {
        if op.results.first() == Some(&t)
            && let OpKind::Transpose { x } = &mut op.kind
        {
            *x = to;
        }
        for inner in op.kind.blocks_mut() {
            retarget_transpose(inner, t, to);
        }
    }
}

fn drop_dead_dequants(b: &mut Block, uses: &[u32]) {
    b.ops.retain(|op| {
        !(matches!(op.kind, OpKind::Dequant { .. })
            && op
                .results
                .iter()
                .all(|r| uses.get(r.0 as usize).is_none_or(|u| *u == 0)))
    });
    for op in &mut b.ops {
        for inner in op.kind.blocks_mut() {
            drop_dead_dequants(inner, uses);
        }
    }
}

/// Values written to memory by a store or atomic, directly or through casts.
fn stored_values(k: &Kernel) -> Vec<bool> {
    let defs = definitions(k);
    let mut stored = vec![false; k.values.len()];
    walk(&k.body, &mut |op| {
        if let OpKind::Store { value, .. } | OpKind::AtomicAdd { value, .. } = op.kind {
            let mut v = value;
            while let Some(slot) = stored.get_mut(v.0 as usize) {
                *slot = true;
                match defs.get(&v) {
                    Some(OpKind::Cast { x, .. }) | Some(OpKind::Broadcast { x }) => v = *x,
                    _ => break,
                }
            }
        }
    });
    stored
}
