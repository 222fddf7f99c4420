//! `pipeline-loads`: software pipelining of a loop's global reads. Each tile `load` in a `for` body
//! whose coordinates follow from the induction variable is issued one iteration early: the loop
//! carries the tile loaded for this iteration, and the body loads the next iteration's tile first
//! thing, so that the global read overlaps the body's compute (a register double buffer; the
//! lowering's `dot` then stages the carried tile while the next one is in flight).
//!
//! Meaning is unchanged because:
//! - only tensors the kernel never writes (no `store`, no `atomic_add`) are read early, so reading
//!   sooner cannot see another value;
//! - the coordinates of the early read are the same pure computation at `iv + step` (and at `lo`
//!   before the loop), built only from ops that cannot fail (no division except by a non-zero
//!   constant), so the one extra read past the last iteration cannot raise an error;
//! - every access is bounded and masked, so that extra read is in bounds or masked out; its value
//!   is carried out of the loop and never used.
//!
//! Scaled and packed tiles are not pipelined (their per-register scales would triple the carried
//! registers). Loads under an `if` in the body, loads whose coordinates read a loop-carried value or another
//! load, and loads that do not move with the induction variable (loop-invariant; a hoisting pass's
//! job) are left where they are.

use crate::walk::walk_mut;
use crate::{Changed, Pass, PassError, PassInfo, TargetCaps};
use std::collections::{BTreeSet, HashMap, HashSet};
use tessera_ir::{BinOp, Block, Kernel, Op, OpKind, ParamId, ParamKind, Type, ValueId};

pub const INFO: PassInfo = PassInfo {
    name: "pipeline-loads",
    summary: "issue each loop's tile loads one iteration early (a register double buffer)",
    make: || Box::new(PipelineLoads),
};

pub struct PipelineLoads;

impl Pass for PipelineLoads {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn run(&self, kernel: &mut Kernel, _caps: &TargetCaps) -> Result<Changed, PassError> {
        let written = written_tensors(&kernel.body);
        let body = std::mem::take(&mut kernel.body);
        let mut changed = false;
        kernel.body = rewrite_block(kernel, body, &written, &mut changed)?;
        Ok(Changed::from_bool(changed))
    }
}

fn internal(message: impl Into<String>) -> PassError {
    PassError::Internal {
        pass: INFO.name,
        message: message.into(),
    }
}

/// Tensors some `store` or `atomic_add` of the kernel writes.
fn written_tensors(b: &Block) -> HashSet<ParamId> {
    let mut out = HashSet::new();
    crate::walk::walk(b, &mut |op| match &op.kind {
        OpKind::Store { access, .. } | OpKind::AtomicAdd { access, .. } => {
            out.insert(access.tensor);
        }
        _ => {}
    });
    out
}

/// Pipeline every loop of `b`, innermost first.
fn rewrite_block(
    k: &mut Kernel,
    b: Block,
    written: &HashSet<ParamId>,
    changed: &mut bool,
) -> Result<Block, PassError> {
    let mut ops = Vec::with_capacity(b.ops.len());
    for mut op in b.ops {
        for inner in op.kind.blocks_mut() {
            let taken = std::mem::take(inner);
            *inner = rewrite_block(k, taken, written, changed)?;
        }
        if matches!(op.kind, OpKind::For { .. }) {
            *changed |= pipeline_loop(k, &mut op, &mut ops, written)?;
        }
        ops.push(op);
    }
    Ok(Block { args: b.args, ops })
}

/// Whether an op may be re-evaluated at another induction value: pure, and unable to fail.
pub fn replayable(kind: &OpKind, body: &Block) -> bool {
    match kind {
        OpKind::ConstInt { .. }
        | OpKind::ConstFloat { .. }
        | OpKind::Full { .. }
        | OpKind::ProgramId { .. }
        | OpKind::NumPrograms { .. }
        | OpKind::SymDim { .. }
        | OpKind::Arange { .. }
        | OpKind::Unary { .. }
        | OpKind::Cmp { .. }
        | OpKind::Select { .. }
        | OpKind::Cast { .. }
        | OpKind::Broadcast { .. }
        | OpKind::ExpandDims { .. } => true,
        // Integer division by zero is an error; dividing by a non-zero constant is not.
        OpKind::Binary {
            op: BinOp::Div | BinOp::Rem,
            rhs,
            ..
        } => body.ops.iter().any(|o| {
            o.results.first() == Some(rhs) && matches!(o.kind, OpKind::ConstInt { value } if value != 0)
        }),
        OpKind::Binary { .. } => true,
        _ => false,
    }
}

/// The top-level body ops (indices) that compute `v` from the induction variable and values
/// defined before the loop, added to `slice`; `Ok(true)` when `v` depends on the induction
/// variable, `Err(())` when it cannot be recomputed (reads a carried value, another load, or a
/// value made inside a nested block).
#[allow(clippy::result_unit_err)] // the caller only needs "not recomputable"
pub fn slice_of(
    v: ValueId,
    body: &Block,
    def: &HashMap<ValueId, usize>,
    inside: &HashSet<ValueId>,
    slice: &mut BTreeSet<usize>,
) -> Result<bool, ()> {
    let iv = body.args[0];
    if v == iv {
        return Ok(true);
    }
    if !inside.contains(&v) {
        return Ok(false);
    }
    let Some(&i) = def.get(&v) else {
        return Err(()); // a carried value, or a result of an op nested in an `if`/inner loop
    };
    let op = &body.ops[i];
    if !replayable(&op.kind, body) {
        return Err(());
    }
    let mut dep = false;
    for x in op.kind.operands() {
        dep |= slice_of(x, body, def, inside, slice)?;
    }
    slice.insert(i);
    Ok(dep)
}

/// What [`slice_of`] needs of a loop body: every value defined inside it, and the index of the
/// top-level op defining each top-level result.
pub fn body_facts(body: &Block) -> (HashSet<ValueId>, HashMap<ValueId, usize>) {
    let mut inside = HashSet::new();
    defined_inside(body, &mut inside);
    let def = body
        .ops
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.results.iter().map(move |r| (*r, i)))
        .collect();
    (inside, def)
}

/// Every value defined inside `b` (its arguments, op results, nested blocks included).
pub fn defined_inside(b: &Block, out: &mut HashSet<ValueId>) {
    out.extend(b.args.iter().copied());
    for op in &b.ops {
        out.extend(op.results.iter().copied());
        for inner in op.kind.blocks() {
            defined_inside(inner, out);
        }
    }
}

/// A copy of `op` reading `map[x]` for every operand `x` in `map`, with fresh results.
fn replay(k: &mut Kernel, op: &Op, map: &mut HashMap<ValueId, ValueId>, suffix: &str) -> Op {
    let mut kind = op.kind.clone();
    kind.for_each_operand_mut(|x| {
        if let Some(y) = map.get(x) {
            *x = *y;
        }
    });
    let results = op
        .results
        .iter()
        .map(|r| {
            let info = k.value(*r).clone();
            let n = k.new_value(info.ty, info.name.map(|n| format!("{n}_{suffix}")));
            map.insert(*r, n);
            n
        })
        .collect();
    Op {
        kind,
        results,
        span: op.span,
    }
}

/// Pipeline the loads of one `for` op; prologue ops (the first iteration's loads) go to `before`.
fn pipeline_loop(
    k: &mut Kernel,
    op: &mut Op,
    before: &mut Vec<Op>,
    written: &HashSet<ParamId>,
) -> Result<bool, PassError> {
    let OpKind::For {
        lo,
        step,
        inits,
        body,
        ..
    } = &mut op.kind
    else {
        return Ok(false);
    };
    let (lo, step) = (*lo, *step);
    let Some(&iv) = body.args.first() else {
        return Err(internal("a `for` body without its induction variable"));
    };
    let (inside, def) = body_facts(body);
    // Candidates: tile loads of read-only tensors whose coordinates move with the induction variable.
    let mut loads = Vec::new();
    let mut slice = BTreeSet::new();
    for (i, o) in body.ops.iter().enumerate() {
        let OpKind::Load { access, .. } = &o.kind else {
            continue;
        };
        // Plain tiles only: a scaled tile carries a multiplier and a stored scale per register
        // besides its codes, three times the loop-carried registers, which spills.
        let plain = matches!(o.results.first().map(|r| k.ty(*r)), Some(Type::Tile(t)) if t.scale.is_none());
        let packed =
            matches!(&k.param(access.tensor).kind, ParamKind::Tensor { ty, .. } if ty.packed_axis.is_some());
        if written.contains(&access.tensor) || !plain || packed {
            continue;
        }
        let mut s = BTreeSet::new();
        let mut dep = false;
        let mut ok = true;
        for x in o.kind.operands() {
            match slice_of(x, body, &def, &inside, &mut s) {
                Ok(d) => dep |= d,
                Err(()) => ok = false,
            }
        }
        if ok && dep {
            loads.push(i);
            slice.extend(s);
        }
    }
    if loads.is_empty() {
        return Ok(false);
    }
    // Prologue: the slice and the loads at `iv = lo`, before the loop.
    let mut at_lo = HashMap::from([(iv, lo)]);
    for &i in slice.iter().chain(&loads) {
        before.push(replay(k, &body.ops[i], &mut at_lo, "first"));
    }
    // Body: `iv + step`, then the slice and the loads of the next iteration, first thing.
    let next_iv = k.new_value(k.ty(iv).clone(), Some("iv_next".into()));
    let mut at_next = HashMap::from([(iv, next_iv)]);
    let mut head = vec![Op {
        kind: OpKind::Binary {
            op: BinOp::Add,
            lhs: iv,
            rhs: step,
        },
        results: vec![next_iv],
        span: op.span,
    }];
    for &i in slice.iter().chain(&loads) {
        let replayed = replay(k, &body.ops[i], &mut at_next, "next");
        head.push(replayed);
    }
    // The loaded tiles now arrive as carried values; the loop yields the next ones and returns
    // the last (unused) prefetch as extra results.
    let originals: Vec<ValueId> = loads.iter().map(|&i| body.ops[i].results[0]).collect();
    let mut carried = HashMap::new();
    let mut results = Vec::new();
    for &r in &originals {
        let info = k.value(r).clone();
        let arg = k.new_value(info.ty.clone(), info.name.clone());
        carried.insert(r, arg);
        body.args.push(arg);
        inits.push(at_lo[&r]);
        results.push(k.new_value(info.ty, info.name.map(|n| format!("{n}_last"))));
    }
    let old = std::mem::take(&mut body.ops);
    let mut tail = Block {
        args: Vec::new(),
        ops: old
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !loads.contains(i))
            .map(|(_, o)| o)
            .collect(),
    };
    walk_mut(&mut tail, &mut |o| {
        o.kind.for_each_operand_mut(|x| {
            if let Some(y) = carried.get(x) {
                *x = *y;
            }
        })
    });
    let nexts = originals.iter().map(|r| at_next[r]);
    match tail.ops.last_mut().map(|o| &mut o.kind) {
        Some(OpKind::Yield { values }) => values.extend(nexts),
        // A loop without carried values has no `yield` yet.
        _ => tail.ops.push(Op {
            kind: OpKind::Yield {
                values: nexts.collect(),
            },
            results: Vec::new(),
            span: op.span,
        }),
    }
    head.extend(tail.ops);
    body.ops = head;
    op.results.extend(results);
    Ok(true)
}
