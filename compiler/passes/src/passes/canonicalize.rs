//! `canonicalize`: folds scalar constant arithmetic and removes dead side-effect-free ops. The
//! tiny example pass of docs/dev/adding-a-pass.md.
//!
//! Folding is in place (`%x = binary add %c1, %c2` becomes `%x = const_int 5`), so no use has to
//! be rewritten and the result keeps its id, name and span. Folds compute exactly what the
//! interpreter computes: i32 arithmetic only when it does not overflow or divide by zero, f32
//! arithmetic in f32 (other scalar float types are left alone).

use crate::{Changed, Pass, PassError, PassInfo, TargetCaps};
use std::collections::HashMap;
use tessera_ir::{BinOp, Block, CmpPred, DType, Kernel, OpKind, Type, UnOp, ValueId};

pub const INFO: PassInfo = PassInfo {
    name: "canonicalize",
    summary: "fold scalar constants, remove dead side-effect-free ops",
    make: || Box::new(Canonicalize),
};

pub struct Canonicalize;

impl Pass for Canonicalize {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn run(&self, kernel: &mut Kernel, _caps: &TargetCaps) -> Result<Changed, PassError> {
        let folded = fold_constants(kernel);
        let removed = remove_dead_ops(kernel);
        Ok(Changed::from_bool(folded + removed > 0))
    }
}

/// A known scalar constant.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Const {
    Int(i64),
    F32(f32),
}

/// Fold every scalar op whose operands are constants; returns how many ops were folded.
fn fold_constants(k: &mut Kernel) -> usize {
    let mut consts = HashMap::new();
    let types: Vec<Type> = k.values.iter().map(|v| v.ty.clone()).collect();
    let mut body = std::mem::take(&mut k.body);
    let n = fold_block(&mut body, &types, &mut consts);
    k.body = body;
    n
}

fn fold_block(b: &mut Block, types: &[Type], consts: &mut HashMap<ValueId, Const>) -> usize {
    let mut n = 0;
    for op in &mut b.ops {
        for inner in op.kind.blocks_mut() {
            n += fold_block(inner, types, consts);
        }
        let [r] = op.results[..] else { continue };
        let Some(ty) = types.get(r.0 as usize) else {
            continue;
        };
        let folded = match &op.kind {
            OpKind::ConstInt { value } => {
                consts.insert(r, Const::Int(*value));
                continue;
            }
            OpKind::ConstFloat { value } if *ty == Type::Scalar(DType::F32) => {
                consts.insert(r, Const::F32(*value as f32));
                continue;
            }
            OpKind::Binary { op: bop, lhs, rhs } => match (consts.get(lhs), consts.get(rhs)) {
                (Some(a), Some(b)) => binary(*bop, *a, *b, ty),
                _ => None,
            },
            OpKind::Cmp { pred, lhs, rhs } => match (consts.get(lhs), consts.get(rhs)) {
                (Some(a), Some(b)) => compare(*pred, *a, *b).map(|t| Const::Int(t as i64)),
                _ => None,
            },
            OpKind::Unary { op: uop, x } => consts.get(x).and_then(|a| unary(*uop, *a, ty)),
            _ => None,
        };
        if let Some(c) = folded {
            op.kind = match c {
                Const::Int(value) => OpKind::ConstInt { value },
                Const::F32(v) => OpKind::ConstFloat { value: v as f64 },
            };
            consts.insert(r, c);
            n += 1;
        }
    }
    n
}

fn binary(op: BinOp, a: Const, b: Const, ty: &Type) -> Option<Const> {
    match (a, b, ty) {
        (Const::Int(a), Const::Int(b), Type::Scalar(DType::I32)) => {
            let (a, b) = (i32::try_from(a).ok()?, i32::try_from(b).ok()?);
            let v = match op {
                BinOp::Add => a.checked_add(b)?,
                BinOp::Sub => a.checked_sub(b)?,
                BinOp::Mul => a.checked_mul(b)?,
                BinOp::Div => a.checked_div(b)?,
                BinOp::Rem => a.checked_rem(b)?,
                BinOp::Max => a.max(b),
                BinOp::Min => a.min(b),
                BinOp::And | BinOp::Or => return None,
            };
            Some(Const::Int(v as i64))
        }
        (Const::Int(a), Const::Int(b), Type::Scalar(DType::I1)) => match op {
            BinOp::And => Some(Const::Int(((a != 0) && (b != 0)) as i64)),
            BinOp::Or => Some(Const::Int(((a != 0) || (b != 0)) as i64)),
            _ => None,
        },
        (Const::F32(a), Const::F32(b), Type::Scalar(DType::F32)) => {
            let v = match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Rem => a % b,
                // NaN handling of max/min differs between conventions: leave those to runtime.
                BinOp::Max | BinOp::Min if a.is_nan() || b.is_nan() => return None,
                BinOp::Max => a.max(b),
                BinOp::Min => a.min(b),
                BinOp::And | BinOp::Or => return None,
            };
            Some(Const::F32(v))
        }
        _ => None,
    }
}

fn compare(pred: CmpPred, a: Const, b: Const) -> Option<bool> {
    let ord = match (a, b) {
        (Const::Int(a), Const::Int(b)) => a.partial_cmp(&b),
        (Const::F32(a), Const::F32(b)) => a.partial_cmp(&b),
        _ => return None,
    };
    // Unordered (NaN): every predicate but Ne is false, as IEEE says.
    let Some(o) = ord else {
        return Some(pred == CmpPred::Ne);
    };
    Some(match pred {
        CmpPred::Lt => o.is_lt(),
        CmpPred::Le => o.is_le(),
        CmpPred::Gt => o.is_gt(),
        CmpPred::Ge => o.is_ge(),
        CmpPred::Eq => o.is_eq(),
        CmpPred::Ne => o.is_ne(),
    })
}

fn unary(op: UnOp, a: Const, ty: &Type) -> Option<Const> {
    match (op, a, ty) {
        (UnOp::Neg, Const::Int(a), Type::Scalar(DType::I32)) => {
            Some(Const::Int(i32::try_from(a).ok()?.checked_neg()? as i64))
        }
        (UnOp::Abs, Const::Int(a), Type::Scalar(DType::I32)) => {
            Some(Const::Int(i32::try_from(a).ok()?.checked_abs()? as i64))
        }
        (UnOp::Not, Const::Int(a), Type::Scalar(DType::I1)) => Some(Const::Int((a == 0) as i64)),
        (UnOp::Neg, Const::F32(a), Type::Scalar(DType::F32)) => Some(Const::F32(-a)),
        (UnOp::Abs, Const::F32(a), Type::Scalar(DType::F32)) => Some(Const::F32(a.abs())),
        // Transcendentals are left to the interpreter/hardware: their rounding is theirs.
        _ => None,
    }
}

/// Remove side-effect-free ops whose results are never used, to a fixpoint; returns how many.
fn remove_dead_ops(k: &mut Kernel) -> usize {
    let mut removed = 0;
    loop {
        let uses = crate::walk::use_counts(k);
        let n = sweep(&mut k.body, &uses);
        if n == 0 {
            return removed;
        }
        removed += n;
    }
}

fn sweep(b: &mut Block, uses: &[u32]) -> usize {
    let before = b.ops.len();
    b.ops.retain(|op| {
        let dead = op
            .results
            .iter()
            .all(|r| uses.get(r.0 as usize).is_none_or(|u| *u == 0));
        !(dead && is_removable(&op.kind))
    });
    let mut n = before - b.ops.len();
    for op in &mut b.ops {
        for inner in op.kind.blocks_mut() {
            n += sweep(inner, uses);
        }
    }
    n
}

/// Ops without effects beyond their results. Loops/branches qualify when nothing inside them
/// writes memory; a `Yield` belongs to its parent.
fn is_removable(kind: &OpKind) -> bool {
    match kind {
        OpKind::Store { .. } | OpKind::AtomicAdd { .. } | OpKind::Yield { .. } => false,
        OpKind::For { .. } | OpKind::If { .. } => kind.blocks().iter().all(|b| block_is_pure(b)),
        _ => true,
    }
}

fn block_is_pure(b: &Block) -> bool {
    b.ops.iter().all(|op| match &op.kind {
        OpKind::Store { .. } | OpKind::AtomicAdd { .. } => false,
        OpKind::Yield { .. } => true,
        k => is_removable(k),
    })
}
