//! One test per verifier rule: a valid sample verifies, a targeted mutation of it fails with an
//! error naming the op and the problem.

use tessera_ir::samples::{gemm, mx_spec, softmax, tensor};
use tessera_ir::*;

fn mxgemm() -> Kernel {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut b = tensor(DType::F8E4M3, &["N", "K"]);
    b.scale = Some(mx_spec(1));
    gemm(a, b, DType::BF16, (32, 32, 64), 1)
}

/// Apply `f` to the first op (depth-first) with mnemonic `mn`.
fn with_op(k: &mut Kernel, mn: &str, f: &mut dyn FnMut(&mut Op)) -> bool {
    fn go(b: &mut Block, mn: &str, f: &mut dyn FnMut(&mut Op)) -> bool {
        for op in &mut b.ops {
            if op.kind.mnemonic() == mn {
                f(op);
                return true;
            }
            for blk in op.kind.blocks_mut() {
                if go(blk, mn, f) {
                    return true;
                }
            }
        }
        false
    }
    go(&mut k.body, mn, f)
}

fn fails(k: &Kernel, op: &str, needle: &str) {
    match verify_kernel(k) {
        Ok(()) => panic!(
            "expected a verifier error mentioning `{needle}`\n{}",
            print_kernel(k)
        ),
        Err(e) => {
            assert_eq!(e.op, op, "{e}");
            assert!(e.to_string().contains(needle), "`{needle}` not in: {e}");
        }
    }
}

#[test]
fn samples_verify() {
    verify_kernel(&mxgemm()).unwrap();
    verify_kernel(&softmax(4, 64)).unwrap();
    verify_kernel(&gemm(
        tensor(DType::BF16, &["M", "K"]),
        tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    ))
    .unwrap();
}

#[test]
fn use_before_definition() {
    let mut k = mxgemm();
    // Make the first op read a value defined later.
    let late = ValueId(k.values.len() as u32 - 1);
    k.body.ops[0].kind = OpKind::Unary {
        op: UnOp::Neg,
        x: late,
    };
    fails(&k, "unary", "before it is defined");
}

#[test]
fn use_outside_defining_block() {
    let mut k = mxgemm();
    // The dot result lives in the loop body; use it after the loop (the cast's operand).
    let mut inner = None;
    with_op(&mut k, "dot", &mut |op| inner = Some(op.results[0]));
    let inner = inner.unwrap();
    with_op(&mut k, "cast", &mut |op| {
        if let OpKind::Cast { x, .. } = &mut op.kind {
            *x = inner;
        }
    });
    fails(&k, "cast", "outside the block");
}

#[test]
fn double_definition() {
    let mut k = mxgemm();
    let r0 = k.body.ops[0].results[0];
    k.body.ops[1].results[0] = r0;
    fails(&k, "program_id", "more than once");
}

#[test]
fn elementwise_needs_identical_types() {
    let mut k = softmax(4, 64);
    with_op(&mut k, "binary", &mut |op| {
        if let OpKind::Binary { lhs, .. } = &mut op.kind {
            *lhs = ValueId(0); // the f32 scalar param, vs an i32 rhs
        }
    });
    fails(&k, "binary", "different types");
}

#[test]
fn dot_shapes() {
    let mut k = mxgemm();
    let mut tb = None;
    with_op(&mut k, "load", &mut |op| tb = Some(op.results[0]));
    with_op(&mut k, "dot", &mut |op| {
        if let OpKind::Dot { b, .. } = &mut op.kind {
            *b = tb.unwrap(); // [32, 64] instead of [64, 32]
        }
    });
    fails(&k, "dot", "do not match [M,K] x [K,N] + [M,N]");
}

#[test]
fn scaled_dot_k_blocks_must_agree() {
    // A scaled in blocks of 32 along K, B ([K, N]) in blocks of 16 along K.
    let mut b = KernelBuilder::new("k");
    let mut at = tensor(DType::F8E4M3, &["M", "K"]);
    at.scale = Some(mx_spec(1));
    let pa = b.tensor("a", at, false);
    let mut bt = tensor(DType::F8E4M3, &["K", "N"]);
    let mut s = mx_spec(0);
    s.block = vec![16, 1];
    bt.scale = Some(s.clone());
    let pb = b.tensor("b", bt, false);
    b.grid(vec![DimExpr::Const(1)]);
    let z = b.i32(0);
    let r = |p: ParamId| Access {
        tensor: p,
        index: vec![
            Index::Range { start: z, size: 32 },
            Index::Range { start: z, size: 32 },
        ],
        bounds: vec![Bound::default(); 2],
    };
    let ta = b.op1(
        OpKind::Load {
            access: r(pa),
            other: 0.0,
        },
        Type::Tile(TileType {
            dtype: DType::F8E4M3,
            shape: vec![32, 32],
            scale: Some(mx_spec(1)),
            layout: TileLayout::Logical,
        }),
    );
    let tb = b.op1(
        OpKind::Load {
            access: r(pb),
            other: 0.0,
        },
        Type::Tile(TileType {
            dtype: DType::F8E4M3,
            shape: vec![32, 32],
            scale: Some(s),
            layout: TileLayout::Logical,
        }),
    );
    let acc = b.full(0.0, DType::F32, vec![32, 32]);
    let ty = b.ty(acc);
    b.op1(OpKind::Dot { a: ta, b: tb, acc }, ty);
    fails(&b.finish(), "dot", "disagree on the K block");
}

#[test]
fn access_rank_must_match() {
    let mut k = softmax(4, 64);
    with_op(&mut k, "load", &mut |op| {
        if let OpKind::Load { access, .. } = &mut op.kind {
            access.index.pop();
            access.bounds.pop();
        }
    });
    fails(&k, "load", "for a rank-2 tensor");
}

#[test]
fn range_size_positive() {
    let mut k = softmax(4, 64);
    with_op(&mut k, "load", &mut |op| {
        if let OpKind::Load { access, .. } = &mut op.kind {
            access.index[1] = Index::Range {
                start: ValueId(4),
                size: 0,
            };
        }
    });
    fails(&k, "load", "range of size 0");
}

#[test]
fn store_only_into_out() {
    let mut k = softmax(4, 64);
    with_op(&mut k, "store", &mut |op| {
        if let OpKind::Store { access, .. } = &mut op.kind {
            access.tensor = ParamId(0);
        }
    });
    fails(&k, "store", "not an `out` parameter");
}

#[test]
fn yield_must_match_parent() {
    let mut k = mxgemm();
    with_op(&mut k, "yield", &mut |op| {
        op.kind = OpKind::Yield { values: vec![] }
    });
    fails(
        &k,
        "yield",
        "yields () but the parent op produces (tile<[32, 32], f32>)",
    );
    let mut k = mxgemm();
    let mut fr = None;
    with_op(&mut k, "full", &mut |op| fr = Some(op.results[0]));
    with_op(&mut k, "yield", &mut |op| {
        op.kind = OpKind::Yield {
            values: vec![fr.unwrap(), fr.unwrap()],
        }
    });
    fails(&k, "yield", "yields (");
}

#[test]
fn for_body_args() {
    let mut k = mxgemm();
    with_op(&mut k, "for", &mut |op| {
        if let OpKind::For { body, .. } = &mut op.kind {
            body.args.pop();
        }
    });
    fails(&k, "for", "body arguments must be [iv: i32");
}

#[test]
fn yield_outside_block_and_not_last() {
    let mut k = softmax(4, 64);
    k.body.ops.push(Op {
        kind: OpKind::Yield { values: vec![] },
        results: vec![],
        span: Span::default(),
    });
    fails(&k, "yield", "outside a `for`/`if` block");
}

#[test]
fn result_types_are_checked() {
    let mut k = softmax(4, 64);
    with_op(&mut k, "reduce", &mut |op| {
        if let OpKind::Reduce { axis, .. } = &mut op.kind {
            *axis = 0;
        }
    });
    fails(&k, "reduce", "reduce of [4, 64] along 0");
    let mut k = mxgemm();
    with_op(&mut k, "load", &mut |op| {
        if let OpKind::Load { access, .. } = &mut op.kind {
            access.index[0] = Index::Range {
                start: ValueId(4),
                size: 16,
            };
        }
    });
    fails(&k, "load", "result type is");
}

#[test]
fn signature_rules() {
    let mut k = softmax(4, 64);
    k.params[2].name = "x".into();
    fails(&k, "kernel", "declared twice");
    let mut k = softmax(4, 64);
    k.grid.clear();
    fails(&k, "kernel", "grid has 0 dims");
    let mut k = softmax(4, 64);
    k.syms.retain(|s| s != "N");
    fails(&k, "kernel", "`N` is not in syms");
}
