//! Tests of the `canonicalize` pass: constant folding (exactly as the interpreter computes, never
//! across overflow or division by zero) and dead-code removal that keeps every side effect.

#[path = "../common/mod.rs"]
mod common;

use common::{count_ops, run_pass};
use tessera_ir::{Access, BinOp, DType, Index, Kernel, KernelBuilder, OpKind, Type, samples};
use tessera_passes::Changed;

/// `o[0] = f(consts)`: a scalar store of the built value into `o: out i32[N]` (or `dtype`).
fn scalar_kernel(build: impl FnOnce(&mut KernelBuilder) -> tessera_ir::ValueId) -> Kernel {
    typed_scalar_kernel(DType::I32, build)
}

fn typed_scalar_kernel(
    dtype: DType,
    build: impl FnOnce(&mut KernelBuilder) -> tessera_ir::ValueId,
) -> Kernel {
    let mut b = KernelBuilder::new("k");
    let o = b.tensor("o", samples::tensor(dtype, &["N"]), true);
    b.grid(vec![tessera_ir::DimExpr::Const(1)]);
    let v = build(&mut b);
    let zero = b.i32(0);
    b.op(
        OpKind::Store {
            access: Access {
                tensor: o,
                index: vec![Index::Point(zero)],
                bounds: vec![Default::default()],
            },
            value: v,
        },
        vec![],
    );
    b.finish()
}

fn stored_const(k: &Kernel) -> Option<i64> {
    let store = k.body.ops.iter().find_map(|op| match &op.kind {
        OpKind::Store { value, .. } => Some(*value),
        _ => None,
    })?;
    k.body
        .ops
        .iter()
        .find(|op| op.results.first() == Some(&store))
        .and_then(|op| match op.kind {
            OpKind::ConstInt { value } => Some(value),
            _ => None,
        })
}

#[test]
fn folds_integer_arithmetic_and_removes_the_dead_operands() {
    let mut k = scalar_kernel(|b| {
        let (x, y) = (b.i32(3), b.i32(4));
        let m = b.bin(BinOp::Mul, x, y);
        let one = b.i32(1);
        b.bin(BinOp::Add, m, one)
    });
    assert_eq!(run_pass("canonicalize", &mut k, "sm_90a"), Changed::Yes);
    assert_eq!(stored_const(&k), Some(13));
    assert_eq!(count_ops(&k, "binary"), 0);
    // The folded value and the store index remain; 3, 4 and 1 are gone.
    assert_eq!(count_ops(&k, "const_int"), 2);
    assert_eq!(
        run_pass("canonicalize", &mut k, "sm_90a"),
        Changed::No,
        "a second run changes nothing"
    );
}

#[test]
fn never_folds_overflow_or_division_by_zero() {
    for (op, x, y) in [
        (BinOp::Add, i32::MAX as i64, 1),
        (BinOp::Div, 7, 0),
        (BinOp::Rem, 7, 0),
    ] {
        let mut k = scalar_kernel(|b| {
            let (x, y) = (b.i32(x), b.i32(y));
            b.bin(op, x, y)
        });
        run_pass("canonicalize", &mut k, "sm_90a");
        assert_eq!(
            count_ops(&k, "binary"),
            1,
            "{op:?} {x} {y} must stay for the runtime to decide"
        );
    }
}

fn stored_op(k: &Kernel) -> OpKind {
    let store = k.body.ops.iter().find_map(|op| match &op.kind {
        OpKind::Store { value, .. } => Some(*value),
        _ => None,
    });
    k.body
        .ops
        .iter()
        .find(|op| op.results.first() == store.as_ref())
        .map(|op| op.kind.clone())
        .unwrap()
}

#[test]
fn folds_f32_in_f32() {
    let mut k = typed_scalar_kernel(DType::F32, |b| {
        let (x, y) = (b.f32(1.5), b.f32(0.1));
        b.bin(BinOp::Mul, x, y)
    });
    run_pass("canonicalize", &mut k, "sm_90a");
    // 1.5f32 * 0.1f32 rounded once in f32 (the interpreter's arithmetic), not in f64.
    assert_eq!(
        stored_op(&k),
        OpKind::ConstFloat {
            value: (1.5f32 * 0.1f32) as f64
        }
    );
    assert_ne!(
        (1.5f32 * 0.1f32) as f64,
        1.5f64 * (0.1f32 as f64),
        "the test distinguishes the two"
    );
}

#[test]
fn folds_comparisons_feeding_a_select() {
    let mut k = scalar_kernel(|b| {
        let x = b.f32(1.5);
        let y = b.f32(0.1);
        let p = b.bin(BinOp::Mul, x, y);
        let c = b.op1(
            OpKind::Cmp {
                pred: tessera_ir::CmpPred::Gt,
                lhs: p,
                rhs: y,
            },
            Type::Scalar(DType::I1),
        );
        let (one, two) = (b.i32(1), b.i32(2));
        b.op1(
            OpKind::Select {
                cond: c,
                a: one,
                b: two,
            },
            Type::Scalar(DType::I32),
        )
    });
    run_pass("canonicalize", &mut k, "sm_90a");
    assert_eq!(
        count_ops(&k, "cmp") + count_ops(&k, "binary") + count_ops(&k, "const_float"),
        0
    );
    let OpKind::Select { cond, .. } = stored_op(&k) else {
        panic!("select stays")
    };
    let def = k
        .body
        .ops
        .iter()
        .find(|op| op.results.first() == Some(&cond))
        .unwrap();
    assert_eq!(def.kind, OpKind::ConstInt { value: 1 }, "0.15 > 0.1");
}

#[test]
fn removes_dead_loads_and_pure_loops_but_keeps_stores() {
    let mut k = samples::gemm(
        samples::tensor(DType::BF16, &["M", "K"]),
        samples::tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (32, 32, 32),
        0,
    );
    let before_loads = count_ops(&k, "load");
    // Add an unused pure loop computing a sum nobody reads.
    let zero = k.new_value(Type::Scalar(DType::I32), None);
    let extra = vec![tessera_ir::Op {
        kind: OpKind::ConstInt { value: 0 },
        results: vec![zero],
        span: Default::default(),
    }];
    k.body.ops.splice(0..0, extra);
    let iv = k.new_value(Type::Scalar(DType::I32), None);
    let car = k.new_value(Type::Scalar(DType::I32), None);
    let res = k.new_value(Type::Scalar(DType::I32), None);
    let next = k.new_value(Type::Scalar(DType::I32), None);
    let body = tessera_ir::Block {
        args: vec![iv, car],
        ops: vec![
            tessera_ir::Op {
                kind: OpKind::Binary {
                    op: BinOp::Add,
                    lhs: car,
                    rhs: iv,
                },
                results: vec![next],
                span: Default::default(),
            },
            tessera_ir::Op {
                kind: OpKind::Yield { values: vec![next] },
                results: vec![],
                span: Default::default(),
            },
        ],
    };
    let lp = tessera_ir::Op {
        kind: OpKind::For {
            lo: zero,
            hi: zero,
            step: zero,
            inits: vec![zero],
            body,
        },
        results: vec![res],
        span: Default::default(),
    };
    k.body.ops.insert(1, lp);
    tessera_ir::verify_kernel(&k).unwrap();
    let fors = count_ops(&k, "for");
    run_pass("canonicalize", &mut k, "sm_90a");
    assert_eq!(
        count_ops(&k, "for"),
        fors - 1,
        "the dead pure loop is removed, the GEMM loop stays"
    );
    assert_eq!(count_ops(&k, "load"), before_loads);
    assert_eq!(count_ops(&k, "store"), 1);
}
