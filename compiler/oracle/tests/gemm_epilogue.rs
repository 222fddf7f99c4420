//! GEMM epilogues named with options: `C = act((A·B) × scalars × row_scale[m] × col_scale[n] +
//! bias) + residual`. A hand-computed 2x2 case; the corpus' epilogue kernels (bias + GELU, row and
//! column scales + bias, residual, bias + SiLU) agree with the interpreter once declared and not
//! when the declaration is wrong; tensors an option names are not operands; shapes are checked.

mod common;

use common::{bind, compile, conformance, interp, judge, out_index, run_and_judge, set};
use tessera_oracle::{Comparison, E_SHAPE, comparison, expected};

const ALL: &str =
    "@reference(gemm, row_scale = sr, col_scale = sc, bias = bias, activation = relu, residual = res)
kernel gemm_epi(a: f32[M, K], b: f32[N, K], sr: f32[M], sc: f32[N], bias: f32[M, N], res: f32[M, N],
                alpha: f32, c: out f32[M, N])
    tiles(BM = 16, BN = 16, BK = 16)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
    }
    let v = acc * alpha * load(sr[m0 .. +BM])[:, None] * load(sc[n0 .. +BN])[None, :]
        + load(bias[m0 .. +BM, n0 .. +BN]);
    store(c[m0 .. +BM, n0 .. +BN], max(v, 0.0) + load(res[m0 .. +BM, n0 .. +BN]));
}
";

#[test]
fn every_step_in_order_by_hand() {
    let k = compile(ALL);
    let mut b = bind(&k, &[("M", 2), ("N", 2), ("K", 2)], &[("alpha", 2.0)], 1);
    set(&k, &mut b, "a", &[1.0, 2.0, 3.0, -1.0]);
    set(&k, &mut b, "b", &[1.0, 0.0, 2.0, 1.0]);
    set(&k, &mut b, "sr", &[1.0, -1.0]);
    set(&k, &mut b, "sc", &[0.5, 1.0]);
    set(&k, &mut b, "bias", &[-2.0, 1.0, 4.0, 20.0]);
    set(&k, &mut b, "res", &[0.5, 0.25, 1.0, -1.0]);
    // a·bᵀ = [[1, 4], [3, 5]]; × alpha 2 = [[2, 8], [6, 10]]; × sr[m] = [[2, 8], [-6, -10]];
    // × sc[n] = [[1, 8], [-3, -10]]; + bias = [[-1, 9], [1, 10]]; relu = [[0, 9], [1, 10]];
    // + res = [[0.5, 9.25], [2, 9]].
    let hand = [0.5, 9.25, 2.0, 9.0];
    let want = expected(&k, &b).expect("expected").remove(0);
    assert_eq!(want.0, out_index(&k));
    assert_eq!(want.1, hand);
    // The kernel computes the same (small integers and halves: exact in f32).
    interp(&k, &mut b);
    let (v, m) = judge(&k, &b, want.0, &want.1);
    assert!(v.pass && m.max_abs == 0.0, "{}", v.reason);
    let Comparison::Reference { summary } = comparison(&k, &b).expect("comparison") else {
        panic!("reference expected")
    };
    assert_eq!(
        summary,
        "gemm: C `c` = A `a` @ B `b` ([N, K]) * `alpha` * row_scale `sr` * col_scale `sc` + bias `bias`, then relu, + residual `res`"
    );
}

#[test]
fn random_inputs_agree_at_partial_tiles() {
    let k = compile(ALL);
    let mut b = bind(&k, &[("M", 37), ("N", 50), ("K", 48)], &[("alpha", 0.75)], 4);
    let (v, _) = run_and_judge(&k, &mut b);
    assert!(v.pass, "{}", v.reason);
}

/// The corpus' epilogue kernels, declared: each agrees with the interpreter; declared wrong (a
/// step missing, or another activation), each fails.
#[test]
fn corpus_epilogues_agree_when_declared_and_not_otherwise() {
    let dims = &[("M", 70), ("N", 96), ("K", 128)];
    let cases = [
        (
            "gemm_bias_gelu_bf16.tsr",
            "@reference(gemm, bias = bias, activation = gelu_tanh)",
            "@reference(gemm, bias = bias)",
        ),
        (
            "gemm_fp8_rowcol_scale.tsr",
            "@reference(gemm, row_scale = scale_a, col_scale = scale_b, bias = bias)",
            "@reference(gemm, row_scale = scale_b, col_scale = scale_a, bias = bias)",
        ),
        (
            "gemm_residual_f16.tsr",
            "@reference(gemm, residual = r)",
            "@reference(gemm, residual = r, activation = relu)",
        ),
        (
            "gemm_mxfp8_silu.tsr",
            "@reference(gemm, bias = bias, activation = silu)",
            "@reference(gemm, bias = bias, activation = sigmoid)",
        ),
        (
            "gemm_w8a8_int8.tsr",
            "@reference(gemm, row_scale = scale_a, col_scale = scale_w)",
            "@reference(gemm, row_scale = scale_w, col_scale = scale_a)",
        ),
    ];
    for (file, right, wrong) in cases {
        let k = conformance(file, right);
        let mut b = bind(&k, dims, &[], 21);
        let (v, _) = run_and_judge(&k, &mut b);
        assert!(v.pass, "{file} {right}: {}", v.reason);
        let k = conformance(file, wrong);
        let mut b = bind(&k, dims, &[], 21);
        match expected(&k, &b) {
            // The wrong declaration computes something else...
            Ok(want) => {
                interp(&k, &mut b);
                let (v, _) = judge(&k, &b, want[0].0, &want[0].1);
                assert!(!v.pass, "{file} {wrong} must not pass");
            }
            // ...or does not even fit the shapes (scale_a [M] as a column scale [N]).
            Err(e) => assert_eq!(e.code, E_SHAPE, "{file} {wrong}: {e}"),
        }
    }
}

#[test]
fn option_tensors_are_not_operands() {
    // Without options the six f32 inputs cannot be mapped to A and B: no plain reference.
    let plain = ALL.replacen(
        "@reference(gemm, row_scale = sr, col_scale = sc, bias = bias, activation = relu, residual = res)",
        "@reference(gemm)",
        1,
    );
    let k = compile(&plain);
    let b = bind(&k, &[("M", 4), ("N", 4), ("K", 4)], &[], 1);
    match comparison(&k, &b).expect("comparison") {
        Comparison::InterpreterOnly { reason } => {
            assert_eq!(reason.code, tessera_oracle::E_CONVENTION, "{reason}");
            assert!(reason.message.contains("bias = "), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!tessera_oracle::has_reference(&k));
    // Such a kernel is judged like one without a family (interpreter vs backend bounds).
    let mut none = k.clone();
    none.attrs.clear();
    assert_eq!(
        tessera_oracle::tolerance(&k, &b, out_index(&k)),
        tessera_oracle::tolerance(&none, &b, out_index(&none))
    );
}

#[test]
fn epilogue_shapes_are_checked() {
    let k = compile(ALL);
    // A [N] bias is accepted as well as [M, N]...
    let src = ALL.replace("bias: f32[M, N]", "bias: f32[N]").replace(
        "load(bias[m0 .. +BM, n0 .. +BN])",
        "load(bias[n0 .. +BN])[None, :]",
    );
    let kn = compile(&src);
    let mut b = bind(&kn, &[("M", 20), ("N", 24), ("K", 16)], &[], 2);
    let (v, _) = run_and_judge(&kn, &mut b);
    assert!(v.pass, "{}", v.reason);
    // ...but a bias bound with another shape is E0806, as are scales of the wrong length.
    let mut b = bind(&kn, &[("M", 4), ("N", 6), ("K", 8)], &[], 2);
    let bad = bind(&kn, &[("M", 4), ("N", 5), ("K", 8)], &[], 2);
    for name in ["bias", "sc"] {
        let j = kn.params.iter().position(|p| p.name == name).unwrap();
        let mut b = b.clone();
        b.args[j] = bad.args[j].clone(); // length 5 for N = 6
        let e = expected(&kn, &b).unwrap_err();
        assert_eq!(e.code, E_SHAPE, "{e}");
        assert!(e.message.contains(&format!("= {name}`")), "{e}");
    }
    let i = k.params.iter().position(|p| p.name == "res").unwrap();
    let wide = bind(&k, &[("M", 4), ("N", 7), ("K", 8)], &[], 2);
    b = bind(&k, &[("M", 4), ("N", 6), ("K", 8)], &[], 2);
    b.args[i] = wide.args[i].clone();
    let e = expected(&k, &b).unwrap_err();
    assert_eq!(e.code, E_SHAPE, "{e}");
    assert!(e.message.contains("residual = res"), "{e}");
}
