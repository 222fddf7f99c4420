//! Interpreter runs of hand-built kernels checked against straightforward f64 computations written
//! here (decoded through `tessera-numerics`), plus the coded errors for bad bindings and scales.

use tessera_interp::{InterpError, ProgramSet, run};
use tessera_ir::samples::{gemm, mx_spec, nv_spec, softmax, tensor};
use tessera_ir::{DType, Kernel, ParamKind, ScaleLayout, ScaleSpec};
use tessera_numerics::{ArgValue, Bindings, InputGen, TensorArg, decode_buf_f64, poison_buf};

/// Random inputs for every tensor param from `shapes` (by param name), poisoned outputs, and
/// `scalars` for scalar params in order.
fn bindings(k: &Kernel, shapes: &[(&str, Vec<usize>)], scalars: &[f64], seed: u64) -> Bindings {
    let mut g = InputGen::new(seed);
    let mut sc = scalars.iter();
    let mut args = Vec::new();
    for p in &k.params {
        match &p.kind {
            // NV global scalars take the generated tensor's global scale (filled in below).
            ParamKind::Scalar(_) if p.name.ends_with("_global") => args.push(ArgValue::Scalar(f64::NAN)),
            ParamKind::Scalar(_) => args.push(ArgValue::Scalar(*sc.next().expect("scalar value"))),
            ParamKind::Tensor { ty, is_out } => {
                let shape = &shapes.iter().find(|(n, _)| *n == p.name).expect("shape").1;
                if *is_out {
                    args.push(ArgValue::Tensor(TensorArg {
                        data: poison_buf(ty.dtype, shape, ty.packed_axis),
                        scale: None,
                        global_scale: None,
                    }));
                } else {
                    args.push(ArgValue::Tensor(g.tensor_arg(ty, shape).expect("inputs")));
                }
            }
        }
    }
    for (key, scalar) in &k.attrs {
        let Some(t) = key.strip_prefix("global_scale.") else {
            continue;
        };
        let ti = k.params.iter().position(|p| p.name == t).unwrap();
        let si = k.params.iter().position(|p| &p.name == scalar).unwrap();
        if let ArgValue::Tensor(ta) = &args[ti] {
            args[si] = ArgValue::Scalar(ta.global_scale.unwrap() as f64);
        }
    }
    Bindings {
        args,
        syms: Vec::new(),
    }
}

/// Dequantized f64 values of a tensor argument (block scales applied, global too).
fn dequant(t: &TensorArg, block: Option<&[u32]>) -> Vec<f64> {
    let v = decode_buf_f64(&t.data).unwrap();
    let (Some(s), Some(block)) = (&t.scale, block) else {
        return v;
    };
    let sv = decode_buf_f64(s).unwrap();
    let (r, c) = (t.data.shape[0], t.data.shape[1]);
    let sc = s.shape[1];
    let g = t.global_scale.unwrap_or(1.0) as f64;
    (0..r * c)
        .map(|i| v[i] * sv[(i / c) / block[0] as usize * sc + (i % c) / block[1] as usize] * g)
        .collect()
}

fn tensor_arg(b: &Bindings, i: usize) -> &TensorArg {
    match &b.args[i] {
        ArgValue::Tensor(t) => t,
        ArgValue::Scalar(_) => panic!("not a tensor"),
    }
}

/// c = a · bᵀ in f64.
fn gemm_f64(a: &[f64], b: &[f64], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|kk| a[i * k + kk] * b[j * k + kk]).sum();
        }
    }
    c
}

fn max_rel(actual: &[f64], expected: &[f64]) -> f64 {
    let scale = expected.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs() / scale)
        .fold(0.0, f64::max)
}

fn check_gemm(k: &Kernel, m: usize, n: usize, kk: usize, scales: (Option<&[u32]>, Option<&[u32]>), tol: f64) {
    let mut b = bindings(
        k,
        &[("a", vec![m, kk]), ("b", vec![n, kk]), ("c", vec![m, n])],
        &[],
        7,
    );
    let a = dequant(tensor_arg(&b, 0), scales.0);
    let w = dequant(tensor_arg(&b, 1), scales.1);
    let want = gemm_f64(&a, &w, m, n, kk);
    run(k, &mut b, ProgramSet::All).unwrap();
    let ci = k.params.iter().position(|p| p.name == "c").unwrap();
    let got = decode_buf_f64(&tensor_arg(&b, ci).data).unwrap();
    assert!(
        got.iter().all(|v| v.is_finite()),
        "non-finite or unwritten output"
    );
    let r = max_rel(&got, &want);
    assert!(r < tol, "max rel err {r} >= {tol}");
}

#[test]
fn bf16_gemm_partial_tiles() {
    let k = gemm(
        tensor(DType::BF16, &["M", "K"]),
        tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (32, 64, 32),
        0,
    );
    check_gemm(&k, 100, 704, 320, (None, None), 1e-5);
}

#[test]
fn mxfp8_gemm_partial_tiles() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut w = tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(mx_spec(1));
    let k = gemm(a, w, DType::BF16, (32, 64, 64), 0);
    check_gemm(&k, 100, 704, 320, (Some(&[1, 32]), Some(&[1, 32])), 2f64.powi(-7));
}

#[test]
fn nvfp4_gemm() {
    let mut a = tensor(DType::F4E2M1, &["M", "K"]);
    a.scale = Some(nv_spec(1));
    a.packed_axis = Some(1);
    let mut w = tensor(DType::F4E2M1, &["N", "K"]);
    w.scale = Some(nv_spec(1));
    w.packed_axis = Some(1);
    let k = gemm(a, w, DType::F32, (16, 32, 32), 0);
    check_gemm(&k, 48, 80, 96, (Some(&[1, 16]), Some(&[1, 16])), 1e-5);
}

#[test]
fn deepseek_blockscale_gemm() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(ScaleSpec {
        scale_dtype: DType::F32,
        block: vec![1, 128],
        global: false,
        layout: ScaleLayout::Linear,
    });
    let mut w = tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(ScaleSpec {
        scale_dtype: DType::F32,
        block: vec![128, 128],
        global: false,
        layout: ScaleLayout::Linear,
    });
    let k = gemm(a, w, DType::F32, (32, 64, 128), 0);
    // N = 704 is 5.5 weight blocks along N: a partial scale block along a non-K dim is fine.
    check_gemm(&k, 100, 704, 256, (Some(&[1, 128]), Some(&[128, 128])), 1e-5);
}

#[test]
fn k_not_multiple_of_scale_block_is_a_coded_error() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut w = tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(mx_spec(1));
    let k = gemm(a, w, DType::BF16, (32, 32, 32), 0);
    let mut b = bindings(
        &k,
        &[("a", vec![64, 80]), ("b", vec![32, 80]), ("c", vec![64, 32])],
        &[],
        1,
    );
    let e = run(&k, &mut b, ProgramSet::All).unwrap_err();
    assert_eq!(e.code(), "E0607", "{e}");
}

#[test]
fn misaligned_scaled_slice_is_a_coded_error() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut w = tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(mx_spec(1));
    // BK = 48: the second K tile starts at 48, inside block 1, and spans blocks 1 and 2.
    let k = gemm(a, w, DType::BF16, (32, 32, 48), 0);
    let mut b = bindings(
        &k,
        &[("a", vec![32, 96]), ("b", vec![32, 96]), ("c", vec![32, 32])],
        &[],
        1,
    );
    let e = run(&k, &mut b, ProgramSet::All).unwrap_err();
    assert_eq!(e.code(), "E0606", "{e}");
    assert!(matches!(e, InterpError::Runtime { .. }));
}

#[test]
fn binding_errors_are_coded() {
    let k = gemm(
        tensor(DType::BF16, &["M", "K"]),
        tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    // K disagrees between a and b.
    let mut b = bindings(
        &k,
        &[("a", vec![16, 32]), ("b", vec![16, 48]), ("c", vec![16, 16])],
        &[],
        1,
    );
    assert_eq!(run(&k, &mut b, ProgramSet::All).unwrap_err().code(), "E0604");
    // Wrong dtype for a.
    let mut b = bindings(
        &k,
        &[("a", vec![16, 32]), ("b", vec![16, 32]), ("c", vec![16, 16])],
        &[],
        1,
    );
    if let ArgValue::Tensor(t) = &mut b.args[0] {
        t.data.dtype = DType::F16;
    }
    assert_eq!(run(&k, &mut b, ProgramSet::All).unwrap_err().code(), "E0603");
    // Missing argument.
    let mut b = bindings(
        &k,
        &[("a", vec![16, 32]), ("b", vec![16, 32]), ("c", vec![16, 16])],
        &[],
        1,
    );
    b.args.pop();
    assert_eq!(run(&k, &mut b, ProgramSet::All).unwrap_err().code(), "E0602");
    // Scaled tensor without its scales; NV without its global.
    let mut a = tensor(DType::F4E2M1, &["M", "K"]);
    a.scale = Some(nv_spec(1));
    a.packed_axis = Some(1);
    let k = gemm(a, tensor(DType::BF16, &["N", "K"]), DType::F32, (16, 16, 16), 0);
    let mut b = bindings(
        &k,
        &[("a", vec![16, 32]), ("b", vec![16, 32]), ("c", vec![16, 16])],
        &[],
        1,
    );
    if let ArgValue::Tensor(t) = &mut b.args[0] {
        t.global_scale = Some(t.global_scale.unwrap() * 2.0);
    }
    assert_eq!(run(&k, &mut b, ProgramSet::All).unwrap_err().code(), "E0605");
    let mut b = bindings(
        &k,
        &[("a", vec![16, 32]), ("b", vec![16, 32]), ("c", vec![16, 16])],
        &[],
        1,
    );
    if let ArgValue::Tensor(t) = &mut b.args[0] {
        t.scale = None;
    }
    assert_eq!(run(&k, &mut b, ProgramSet::All).unwrap_err().code(), "E0605");
}

#[test]
fn softmax_rows() {
    let k = softmax(4, 64);
    let (m, n) = (10, 50);
    let mut b = bindings(&k, &[("x", vec![m, n]), ("y", vec![m, n])], &[0.5], 3);
    let x = decode_buf_f64(&tensor_arg(&b, 0).data).unwrap();
    run(&k, &mut b, ProgramSet::All).unwrap();
    let y = decode_buf_f64(&tensor_arg(&b, 2).data).unwrap();
    for r in 0..m {
        let row: Vec<f64> = x[r * n..(r + 1) * n].iter().map(|v| v * 0.5).collect();
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - mx).exp()).sum();
        for c in 0..n {
            let want = (row[c] - mx).exp() / s;
            assert!(
                (y[r * n + c] - want).abs() < 1e-6,
                "row {r} col {c}: {} vs {want}",
                y[r * n + c]
            );
        }
    }
}

#[test]
fn program_subsets_and_determinism() {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut w = tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(mx_spec(1));
    let k = gemm(a, w, DType::F32, (32, 32, 64), 0);
    let shapes = [("a", vec![96, 128]), ("b", vec![64, 128]), ("c", vec![96, 64])];
    let mut full = bindings(&k, &shapes, &[], 11);
    run(&k, &mut full, ProgramSet::All).unwrap();
    let mut again = bindings(&k, &shapes, &[], 11);
    run(&k, &mut again, ProgramSet::All).unwrap();
    assert_eq!(full, again, "two runs differ");
    let mut part = bindings(&k, &shapes, &[], 11);
    run(&k, &mut part, ProgramSet::Ids(vec![[1, 1, 0]])).unwrap();
    let f = decode_buf_f64(&tensor_arg(&full, 2).data).unwrap();
    let p = decode_buf_f64(&tensor_arg(&part, 2).data).unwrap();
    for i in 0..96 {
        for j in 0..64 {
            let inside = (32..64).contains(&i) && (32..64).contains(&j);
            let (fv, pv) = (f[i * 64 + j], p[i * 64 + j]);
            if inside {
                assert_eq!(fv.to_bits(), pv.to_bits());
            } else {
                assert!(pv.is_nan(), "program (1,1) wrote outside its tile at ({i},{j})");
            }
        }
    }
    let mut bad = bindings(&k, &shapes, &[], 11);
    assert_eq!(
        run(&k, &mut bad, ProgramSet::Ids(vec![[3, 0, 0]]))
            .unwrap_err()
            .code(),
        "E0609"
    );
}

/// E0604 says where a dim bound before the run came from: the shape of an input (a file or an
/// array the caller read it from) or the given dims, never just "a given dim".
#[test]
fn a_dim_conflict_names_its_source() {
    let k = gemm(
        tensor(DType::BF16, &["M", "K"]),
        tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    // The caller bound K = 32 from `a`'s shape (as `tessera run --arg a=a.npy` does); `b` has 48.
    let mut b = bindings(
        &k,
        &[("a", vec![16, 32]), ("b", vec![16, 48]), ("c", vec![16, 16])],
        &[],
        1,
    );
    b.syms = vec![("K".into(), 32)];
    let e = run(&k, &mut b, ProgramSet::All).unwrap_err();
    assert_eq!(e.code(), "E0604");
    let msg = e.to_string();
    assert!(msg.contains("`b` dim 1 is K = 48"), "{msg}");
    assert!(
        msg.contains("K = 32 from the shape of input `a` (dim 1)"),
        "{msg}"
    );
    assert!(!msg.contains("a given dim"), "{msg}");
    // K = 64 given by hand, which no input has.
    let mut b = bindings(
        &k,
        &[("a", vec![16, 48]), ("b", vec![16, 48]), ("c", vec![16, 16])],
        &[],
        1,
    );
    b.syms = vec![("K".into(), 64)];
    let msg = run(&k, &mut b, ProgramSet::All).unwrap_err().to_string();
    assert!(msg.contains("K = 64 from the given dims (`--dim K=64`"), "{msg}");
}
