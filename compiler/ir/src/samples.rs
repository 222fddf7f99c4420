//! Hand-built kernels (through [`crate::KernelBuilder`]) that tests of the IR, the interpreter and
//! the passes share: the same programs the `.tsr` examples express, independent of the front end.

use crate::{
    Access, BinOp, Bound, DType, Dim, DimExpr, Index, KernelBuilder, OpKind, ReduceKind, ScaleLayout,
    ScaleSpec, TensorType, TileType, Type, UnOp, ValueId,
};

/// A tensor type with symbolic dims.
pub fn tensor(dtype: DType, dims: &[&str]) -> TensorType {
    TensorType {
        dtype,
        dims: dims.iter().map(|d| Dim::Sym(d.to_string())).collect(),
        scale: None,
        packed_axis: None,
    }
}

/// An MX contract (e8m0, block 32) along `axis` of a rank-2 tensor.
pub fn mx_spec(axis: usize) -> ScaleSpec {
    let mut block = vec![1, 1];
    block[axis] = 32;
    ScaleSpec {
        scale_dtype: DType::E8M0,
        block,
        global: false,
        layout: ScaleLayout::Linear,
    }
}

/// The NVFP4 contract (ue4m3, block 16, per-tensor global) along `axis`.
pub fn nv_spec(axis: usize) -> ScaleSpec {
    let mut block = vec![1, 1];
    block[axis] = 16;
    ScaleSpec {
        scale_dtype: DType::UE4M3,
        block,
        global: true,
        layout: ScaleLayout::Linear,
    }
}

/// A tile type that is scaled like `spec` (or plain).
fn tile(dtype: DType, shape: Vec<u32>, scale: Option<ScaleSpec>) -> Type {
    Type::Tile(TileType {
        dtype,
        shape,
        scale,
        layout: crate::TileLayout::Logical,
    })
}

fn ceil_div(b: &mut KernelBuilder, sym: &str, t: i64) -> DimExpr {
    b.sym_index(sym);
    DimExpr::CeilDiv(
        Box::new(DimExpr::Sym(sym.to_string())),
        Box::new(DimExpr::Const(t)),
    )
}

fn range2(r0: ValueId, s0: u32, r1: ValueId, s1: u32) -> Vec<Index> {
    vec![
        Index::Range { start: r0, size: s0 },
        Index::Range { start: r1, size: s1 },
    ]
}

/// `c[M, N] = (a[M, K] · b[N, K]^T) * scale` tiled by `(bm, bn, bk)`, the shape of every GEMM
/// example: `a` and `b` may carry scale contracts (blocked along K, axis 1); `scalars` adds that
/// many f32 scalar params multiplied into the result; `c` has dtype `out`.
pub fn gemm(
    a: TensorType,
    b_ty: TensorType,
    out: DType,
    tiles: (u32, u32, u32),
    scalars: usize,
) -> crate::Kernel {
    let (bm, bn, bk) = tiles;
    let mut b = KernelBuilder::new("gemm");
    b.attr("reference", "gemm");
    let a_scale = a.scale.clone();
    let b_scale = b_ty.scale.clone();
    let (a_dt, b_dt) = (a.dtype, b_ty.dtype);
    let pa = b.tensor("a", a, false);
    let pb = b.tensor("b", b_ty, false);
    let mut sc = Vec::new();
    for i in 0..scalars {
        sc.push(b.scalar(&format!("scale{i}"), DType::F32));
    }
    // Globals (NV) are scalar params named by convention `<tensor>_global`.
    // NV globals are f32 scalar params, tied to their tensor by a `global_scale.<tensor>` attr.
    for (t, s) in [("a", &a_scale), ("b", &b_scale)] {
        if s.as_ref().is_some_and(|s| s.global) {
            b.scalar(&format!("{t}_global"), DType::F32);
            b.attr(&format!("global_scale.{t}"), &format!("{t}_global"));
        }
    }
    let pc = b.tensor("c", tensor(out, &["M", "N"]), true);
    b.tile_param("BM", bm as i64, vec![bm as i64]);
    b.tile_param("BN", bn as i64, vec![bn as i64]);
    b.tile_param("BK", bk as i64, vec![bk as i64]);
    let g0 = ceil_div(&mut b, "M", bm as i64);
    let g1 = ceil_div(&mut b, "N", bn as i64);
    b.grid(vec![g0, g1]);
    let p0 = b.op1(OpKind::ProgramId { axis: 0 }, Type::Scalar(DType::I32));
    let p1 = b.op1(OpKind::ProgramId { axis: 1 }, Type::Scalar(DType::I32));
    let cbm = b.i32(bm as i64);
    let cbn = b.i32(bn as i64);
    let m0 = b.bin(BinOp::Mul, p0, cbm);
    b.name(m0, "m0");
    let n0 = b.bin(BinOp::Mul, p1, cbn);
    b.name(n0, "n0");
    let acc0 = b.full(0.0, DType::F32, vec![bm, bn]);
    b.name(acc0, "acc");
    let k_sym = b.sym_index("K");
    let kdim = b.op1(OpKind::SymDim { sym: k_sym }, Type::Scalar(DType::I32));
    let zero = b.i32(0);
    let step = b.i32(bk as i64);
    let res = b.for_loop(zero, kdim, step, vec![acc0], |b, k0, acc| {
        b.name(k0, "k0");
        let ta = b.op1(
            OpKind::Load {
                access: Access {
                    tensor: pa,
                    index: range2(m0, bm, k0, bk),
                    bounds: vec![Bound::default(); 2],
                },
                other: 0.0,
            },
            tile(a_dt, vec![bm, bk], a_scale.clone()),
        );
        let tb = b.op1(
            OpKind::Load {
                access: Access {
                    tensor: pb,
                    index: range2(n0, bn, k0, bk),
                    bounds: vec![Bound::default(); 2],
                },
                other: 0.0,
            },
            tile(b_dt, vec![bn, bk], b_scale.clone()),
        );
        let bt_scale = b_scale.clone().map(|mut s| {
            s.block.reverse();
            s
        });
        let tbt = b.op1(OpKind::Transpose { x: tb }, tile(b_dt, vec![bk, bn], bt_scale));
        let acc_ty = b.ty(acc[0]);
        let next = b.op1(
            OpKind::Dot {
                a: ta,
                b: tbt,
                acc: acc[0],
            },
            acc_ty,
        );
        vec![next]
    });
    let mut r = res[0];
    for s in sc {
        let t = b.ty(r);
        let sb = b.op1(OpKind::Broadcast { x: s }, t);
        r = b.bin(BinOp::Mul, r, sb);
    }
    let rc = if out == DType::F32 {
        r
    } else {
        b.op1(
            OpKind::Cast { x: r, to: out },
            Type::Tile(TileType::plain(out, vec![bm, bn])),
        )
    };
    b.op(
        OpKind::Store {
            access: Access {
                tensor: pc,
                index: range2(m0, bm, n0, bn),
                bounds: vec![Bound::default(); 2],
            },
            value: rc,
        },
        vec![],
    );
    b.finish()
}

/// Row softmax `y = softmax(x * scale)` over the last axis of `x: f32[M, N]`, one `[bm, bn]` tile
/// per program (N ≤ bn; masked columns read -inf so they contribute exp(-inf) = 0).
pub fn softmax(bm: u32, bn: u32) -> crate::Kernel {
    let mut b = KernelBuilder::new("softmax");
    let px = b.tensor("x", tensor(DType::F32, &["M", "N"]), false);
    let scale = b.scalar("scale", DType::F32);
    let py = b.tensor("y", tensor(DType::F32, &["M", "N"]), true);
    b.tile_param("BM", bm as i64, vec![bm as i64]);
    let g = ceil_div(&mut b, "M", bm as i64);
    b.grid(vec![g]);
    b.sym_index("N");
    let p0 = b.op1(OpKind::ProgramId { axis: 0 }, Type::Scalar(DType::I32));
    let cbm = b.i32(bm as i64);
    let m0 = b.bin(BinOp::Mul, p0, cbm);
    let zero = b.i32(0);
    let t2 = Type::Tile(TileType::plain(DType::F32, vec![bm, bn]));
    let col = Type::Tile(TileType::plain(DType::F32, vec![bm, 1]));
    let row = Type::Tile(TileType::plain(DType::F32, vec![bm]));
    let x = b.op1(
        OpKind::Load {
            access: Access {
                tensor: px,
                index: range2(m0, bm, zero, bn),
                bounds: vec![Bound::default(); 2],
            },
            other: f64::NEG_INFINITY,
        },
        t2.clone(),
    );
    let sb = b.op1(OpKind::Broadcast { x: scale }, t2.clone());
    let xs = b.bin(BinOp::Mul, x, sb);
    let mx = b.op1(
        OpKind::Reduce {
            kind: ReduceKind::Max,
            x: xs,
            axis: 1,
        },
        row.clone(),
    );
    let mxe = b.op1(OpKind::ExpandDims { x: mx, axis: 1 }, col.clone());
    let mxb = b.op1(OpKind::Broadcast { x: mxe }, t2.clone());
    let d = b.bin(BinOp::Sub, xs, mxb);
    let e = b.op1(OpKind::Unary { op: UnOp::Exp, x: d }, t2.clone());
    let s = b.op1(
        OpKind::Reduce {
            kind: ReduceKind::Sum,
            x: e,
            axis: 1,
        },
        row,
    );
    let se = b.op1(OpKind::ExpandDims { x: s, axis: 1 }, col);
    let sbb = b.op1(OpKind::Broadcast { x: se }, t2);
    let y = b.bin(BinOp::Div, e, sbb);
    b.op(
        OpKind::Store {
            access: Access {
                tensor: py,
                index: range2(m0, bm, zero, bn),
                bounds: vec![Bound::default(); 2],
            },
            value: y,
        },
        vec![],
    );
    b.finish()
}
