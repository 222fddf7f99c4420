//! F13: a kernel that dequantizes its operands into bf16 before the dot rounds every product the
//! plain reference keeps exact, so its tolerance must follow bf16, not the f32 output; a dequant
//! that bf16 holds exactly (MX scales) must not widen anything.

use tessera_ir::samples::{gemm, mx_spec, nv_spec, tensor};
use tessera_ir::{Block, DType, Kernel, Op, OpKind, ParamKind, ScaleLayout, ScaleSpec, TileType, Type};
use tessera_numerics::{
    ArgValue, Bindings, InputGen, TensorArg, Tolerance, compare, decode_buf, dequantize, encode_buf,
    poison_buf,
};
use tessera_oracle::{expected, inexact_dequants, tolerance};

/// Insert `dequant<to>` of both dot operands before every `dot` of `b`.
fn dequant_dots(k: &mut Kernel, b: &mut Block, to: DType) {
    let mut ops = Vec::new();
    for mut op in std::mem::take(&mut b.ops) {
        for blk in op.kind.blocks_mut() {
            dequant_dots(k, blk, to);
        }
        if let OpKind::Dot { a, b: bb, acc } = op.kind {
            let mut dq = |x| {
                let Type::Tile(t) = k.ty(x).clone() else {
                    panic!("dot of a scalar")
                };
                let v = k.new_value(Type::Tile(TileType::plain(to, t.shape)), None);
                ops.push(Op {
                    kind: OpKind::Dequant { x, scale: None, to },
                    results: vec![v],
                    span: op.span,
                });
                v
            };
            let (da, db) = (dq(a), dq(bb));
            op.kind = OpKind::Dot { a: da, b: db, acc };
        }
        ops.push(op);
    }
    b.ops = ops;
}

fn with_dequant(a_spec: ScaleSpec, b_spec: ScaleSpec, elem: DType, to: DType) -> Kernel {
    let mut at = tensor(elem, &["M", "K"]);
    at.scale = Some(a_spec);
    let mut bt = tensor(elem, &["N", "K"]);
    bt.scale = Some(b_spec);
    if elem == DType::F4E2M1 {
        at.packed_axis = Some(1);
        bt.packed_axis = Some(1);
    }
    let mut k = gemm(at, bt, DType::F32, (64, 64, 128), 0);
    let mut body = std::mem::take(&mut k.body);
    dequant_dots(&mut k, &mut body, to);
    k.body = body;
    tessera_ir::verify_kernel(&k).expect("the dequantizing GEMM verifies");
    k
}

fn f32_block(axis: usize) -> ScaleSpec {
    let mut block = vec![1, 1];
    block[axis] = 128;
    ScaleSpec {
        scale_dtype: DType::F32,
        block,
        global: false,
        layout: ScaleLayout::Linear,
    }
}

fn bind(k: &Kernel, m: usize, n: usize, kk: usize, seed: u64) -> Bindings {
    let mut g = InputGen::new(seed);
    let args = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Scalar(_) => ArgValue::Scalar(1.0),
            ParamKind::Tensor { ty, is_out } => {
                let s = match p.name.as_str() {
                    "a" => vec![m, kk],
                    "b" => vec![n, kk],
                    _ => vec![m, n],
                };
                if *is_out {
                    ArgValue::Tensor(TensorArg {
                        data: poison_buf(ty.dtype, &s, None),
                        scale: None,
                        global_scale: None,
                    })
                } else {
                    ArgValue::Tensor(g.tensor_arg(ty, &s).expect("input"))
                }
            }
        })
        .collect();
    Bindings {
        args,
        syms: vec![
            ("M".into(), m as i64),
            ("K".into(), kk as i64),
            ("N".into(), n as i64),
        ],
    }
}

/// What a correct kernel computes: each operand dequantized exactly, rounded to bf16 (RNE), then
/// multiplied in f64 (the accumulation error is already covered by the f32 part of the bound).
fn bf16_result(k: &Kernel, b: &Bindings, m: usize, n: usize, kk: usize) -> Vec<f32> {
    let op = |i: usize| {
        let (ParamKind::Tensor { ty, .. }, ArgValue::Tensor(t)) = (&k.params[i].kind, &b.args[i]) else {
            panic!("tensor")
        };
        let v: Vec<f32> = dequantize(t, ty.scale.as_ref())
            .expect("dequantize")
            .iter()
            .map(|x| *x as f32)
            .collect();
        decode_buf(&encode_buf(DType::BF16, &[v.len()], None, &v).expect("bf16")).expect("decode")
    };
    let (a, w) = (op(0), op(1));
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..kk)
                .map(|t| f64::from(a[i * kk + t]) * f64::from(w[j * kk + t]))
                .sum::<f64>() as f32;
        }
    }
    c
}

fn out_index(k: &Kernel) -> usize {
    k.params.iter().position(|p| p.name == "c").expect("c")
}

#[test]
fn bf16_dequant_of_nvfp4_and_f32_block_scales_passes_its_own_tolerance() {
    let (m, n, kk) = (64, 64, 256);
    for (name, k) in [
        (
            "nvfp4",
            with_dequant(nv_spec(1), nv_spec(1), DType::F4E2M1, DType::BF16),
        ),
        (
            "f32 block",
            with_dequant(f32_block(1), f32_block(1), DType::F8E4M3, DType::BF16),
        ),
    ] {
        assert_eq!(inexact_dequants(&k), vec![DType::BF16, DType::BF16], "{name}");
        let out = out_index(&k);
        for seed in 1..=4 {
            let b = bind(&k, m, n, kk, seed);
            let want = expected(&k, &b).expect("expected").remove(0).1;
            let got = bf16_result(&k, &b, m, n, kk);
            let metrics = compare(&got, &want, None).expect("compare");
            let tol = tolerance(&k, &b, out);
            let v = tol.judge(&metrics);
            assert!(v.pass, "{name} seed {seed}: {}", v.reason);
            // Before F13's fix the tolerance was the f32 output's, which this legitimately fails.
            assert!(
                !Tolerance::for_output(DType::F32, kk).judge(&metrics).pass,
                "{name}: the test needs bf16-sized errors"
            );
            // A 2% gain error (a wrong global scale, say) still fails.
            let gained: Vec<f32> = got.iter().map(|x| x * 1.02).collect();
            assert!(
                !tol.judge(&compare(&gained, &want, None).expect("compare")).pass,
                "{name} seed {seed}"
            );
        }
    }
}

#[test]
fn exact_dequants_do_not_widen_the_tolerance() {
    // MX scales are powers of two: e4m3 x e8m0 is exact in bf16.
    let k = with_dequant(mx_spec(1), mx_spec(1), DType::F8E4M3, DType::BF16);
    assert!(inexact_dequants(&k).is_empty());
    let b = bind(&k, 16, 16, 256, 1);
    assert_eq!(
        tolerance(&k, &b, out_index(&k)),
        Tolerance::for_output(DType::F32, 256)
    );
    // Dequantizing into f32 rounds nothing the tolerance does not already cover.
    let k = with_dequant(nv_spec(1), nv_spec(1), DType::F4E2M1, DType::F32);
    assert!(inexact_dequants(&k).is_empty());
    // e8m0 scales can leave f16's range: inexact.
    let k = with_dequant(mx_spec(1), mx_spec(1), DType::F8E4M3, DType::F16);
    assert_eq!(inexact_dequants(&k), vec![DType::F16, DType::F16]);
}

/// Default dims satisfy the kernel's block constraints (gemm_fp8_blockscale: K = 320 is not a
/// multiple of its 128-wide scale blocks), and keep the partial-tile defaults elsewhere.
#[test]
fn default_dims_are_multiples_of_the_scale_blocks() {
    let k = with_dequant(f32_block(1), f32_block(1), DType::F8E4M3, DType::BF16);
    assert_eq!(tessera_oracle::default_dim(&k, "K", 64), 384);
    assert_eq!(tessera_oracle::default_dim(&k, "M", 64), 100);
    assert_eq!(tessera_oracle::default_dim(&k, "N", 64), 704);
    let k = with_dequant(nv_spec(1), nv_spec(1), DType::F4E2M1, DType::BF16);
    assert_eq!(tessera_oracle::default_dim(&k, "K", 64), 320);
    // A dim the table does not know takes the fallback, rounded the same way.
    let mut at = tensor(DType::F8E4M3, &["M", "Q"]);
    at.scale = Some(f32_block(1));
    let mut bt = tensor(DType::F8E4M3, &["N", "Q"]);
    bt.scale = Some(mx_spec(1));
    let k = gemm(at, bt, DType::F32, (64, 64, 128), 0);
    assert_eq!(tessera_oracle::default_dim(&k, "Q", 64), 128);
    assert_eq!(tessera_oracle::default_dim(&k, "Q", 300), 384);
}
