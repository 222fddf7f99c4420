//! Divisibility facts about i32 scalars and where a tile's K coordinate starts: what the grouped
//! scaled `dot` needs to know that each group of its K extent lies inside one scale block.
//!
//! `multiple_of(v)` is a number `v` is known to be a multiple of at run time (1 when nothing is
//! known): constants, products, sums and differences, and a loop's induction variable (a
//! multiple of the gcd of its start and step). Like Triton's axis analysis, it never assumes: a
//! value it cannot follow is a multiple of 1.

use std::collections::HashMap;
use tessera_ir::{BinOp, Block, Index, Kernel, OpKind, ValueId};

/// How a value is made.
enum Def<'k> {
    Op(&'k OpKind),
    /// A loop's induction variable: `(lo, step)`.
    Iv(ValueId, ValueId),
}

/// The defining op of every value of one kernel.
pub(super) struct Align<'k> {
    defs: HashMap<ValueId, Def<'k>>,
}

/// Divisors are capped here (a constant 0 is a multiple of everything).
const ANY: u64 = 1 << 30;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl<'k> Align<'k> {
    pub(super) fn new(k: &'k Kernel) -> Align<'k> {
        fn walk<'k>(b: &'k Block, defs: &mut HashMap<ValueId, Def<'k>>) {
            for op in &b.ops {
                for r in &op.results {
                    defs.insert(*r, Def::Op(&op.kind));
                }
                if let OpKind::For { lo, step, body, .. } = &op.kind
                    && let Some(iv) = body.args.first()
                {
                    defs.insert(*iv, Def::Iv(*lo, *step));
                }
                for inner in op.kind.blocks() {
                    walk(inner, defs);
                }
            }
        }
        let mut defs = HashMap::new();
        walk(&k.body, &mut defs);
        Align { defs }
    }

    /// A number the i32 scalar `v` is always a multiple of.
    pub(super) fn multiple_of(&self, v: ValueId) -> u64 {
        self.mult(v, 0)
    }

    fn mult(&self, v: ValueId, depth: u32) -> u64 {
        if depth > 64 {
            return 1;
        }
        match self.defs.get(&v) {
            Some(Def::Op(OpKind::ConstInt { value })) => match value.unsigned_abs() {
                0 => ANY,
                x => x.min(ANY),
            },
            Some(Def::Op(OpKind::Binary { op, lhs, rhs })) => {
                let (a, b) = (self.mult(*lhs, depth + 1), self.mult(*rhs, depth + 1));
                match op {
                    BinOp::Mul => a.saturating_mul(b).min(ANY),
                    BinOp::Add | BinOp::Sub => gcd(a, b),
                    _ => 1,
                }
            }
            Some(Def::Iv(lo, step)) => gcd(self.mult(*lo, depth + 1), self.mult(*step, depth + 1)),
            _ => 1,
        }
    }

    /// For a dot operand `v`, the load it comes from (through transposes and layout conversions)
    /// and a number the start of tile axis `axis` (of `v`) is a multiple of, with the tensor dim
    /// that axis reads; `None` when `v` is not a loaded tile.
    pub(super) fn tile_start(&self, v: ValueId, axis: usize) -> Option<(&'k tessera_ir::Access, usize, u64)> {
        let mut v = v;
        let mut axis = axis;
        for _ in 0..16 {
            match self.defs.get(&v)? {
                Def::Op(OpKind::Transpose { x }) => {
                    v = *x;
                    axis = 1 - axis.min(1);
                }
                Def::Op(OpKind::ConvertLayout { x }) => v = *x,
                Def::Op(OpKind::Load { access, .. }) => {
                    let d = (0..access.index.len()).find(|d| access.range_tile_dim(*d) == Some(axis))?;
                    let Index::Range { start, .. } = access.index[d] else {
                        return None;
                    };
                    return Some((access, d, self.multiple_of(start)));
                }
                _ => return None,
            }
        }
        None
    }
}
