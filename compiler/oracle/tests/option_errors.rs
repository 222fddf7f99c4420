//! The oracle never trusts the IR's options (IR also comes from its text form or is built by
//! hand): an option its family does not know, a value of the wrong kind or a key given twice is
//! E0805 naming the option; what `comparison` reports for kernels without a usable reference.

mod common;

use common::{bind, compile};
use tessera_ir::Kernel;
use tessera_oracle::{
    Comparison, E_BINDING, E_CONVENTION, E_NO_REFERENCE, E_OPTION, E_SHAPE, INTERPRETER_ONLY, comparison,
    expected,
};

const GEMM: &str = "@reference(gemm)
kernel g(a: f32[M, K], b: f32[N, K], bias: f32[N], alpha: f32, c: out f32[M, N]) tiles(B = 16) grid(1) {
}
";

const ATTN: &str = "@reference(attention)
kernel at(q: f32[H, S, D], k: f32[H, S, D], v: f32[H, S, D], flag: i32, o: out f32[H, S, D]) tiles(B = 16) grid(1) {
}
";

fn with(src: &str, opts: &[(&str, &str)]) -> Kernel {
    let mut k = compile(src);
    for (key, v) in opts {
        k.attrs.push((format!("reference.{key}"), v.to_string()));
    }
    k
}

#[test]
fn options_the_family_does_not_know_are_refused_by_name() {
    let gemm_dims = &[("M", 4), ("N", 4), ("K", 4)];
    let attn_dims = &[("H", 2), ("S", 4), ("D", 4)];
    /// (kernel source, dims, the options put into the IR, the key the error must name)
    type Case<'a> = (&'a str, &'a [(&'a str, i64)], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (GEMM, gemm_dims, &[("causal", "true")], "causal"),
        (GEMM, gemm_dims, &[("bias", "alpha")], "bias"),
        (GEMM, gemm_dims, &[("bias", "c")], "bias"),
        (GEMM, gemm_dims, &[("bias", "nothing")], "bias"),
        (GEMM, gemm_dims, &[("activation", "tanh")], "activation"),
        (GEMM, gemm_dims, &[("bias", "bias"), ("bias", "bias")], "bias"),
        (ATTN, attn_dims, &[("causal", "2")], "causal"),
        (ATTN, attn_dims, &[("causal", "q")], "causal"),
        (ATTN, attn_dims, &[("sm_scale", "true")], "sm_scale"),
        (ATTN, attn_dims, &[("dropout", "flag")], "dropout"),
    ];
    for (src, dims, opts, key) in cases {
        let k = with(src, opts);
        let b = bind(&k, dims, &[], 1);
        let e = expected(&k, &b).unwrap_err();
        assert_eq!(e.code, E_OPTION, "{opts:?}: {e}");
        assert!(e.message.contains(&format!("`{key}`")), "{opts:?}: {e}");
        // validate's description refuses it too: a declared reference is never half-used.
        assert_eq!(comparison(&k, &b).unwrap_err().code, E_OPTION);
        assert!(!tessera_oracle::has_reference(&k));
    }
}

#[test]
fn moe_takes_no_options() {
    let src = "@reference(moe_gated)
kernel m(x: f32[T, K], wg: f32[E, I, K], wu: f32[E, I, K], offs: i32[E1], ids: i32[P], w: f32[P],
         y: out f32[T, I]) tiles(B = 16) grid(1) {
}
";
    let k = with(src, &[("activation", "silu")]);
    let mut b = bind(
        &k,
        &[("T", 4), ("K", 4), ("E", 2), ("I", 4), ("E1", 3), ("P", 4)],
        &[],
        1,
    );
    tessera_oracle::prepare_inputs(&k, &mut b, 1).expect("routing");
    let e = expected(&k, &b).unwrap_err();
    assert_eq!(e.code, E_OPTION, "{e}");
    assert!(e.message.contains("none"), "{e}");
}

#[test]
fn what_validate_compares_with() {
    // No @reference: the interpreter only, with the coded reason.
    let mut k = compile(GEMM);
    let b = bind(&k, &[("M", 4), ("N", 4), ("K", 4)], &[], 1);
    k.attrs.clear();
    match comparison(&k, &b).expect("comparison") {
        Comparison::InterpreterOnly { reason } => assert_eq!(reason.code, E_NO_REFERENCE),
        other => panic!("{other:?}"),
    }
    assert!(INTERPRETER_ONLY.contains("interpreter only"));
    // An unknown family is an error, not a fallback: the kernel claims a reference that does not
    // exist (a typo would otherwise pass as "interpreter only").
    k.attrs.push(("reference".into(), "gemmm".into()));
    let e = comparison(&k, &b).unwrap_err();
    assert_eq!(e.code, E_NO_REFERENCE);
    assert!(e.message.contains("gemm, attention, moe_gated"), "{e}");
    // Parameters that do not fit the family: the interpreter only (E0802).
    let k = compile(GEMM);
    match comparison(&k, &b).expect("comparison") {
        Comparison::InterpreterOnly { reason } => assert_eq!(reason.code, E_CONVENTION),
        other => panic!("{other:?}"),
    }
    // The option that names the third tensor fixes it.
    let k = with(GEMM, &[("bias", "bias")]);
    assert!(matches!(
        comparison(&k, &b).expect("comparison"),
        Comparison::Reference { .. }
    ));
}

#[test]
fn attention_shapes_and_bindings_are_checked() {
    // Different head dims of Q and K: E0806, not an out-of-range index.
    let src = ATTN.replace("k: f32[H, S, D]", "k: f32[H, S, D2]");
    let k = compile(&src);
    let b = bind(&k, &[("H", 2), ("S", 4), ("D", 4), ("D2", 8)], &[], 1);
    let e = expected(&k, &b).unwrap_err();
    assert_eq!(e.code, E_SHAPE, "{e}");
    // Mixed ranks are a convention mismatch (types), so no plain reference applies.
    let src = ATTN
        .replace("q: f32[H, S, D]", "q: f32[S, D]")
        .replace("o: out f32[H, S, D]", "o: out f32[S, D]");
    let k = compile(&src);
    let b = bind(&k, &[("H", 2), ("S", 4), ("D", 4)], &[], 1);
    assert_eq!(expected(&k, &b).unwrap_err().code, E_CONVENTION);
    assert!(matches!(
        comparison(&k, &b).expect("comparison"),
        Comparison::InterpreterOnly { .. }
    ));
    // `causal = flag` with the flag unbound.
    let k = with(ATTN, &[("causal", "flag")]);
    let mut b = bind(&k, &[("H", 2), ("S", 4), ("D", 4)], &[], 1);
    b.args[3] = b.args[0].clone();
    assert_eq!(expected(&k, &b).unwrap_err().code, E_BINDING);
}
