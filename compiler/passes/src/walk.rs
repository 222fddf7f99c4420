//! Traversals of a kernel body shared by the passes: visit every op (nested blocks included),
//! read-only or in place, count the uses of every value, find the op defining each value.

use std::collections::HashMap;
use tessera_ir::{Block, Kernel, Op, OpKind, ValueId};

/// Call `f` on every op of `b` and of the blocks nested in it, in program order.
pub fn walk<'k>(b: &'k Block, f: &mut dyn FnMut(&'k Op)) {
    for op in &b.ops {
        f(op);
        for inner in op.kind.blocks() {
            walk(inner, f);
        }
    }
}

/// Call `f` on every op of `b` and of the blocks nested in it, in program order, each op before the
/// blocks it holds; `f` may rewrite the op in place (operands, attributes), not the block structure.
pub fn walk_mut(b: &mut Block, f: &mut dyn FnMut(&mut Op)) {
    for op in &mut b.ops {
        f(op);
        for inner in op.kind.blocks_mut() {
            walk_mut(inner, f);
        }
    }
}

/// Number of operand uses of each value of `k`'s arena.
pub fn use_counts(k: &Kernel) -> Vec<u32> {
    let mut uses = vec![0u32; k.values.len()];
    walk(&k.body, &mut |op| {
        for v in op.kind.operands() {
            if let Some(u) = uses.get_mut(v.0 as usize) {
                *u += 1;
            }
        }
    });
    uses
}

/// The op defining each op result (block arguments have no entry).
pub fn definitions(k: &Kernel) -> HashMap<ValueId, &OpKind> {
    let mut m = HashMap::new();
    walk(&k.body, &mut |op| {
        for r in &op.results {
            m.insert(*r, &op.kind);
        }
    });
    m
}
