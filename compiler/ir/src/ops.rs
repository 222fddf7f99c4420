//! Ops of the tile IR. SSA values, structured control flow (`For`/`If` own their blocks, loop-carried
//! and branch-merged values are block arguments / results as in MLIR's scf), and tensor access only
//! through bounded, masked `Load`/`Store`/`AtomicAdd` (there are no pointers, so no op can address
//! memory outside a tensor).
//!
//! IR rules the verifier enforces (the checker establishes them, passes keep them):
//! - elementwise ops take operands of identical type (the checker inserts `Broadcast`/`Cast`);
//! - every op carries the span of the source construct it came from;
//! - a block's last op is `Yield` when its parent op has results.

use crate::{DType, ScaleSpec, Span, Type};
use serde::{Deserialize, Serialize};

/// Index of a value in [`crate::Kernel::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValueId(pub u32);

/// Index of a parameter in [`crate::Kernel::params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ParamId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Integer remainder (truncating); float `fmod`.
    Rem,
    Max,
    Min,
    /// Logical and/or on i1.
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnOp {
    Neg,
    Abs,
    Exp,
    Exp2,
    Log,
    Log2,
    Sqrt,
    Rsqrt,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpPred {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReduceKind {
    Sum,
    Max,
    Min,
}

/// How one dimension of a tensor is indexed by a `Load`/`Store`/`AtomicAdd`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Index {
    /// `start .. +size`: contributes a tile dimension of `size` (a compile-time constant).
    Range { start: ValueId, size: u32 },
    /// A single (i32 scalar) coordinate: the dimension is dropped from the tile.
    Point(ValueId),
    /// Gathered/scattered coordinates from an i32 tile of shape `[n]`: contributes a dimension of `n`.
    Gather(ValueId),
}

/// The view bounds of one tensor dimension: coordinates outside `[lo, hi) ∩ [0, dim)` are masked
/// (loads yield `other` / neutral scales, stores and atomics are skipped). `None` = the tensor edge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bound {
    pub lo: Option<ValueId>,
    pub hi: Option<ValueId>,
}

/// A tensor access: which parameter, one [`Index`] and one [`Bound`] per tensor dimension.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Access {
    pub tensor: ParamId,
    pub index: Vec<Index>,
    pub bounds: Vec<Bound>,
}

impl Access {
    /// The tile dim that tensor dim `d` becomes when it is sliced by a range (points drop their
    /// dim from the tile); `None` when `d` is a point or a gather.
    pub fn range_tile_dim(&self, d: usize) -> Option<usize> {
        match self.index.get(d)? {
            Index::Range { .. } => Some(
                self.index[..d]
                    .iter()
                    .filter(|i| !matches!(i, Index::Point(_)))
                    .count(),
            ),
            _ => None,
        }
    }
}

/// A straight-line list of ops with block arguments (loop induction variable and carried values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub args: Vec<ValueId>,
    pub ops: Vec<Op>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub kind: OpKind,
    pub results: Vec<ValueId>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OpKind {
    /// Integer constant (scalar i32/i1 result).
    ConstInt {
        value: i64,
    },
    /// Float constant (scalar float result); may be ±inf.
    ConstFloat {
        value: f64,
    },
    /// A tile filled with one value (`zeros`, `full`).
    Full {
        value: f64,
    },
    /// `program_id(axis)`, i32 scalar.
    ProgramId {
        axis: u8,
    },
    /// `num_programs(axis)`, i32 scalar.
    NumPrograms {
        axis: u8,
    },
    /// The launch-time value of symbolic dim `Kernel::syms[sym]`, i32 scalar.
    SymDim {
        sym: u32,
    },
    /// `arange(n)`: i32 tile `[0, 1, ..., n-1]`.
    Arange {
        n: u32,
    },
    Binary {
        op: BinOp,
        lhs: ValueId,
        rhs: ValueId,
    },
    Unary {
        op: UnOp,
        x: ValueId,
    },
    Cmp {
        pred: CmpPred,
        lhs: ValueId,
        rhs: ValueId,
    },
    /// `where(cond, a, b)`.
    Select {
        cond: ValueId,
        a: ValueId,
        b: ValueId,
    },
    /// Value conversion (round-to-nearest-even, saturating for narrow floats; truncation toward zero
    /// for float→int).
    Cast {
        x: ValueId,
        to: DType,
    },
    /// Scalar → tile, or size-1 dims → full extent (result type gives the shape).
    Broadcast {
        x: ValueId,
    },
    /// Insert a size-1 dimension at `axis`.
    ExpandDims {
        x: ValueId,
        axis: u32,
    },
    /// Swap the two dims of a rank-2 tile (scaled tiles transpose data and scales together).
    Transpose {
        x: ValueId,
    },
    /// The same tile in another layout (distributed level only): moves data between registers,
    /// lanes, warps and shared memory; never changes a value.
    ConvertLayout {
        x: ValueId,
    },
    Reduce {
        kind: ReduceKind,
        x: ValueId,
        axis: u32,
    },
    /// Masked tile (or scalar) read. Scaled tensors yield scaled tiles; masked-out data reads `other`
    /// (codes: the zero code) and masked-out scales read the neutral scale (1.0).
    Load {
        access: Access,
        other: f64,
    },
    Store {
        access: Access,
        value: ValueId,
    },
    /// Masked atomic add (f32/i32) into a tensor, e.g. the weighted scatter of a MoE epilogue.
    AtomicAdd {
        access: Access,
        value: ValueId,
    },
    /// `acc + a @ b`. `a: [M, K]`, `b: [K, N]`, `acc: [M, N]` (f32, or i32 for i8). Plain or scaled
    /// operands; a scaled operand must be blocked along K only.
    Dot {
        a: ValueId,
        b: ValueId,
        acc: ValueId,
    },
    /// Scaled tile (or codes + explicit scale tile) → plain tile of `to` (f32/bf16/f16).
    Dequant {
        x: ValueId,
        scale: Option<ValueId>,
        to: DType,
    },
    /// Plain tile → scaled tile of element `elem` under `spec` (scales computed per OCP MX §6.3 or
    /// the NVFP4 recipe). `global` is the NV per-tensor scale operand.
    Quantize {
        x: ValueId,
        elem: DType,
        spec: ScaleSpec,
        global: Option<ValueId>,
    },
    /// `for iv in lo..hi step step` with loop-carried values. Body args: `[iv, carried...]`; the body
    /// ends with `Yield` of the next carried values; results are the final carried values.
    For {
        lo: ValueId,
        hi: ValueId,
        step: ValueId,
        inits: Vec<ValueId>,
        body: Block,
    },
    /// Results merge the `Yield` of each branch.
    If {
        cond: ValueId,
        then_block: Block,
        else_block: Block,
    },
    Yield {
        values: Vec<ValueId>,
    },
}

impl OpKind {
    /// The mnemonic used in the IR text form.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            OpKind::ConstInt { .. } => "const_int",
            OpKind::ConstFloat { .. } => "const_float",
            OpKind::Full { .. } => "full",
            OpKind::ProgramId { .. } => "program_id",
            OpKind::NumPrograms { .. } => "num_programs",
            OpKind::SymDim { .. } => "sym_dim",
            OpKind::Arange { .. } => "arange",
            OpKind::Binary { .. } => "binary",
            OpKind::Unary { .. } => "unary",
            OpKind::Cmp { .. } => "cmp",
            OpKind::Select { .. } => "select",
            OpKind::Cast { .. } => "cast",
            OpKind::Broadcast { .. } => "broadcast",
            OpKind::ExpandDims { .. } => "expand_dims",
            OpKind::Transpose { .. } => "transpose",
            OpKind::ConvertLayout { .. } => "convert_layout",
            OpKind::Reduce { .. } => "reduce",
            OpKind::Load { .. } => "load",
            OpKind::Store { .. } => "store",
            OpKind::AtomicAdd { .. } => "atomic_add",
            OpKind::Dot { .. } => "dot",
            OpKind::Dequant { .. } => "dequant",
            OpKind::Quantize { .. } => "quantize",
            OpKind::For { .. } => "for",
            OpKind::If { .. } => "if",
            OpKind::Yield { .. } => "yield",
        }
    }

    /// Every value this op reads directly (not those read inside its blocks), in a fixed order.
    pub fn operands(&self) -> Vec<ValueId> {
        fn access(a: &Access, out: &mut Vec<ValueId>) {
            for i in &a.index {
                match i {
                    Index::Range { start, .. } => out.push(*start),
                    Index::Point(v) | Index::Gather(v) => out.push(*v),
                }
            }
            for b in &a.bounds {
                out.extend(b.lo);
                out.extend(b.hi);
            }
        }
        let mut out = Vec::new();
        match self {
            OpKind::ConstInt { .. }
            | OpKind::ConstFloat { .. }
            | OpKind::Full { .. }
            | OpKind::ProgramId { .. }
            | OpKind::NumPrograms { .. }
            | OpKind::SymDim { .. }
            | OpKind::Arange { .. } => {}
            OpKind::Binary { lhs, rhs, .. } | OpKind::Cmp { lhs, rhs, .. } => out.extend([*lhs, *rhs]),
            OpKind::Unary { x, .. }
            | OpKind::Cast { x, .. }
            | OpKind::Broadcast { x }
            | OpKind::ExpandDims { x, .. }
            | OpKind::Transpose { x }
            | OpKind::ConvertLayout { x }
            | OpKind::Reduce { x, .. } => out.push(*x),
            OpKind::Select { cond, a, b } => out.extend([*cond, *a, *b]),
            OpKind::Load { access: a, .. } => access(a, &mut out),
            OpKind::Store { access: a, value } | OpKind::AtomicAdd { access: a, value } => {
                access(a, &mut out);
                out.push(*value);
            }
            OpKind::Dot { a, b, acc } => out.extend([*a, *b, *acc]),
            OpKind::Dequant { x, scale, .. } => {
                out.push(*x);
                out.extend(*scale);
            }
            OpKind::Quantize { x, global, .. } => {
                out.push(*x);
                out.extend(*global);
            }
            OpKind::For {
                lo, hi, step, inits, ..
            } => {
                out.extend([*lo, *hi, *step]);
                out.extend(inits.iter().copied());
            }
            OpKind::If { cond, .. } => out.push(*cond),
            OpKind::Yield { values } => out.extend(values.iter().copied()),
        }
        out
    }

    /// Apply `f` to every value this op reads directly (the same set as [`OpKind::operands`]).
    pub fn for_each_operand_mut(&mut self, mut f: impl FnMut(&mut ValueId)) {
        fn access(a: &mut Access, f: &mut dyn FnMut(&mut ValueId)) {
            for i in &mut a.index {
                match i {
                    Index::Range { start, .. } => f(start),
                    Index::Point(v) | Index::Gather(v) => f(v),
                }
            }
            for b in &mut a.bounds {
                if let Some(v) = &mut b.lo {
                    f(v);
                }
                if let Some(v) = &mut b.hi {
                    f(v);
                }
            }
        }
        match self {
            OpKind::ConstInt { .. }
            | OpKind::ConstFloat { .. }
            | OpKind::Full { .. }
            | OpKind::ProgramId { .. }
            | OpKind::NumPrograms { .. }
            | OpKind::SymDim { .. }
            | OpKind::Arange { .. } => {}
            OpKind::Binary { lhs, rhs, .. } | OpKind::Cmp { lhs, rhs, .. } => {
                f(lhs);
                f(rhs);
            }
            OpKind::Unary { x, .. }
            | OpKind::Cast { x, .. }
            | OpKind::Broadcast { x }
            | OpKind::ExpandDims { x, .. }
            | OpKind::Transpose { x }
            | OpKind::ConvertLayout { x }
            | OpKind::Reduce { x, .. } => f(x),
            OpKind::Select { cond, a, b } => {
                f(cond);
                f(a);
                f(b);
            }
            OpKind::Load { access: a, .. } => access(a, &mut f),
            OpKind::Store { access: a, value } | OpKind::AtomicAdd { access: a, value } => {
                access(a, &mut f);
                f(value);
            }
            OpKind::Dot { a, b, acc } => {
                f(a);
                f(b);
                f(acc);
            }
            OpKind::Dequant { x, scale, .. } => {
                f(x);
                if let Some(s) = scale {
                    f(s);
                }
            }
            OpKind::Quantize { x, global, .. } => {
                f(x);
                if let Some(g) = global {
                    f(g);
                }
            }
            OpKind::For {
                lo, hi, step, inits, ..
            } => {
                f(lo);
                f(hi);
                f(step);
                inits.iter_mut().for_each(f);
            }
            OpKind::If { cond, .. } => f(cond),
            OpKind::Yield { values } => values.iter_mut().for_each(f),
        }
    }

    /// The blocks this op owns.
    pub fn blocks(&self) -> Vec<&Block> {
        match self {
            OpKind::For { body, .. } => vec![body],
            OpKind::If {
                then_block,
                else_block,
                ..
            } => vec![then_block, else_block],
            _ => Vec::new(),
        }
    }

    pub fn blocks_mut(&mut self) -> Vec<&mut Block> {
        match self {
            OpKind::For { body, .. } => vec![body],
            OpKind::If {
                then_block,
                else_block,
                ..
            } => vec![then_block, else_block],
            _ => Vec::new(),
        }
    }
}

/// Information kept per SSA value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueInfo {
    pub ty: Type,
    /// Source-level name, when the value came from a `let`/`var`/parameter (used by the printer).
    pub name: Option<String>,
}
