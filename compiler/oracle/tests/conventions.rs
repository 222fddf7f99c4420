//! The oracle's conventions on hand-built kernels: a GEMM with scalar and NV global params, B in
//! either layout, and the coded refusals (no @reference, roles that do not fit, K not a multiple of
//! the scale block).

use tessera_ir::samples::{gemm, mx_spec, nv_spec, tensor};
use tessera_ir::{DType, Kernel, ParamKind};
use tessera_numerics::{ArgValue, Bindings, InputGen, TensorArg, decode_buf_f64, poison_buf};
use tessera_oracle::{E_CONVENTION, E_K_BLOCK, E_NO_REFERENCE, expected};

fn bind(k: &Kernel, shapes: &[(&str, Vec<usize>)], scalars: f64) -> Bindings {
    let mut g = InputGen::new(1);
    let args = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Scalar(_) => ArgValue::Scalar(scalars),
            ParamKind::Tensor { ty, is_out } => {
                let s = &shapes.iter().find(|(n, _)| *n == p.name).expect("shape").1;
                if *is_out {
                    ArgValue::Tensor(TensorArg {
                        data: poison_buf(ty.dtype, s, None),
                        scale: None,
                        global_scale: None,
                    })
                } else {
                    ArgValue::Tensor(g.tensor_arg(ty, s).expect("input"))
                }
            }
        })
        .collect();
    Bindings { args, syms: vec![] }
}

fn vals(b: &Bindings, i: usize) -> Vec<f64> {
    match &b.args[i] {
        ArgValue::Tensor(t) => decode_buf_f64(&t.data).expect("decode"),
        ArgValue::Scalar(v) => vec![*v],
    }
}

#[test]
fn gemm_scalars_multiply_and_globals_do_not() {
    let k = gemm(
        tensor(DType::F32, &["M", "K"]),
        tensor(DType::F32, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        2,
    );
    let b = bind(
        &k,
        &[("a", vec![3, 5]), ("b", vec![2, 5]), ("c", vec![3, 2])],
        1.5,
    );
    let (a, w) = (vals(&b, 0), vals(&b, 1));
    let e = expected(&k, &b).expect("expected");
    assert_eq!(e[0].0, 4);
    let want: f64 = (0..5).map(|kk| a[kk] * w[kk]).sum::<f64>() * 1.5 * 1.5;
    assert!((e[0].1[0] - want).abs() <= 1e-12 * want.abs().max(1.0));

    // NV: the global scale param is not a result multiplier; it is applied through the tensor.
    let mut at = tensor(DType::F4E2M1, &["M", "K"]);
    at.scale = Some(nv_spec(1));
    at.packed_axis = Some(1);
    let k = gemm(at, tensor(DType::F32, &["N", "K"]), DType::F32, (16, 16, 16), 0);
    let b = bind(
        &k,
        &[("a", vec![2, 32]), ("b", vec![2, 32]), ("c", vec![2, 2])],
        4.0,
    );
    let e1 = expected(&k, &b).expect("expected").remove(0).1;
    let mut b2 = b.clone();
    if let ArgValue::Tensor(t) = &mut b2.args[0] {
        t.global_scale = t.global_scale.map(|g| g * 2.0);
    }
    let e2 = expected(&k, &b2).expect("expected").remove(0).1;
    for (x, y) in e1.iter().zip(&e2) {
        assert!(
            (y - 2.0 * x).abs() <= 1e-12 * x.abs().max(1e-30),
            "global scale not applied"
        );
    }
}

#[test]
fn coded_refusals() {
    let mut k = gemm(
        tensor(DType::F32, &["M", "K"]),
        tensor(DType::F32, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    let b = bind(
        &k,
        &[("a", vec![2, 4]), ("b", vec![2, 4]), ("c", vec![2, 2])],
        1.0,
    );
    k.attrs.clear();
    assert_eq!(expected(&k, &b).unwrap_err().code, E_NO_REFERENCE);
    k.attrs.push(("reference".into(), "conv2d".into()));
    assert_eq!(expected(&k, &b).unwrap_err().code, E_NO_REFERENCE);
    // B shares no K with A.
    let k = gemm(
        tensor(DType::F32, &["M", "K"]),
        tensor(DType::F32, &["N", "Q"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    let b = bind(
        &k,
        &[("a", vec![2, 4]), ("b", vec![2, 4]), ("c", vec![2, 2])],
        1.0,
    );
    assert_eq!(expected(&k, &b).unwrap_err().code, E_CONVENTION);
    // MX along K with K = 48.
    let mut at = tensor(DType::F8E4M3, &["M", "K"]);
    at.scale = Some(mx_spec(1));
    let k = gemm(at, tensor(DType::F32, &["N", "K"]), DType::F32, (16, 16, 16), 0);
    let b = bind(
        &k,
        &[("a", vec![2, 48]), ("b", vec![2, 48]), ("c", vec![2, 2])],
        1.0,
    );
    assert_eq!(expected(&k, &b).unwrap_err().code, E_K_BLOCK);
}

#[test]
fn atomic_outputs_are_recognised() {
    let k = gemm(
        tensor(DType::F32, &["M", "K"]),
        tensor(DType::F32, &["N", "K"]),
        DType::F32,
        (16, 16, 16),
        0,
    );
    assert!(!tessera_oracle::accumulates_into(&k, 2));
}
