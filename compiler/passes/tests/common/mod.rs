//! Kernels the pass tests share, built by hand through `tessera_ir::KernelBuilder` (independent of
//! the front end): a GEMM whose weights go through `dequant` in the three forms fuse-dequant
//! handles, and helpers to run a pass and verify the result.

#![allow(dead_code)]

use tessera_ir::{
    Access, BinOp, Bound, DType, Dim, DimExpr, Index, Kernel, KernelBuilder, OpKind, ScaleLayout, ScaleSpec,
    TensorType, TileLayout, TileType, Type, ValueId, samples,
};
use tessera_passes::{Changed, PassInfo, TargetCaps, lookup};

/// How the weights reach the dot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Form {
    /// `dot(a, transpose(dequant(load(w))))` with `w: mx<f4e2m1>[N, K]`.
    ScaledTile,
    /// `dot(a, transpose(dequant(load(q), load(s))))` with codes `q: f4e2m1[N, K]` and scales
    /// `s: e8m0[N, K / 32]`.
    ExplicitScale,
    /// Like `ScaledTile`, but the dequantized weights are also stored to `wd: out bf16[N, K]`.
    ScaledTileStored,
}

pub fn mx(axis: usize) -> ScaleSpec {
    samples::mx_spec(axis)
}

fn tile(dtype: DType, shape: Vec<u32>, scale: Option<ScaleSpec>) -> Type {
    Type::Tile(TileType {
        dtype,
        shape,
        scale,
        layout: TileLayout::Logical,
    })
}

fn range2(r0: ValueId, s0: u32, r1: ValueId, s1: u32) -> Vec<Index> {
    vec![
        Index::Range { start: r0, size: s0 },
        Index::Range { start: r1, size: s1 },
    ]
}

fn cdiv(sym: &str, t: i64) -> DimExpr {
    DimExpr::CeilDiv(Box::new(DimExpr::Sym(sym.into())), Box::new(DimExpr::Const(t)))
}

/// `c[M, N] = a[M, K] (bf16) · dequant(w)[N, K]^T` tiled 32 x 32 x 64.
pub fn dequant_gemm(form: Form) -> Kernel {
    let (bm, bn, bk) = (32u32, 32u32, 64u32);
    let mut b = KernelBuilder::new("wgemm");
    let pa = b.tensor("a", samples::tensor(DType::BF16, &["M", "K"]), false);
    let fp4 = |scale| TensorType {
        dtype: DType::F4E2M1,
        dims: vec![Dim::Sym("N".into()), Dim::Sym("K".into())],
        scale,
        packed_axis: Some(1),
    };
    let (pw, ps) = match form {
        Form::ExplicitScale => {
            let q = b.tensor("q", fp4(None), false);
            let s_ty = TensorType {
                dtype: DType::E8M0,
                dims: vec![Dim::Sym("N".into()), Dim::CeilDiv("K".into(), 32)],
                scale: None,
                packed_axis: None,
            };
            (q, Some(b.tensor("s", s_ty, false)))
        }
        _ => (b.tensor("w", fp4(Some(mx(1))), false), None),
    };
    let pd = (form == Form::ScaledTileStored)
        .then(|| b.tensor("wd", samples::tensor(DType::BF16, &["N", "K"]), true));
    let pc = b.tensor("c", samples::tensor(DType::F32, &["M", "N"]), true);
    b.grid(vec![cdiv("M", bm as i64), cdiv("N", bn as i64)]);
    let p0 = b.op1(OpKind::ProgramId { axis: 0 }, Type::Scalar(DType::I32));
    let p1 = b.op1(OpKind::ProgramId { axis: 1 }, Type::Scalar(DType::I32));
    let cbm = b.i32(bm as i64);
    let cbn = b.i32(bn as i64);
    let m0 = b.bin(BinOp::Mul, p0, cbm);
    let n0 = b.bin(BinOp::Mul, p1, cbn);
    let acc0 = b.full(0.0, DType::F32, vec![bm, bn]);
    let ksym = b.sym_index("K");
    let kdim = b.op1(OpKind::SymDim { sym: ksym }, Type::Scalar(DType::I32));
    let zero = b.i32(0);
    let step = b.i32(bk as i64);
    let bounds = || vec![Bound::default(); 2];
    let res = b.for_loop(zero, kdim, step, vec![acc0], |b, k0, acc| {
        let ta = b.op1(
            OpKind::Load {
                access: Access {
                    tensor: pa,
                    index: range2(m0, bm, k0, bk),
                    bounds: bounds(),
                },
                other: 0.0,
            },
            tile(DType::BF16, vec![bm, bk], None),
        );
        let wload = |b: &mut KernelBuilder, scale| {
            b.op1(
                OpKind::Load {
                    access: Access {
                        tensor: pw,
                        index: range2(n0, bn, k0, bk),
                        bounds: bounds(),
                    },
                    other: 0.0,
                },
                tile(DType::F4E2M1, vec![bn, bk], scale),
            )
        };
        let deq = match ps {
            Some(ps) => {
                let q = wload(b, None);
                let c32 = b.i32(32);
                let ks0 = b.bin(BinOp::Div, k0, c32);
                let s = b.op1(
                    OpKind::Load {
                        access: Access {
                            tensor: ps,
                            index: range2(n0, bn, ks0, bk / 32),
                            bounds: bounds(),
                        },
                        other: 0.0,
                    },
                    tile(DType::E8M0, vec![bn, bk / 32], None),
                );
                b.op1(
                    OpKind::Dequant {
                        x: q,
                        scale: Some(s),
                        to: DType::BF16,
                    },
                    tile(DType::BF16, vec![bn, bk], None),
                )
            }
            None => {
                let w = wload(b, Some(mx(1)));
                b.op1(
                    OpKind::Dequant {
                        x: w,
                        scale: None,
                        to: DType::BF16,
                    },
                    tile(DType::BF16, vec![bn, bk], None),
                )
            }
        };
        if let Some(pd) = pd {
            b.op(
                OpKind::Store {
                    access: Access {
                        tensor: pd,
                        index: range2(n0, bn, k0, bk),
                        bounds: bounds(),
                    },
                    value: deq,
                },
                vec![],
            );
        }
        let wt = b.op1(
            OpKind::Transpose { x: deq },
            tile(DType::BF16, vec![bk, bn], None),
        );
        let acc_ty = b.ty(acc[0]);
        b.span = tessera_ir::Span::new(500, 520);
        let d = b.op1(
            OpKind::Dot {
                a: ta,
                b: wt,
                acc: acc[0],
            },
            acc_ty,
        );
        b.span = tessera_ir::Span::default();
        vec![d]
    });
    b.op(
        OpKind::Store {
            access: Access {
                tensor: pc,
                index: range2(m0, bm, n0, bn),
                bounds: bounds(),
            },
            value: res[0],
        },
        vec![],
    );
    b.finish()
}

/// An MXFP8 x MXFP8 GEMM (`samples::gemm`), tiles 32 x 32 x 64, f32 output.
pub fn mxfp8_gemm() -> Kernel {
    let mut a = samples::tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx(1));
    let mut w = samples::tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(mx(1));
    samples::gemm(a, w, DType::F32, (32, 32, 64), 0)
}

/// Run the registered pass `name` once on `k` for `target`, verify the result, return `Changed`.
pub fn run_pass(name: &str, k: &mut Kernel, target: &str) -> Changed {
    let info: &PassInfo = lookup(name).expect("registered pass");
    let caps = TargetCaps::lookup(target).expect("known target");
    let changed = (info.make)().run(k, caps).expect("pass succeeds");
    if let Err(e) = tessera_ir::verify_kernel(k) {
        panic!(
            "IR does not verify after {name}: {e}\n{}",
            tessera_ir::print_kernel(k)
        );
    }
    changed
}

/// Every scale layout appearing in the kernel's types (params, values) and quantize ops.
pub fn layouts(k: &Kernel) -> Vec<ScaleLayout> {
    let mut out = Vec::new();
    for p in &k.params {
        if let tessera_ir::ParamKind::Tensor { ty, .. } = &p.kind
            && let Some(s) = &ty.scale
        {
            out.push(s.layout);
        }
    }
    for v in &k.values {
        if let Type::Tile(t) = &v.ty
            && let Some(s) = &t.scale
        {
            out.push(s.layout);
        }
    }
    out
}

/// Count ops with a given mnemonic (nested blocks included).
pub fn count_ops(k: &Kernel, mnemonic: &str) -> usize {
    fn go(b: &tessera_ir::Block, m: &str) -> usize {
        b.ops
            .iter()
            .map(|op| {
                (op.kind.mnemonic() == m) as usize + op.kind.blocks().iter().map(|b| go(b, m)).sum::<usize>()
            })
            .sum()
    }
    go(&k.body, mnemonic)
}

/// Check `src` and run the sm_90a pipeline (or `passes` in its place) with verify-each and
/// diff-interp on.
pub fn sm90a_distributed(src: &str, passes: Option<&str>) -> tessera_ir::Module {
    let (m, diags) = tessera_check::check_source("t.tsr", src.as_bytes());
    let mut m = m.unwrap_or_else(|| panic!("does not check: {diags:?}"));
    let opts = tessera_passes::PipelineOptions {
        passes: passes.map(str::to_string),
        verify_each: true,
        diff_interp: Some(tessera_passes::DiffOptions::default()),
        ..Default::default()
    };
    tessera_passes::run_pipeline(
        &mut m,
        TargetCaps::lookup("sm_90a").unwrap(),
        &opts,
        &mut Vec::new(),
    )
    .unwrap_or_else(|e| panic!("pipeline: {e}"));
    m
}

/// A one-tile row softmax (no dot): the layout-assignment tests' reduction case.
pub const SOFTMAX_ROWS: &str = r#"
kernel softmax(x: f32[M, N], y: out f32[M, N]) tiles(BM = 16 in [16], BN = 256 in [256]) grid(cdiv(M, BM)) {
    let m0 = program_id(0) * BM;
    let t = load(x[m0 .. +BM, 0 .. +BN], other = -inf);
    let mx = reduce_max(t, axis = 1);
    let e = exp(t - mx[:, None]);
    let s = reduce_sum(e, axis = 1);
    store(y[m0 .. +BM, 0 .. +BN], e / s[:, None]);
}
"#;
