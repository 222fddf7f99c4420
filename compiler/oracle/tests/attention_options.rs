//! Attention's reference follows the kernel, however the mask is written: a causal mask written in
//! the body with `where` and declared `causal = true` matches the interpreter while the non-causal
//! reference does not (and the failure hint says why); a runtime flag named by `causal = PARAM`
//! decides per run; 4-D `[B, H, S, D]` tensors and grouped-query K/V heads map the way the kernels
//! index them, and shapes that do not group are E0806.

mod common;

use common::{bind, compile, conformance, interp, judge, out_index, run_and_judge};
use tessera_oracle::{Comparison, comparison, expected, failure_hint};

/// f32 flash attention over [BH, S, HD] with the causal mask written as a `where` in the body
/// (no `causal` parameter) and the scale as a literal: 1/sqrt(32), the reference's default.
const WHERE_CAUSAL: &str = "
kernel attn_where(q: f32[BH, S, HD], k: f32[BH, S, HD], v: f32[BH, S, HD], o: out f32[BH, S, HD])
    tiles(BM = 16, BN = 16, HD = 32)
    grid(cdiv(S, BM), BH)
{
    let bh = program_id(1);
    let m0 = program_id(0) * BM;
    let tq = load(q[bh, m0 .. +BM, :]);
    let rows = m0 + arange(BM);
    var m_i = full<f32>[BM](-inf);
    var l_i = zeros<f32>[BM];
    var acc = zeros<f32>[BM, HD];
    for n0 in 0..S step BN {
        let cols = n0 + arange(BN);
        let raw = dot(tq, transpose(load(k[bh, n0 .. +BN, :]))) * 0.17677669529663687;
        let s = where(cols[None, :] > rows[:, None] || cols[None, :] >= S, -inf, raw);
        let m_new = max(m_i, reduce_max(s, axis = 1));
        let p = exp(s - m_new[:, None]);
        let alpha = exp(m_i - m_new);
        l_i = l_i * alpha + reduce_sum(p, axis = 1);
        acc = acc * alpha[:, None] + dot(p, load(v[bh, n0 .. +BN, :]));
        m_i = m_new;
    }
    store(o[bh, m0 .. +BM, :], acc / l_i[:, None]);
}
";

const DIMS: &[(&str, i64)] = &[("BH", 2), ("S", 40)];

#[test]
fn a_mask_in_the_body_declared_causal_matches_and_the_non_causal_reference_does_not() {
    let k = compile(&format!("@reference(attention, causal = true){WHERE_CAUSAL}"));
    let mut b = bind(&k, DIMS, &[], 7);
    let (v, m) = run_and_judge(&k, &mut b);
    assert!(v.pass, "declared causal: {}", v.reason);
    assert!(
        m.rel_l2 < 1e-5,
        "f32 attention should agree closely: {}",
        m.rel_l2
    );
    match comparison(&k, &b).expect("comparison") {
        Comparison::Reference { summary } => {
            assert!(summary.contains("causal (declared `causal = true`)"), "{summary}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        failure_hint(&k, &b, out_index(&k)),
        None,
        "a declared mask needs no hint"
    );

    // The same kernel without the declaration: the reference is non-causal, and says so.
    let k0 = compile(&format!("@reference(attention){WHERE_CAUSAL}"));
    let mut b0 = bind(&k0, DIMS, &[], 7);
    let want = expected(&k0, &b0).expect("expected").remove(0).1;
    interp(&k0, &mut b0);
    let (v0, m0) = judge(&k0, &b0, out_index(&k0), &want);
    assert!(
        !v0.pass,
        "the non-causal reference must not match a causal kernel"
    );
    assert!(m0.rel_l2 > 0.05, "{}", m0.rel_l2);
    match comparison(&k0, &b0).expect("comparison") {
        Comparison::Reference { summary } => assert!(
            summary.contains("non-causal (no `causal` option and no `causal` parameter)"),
            "{summary}"
        ),
        other => panic!("{other:?}"),
    }
    let hint = failure_hint(&k0, &b0, out_index(&k0)).expect("a hint for an undeclared mask");
    assert!(hint.contains("causal = true"), "{hint}");
    assert!(hint.contains("does match the causal reference"), "{hint}");

    // Declared non-causal on purpose: no hint, and the summary says it was declared.
    let kf = compile(&format!("@reference(attention, causal = false){WHERE_CAUSAL}"));
    let mut bf = bind(&kf, DIMS, &[], 7);
    interp(&kf, &mut bf);
    assert_eq!(failure_hint(&kf, &bf, out_index(&kf)), None);
    match comparison(&kf, &bf).expect("comparison") {
        Comparison::Reference { summary } => {
            assert!(
                summary.contains("non-causal (declared `causal = false`)"),
                "{summary}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A runtime flag under any name decides per run when `causal = PARAM` names it.
#[test]
fn a_runtime_flag_named_by_the_option_decides() {
    let src = WHERE_CAUSAL
        .replace("o: out f32[BH, S, HD])", "is_causal: i32, o: out f32[BH, S, HD])")
        .replace(
            "cols[None, :] > rows[:, None] ||",
            "(is_causal != 0 && cols[None, :] > rows[:, None]) ||",
        );
    let k = compile(&format!("@reference(attention, causal = is_causal){src}"));
    // Unset, the flag defaults to causal like the `causal` convention.
    let syms = [("BH".to_string(), 2), ("S".to_string(), 40)];
    assert_eq!(tessera_oracle::default_scalar(&k, "is_causal", &syms), Some(1.0));
    for flag in [1.0, 0.0] {
        let mut b = bind(&k, DIMS, &[("is_causal", flag)], 11);
        let (v, _) = run_and_judge(&k, &mut b);
        assert!(v.pass, "is_causal = {flag}: {}", v.reason);
        let Comparison::Reference { summary } = comparison(&k, &b).expect("comparison") else {
            panic!("reference expected")
        };
        let want = if flag != 0.0 {
            "; causal ("
        } else {
            "; non-causal ("
        };
        assert!(summary.contains(want), "{summary}");
        assert!(
            summary.contains(&format!("`is_causal` = {flag} at run time")),
            "{summary}"
        );
    }
    // The reference really switches: the two settings give different expectations.
    let b1 = bind(&k, DIMS, &[("is_causal", 1.0)], 11);
    let b0 = bind(&k, DIMS, &[("is_causal", 0.0)], 11);
    assert_ne!(expected(&k, &b1).unwrap(), expected(&k, &b0).unwrap());
}

/// The conformance corpus' 4-D [B, H, S, 128] bf16 kernel, with its `causal` parameter (today's
/// convention, no option) in both settings.
#[test]
fn four_d_tensors_flatten_batch_and_heads() {
    let k = conformance("attention_bf16_d128_4d.tsr", "@reference(attention)");
    for causal in [1.0, 0.0] {
        let mut b = bind(&k, &[("B", 2), ("H", 3), ("S", 40)], &[("causal", causal)], 5);
        let (v, _) = run_and_judge(&k, &mut b);
        assert!(v.pass, "causal = {causal}: {}", v.reason);
        let Comparison::Reference { summary } = comparison(&k, &b).expect("comparison") else {
            panic!("reference expected")
        };
        assert!(summary.contains("6 heads"), "{summary}");
        assert!(summary.contains("the scalar parameter `causal`"), "{summary}");
    }
}

/// Grouped-query attention on 4-D tensors: query head h of batch z reads K/V head h / (H / HKV).
fn gqa_kernel(kv_head: &str) -> String {
    format!(
        "@reference(attention, causal = false)
kernel attn_gqa(q: f32[B, H, S, HD], k: f32[B, HKV, S, HD], v: f32[B, HKV, S, HD], o: out f32[B, H, S, HD])
    tiles(BM = 16, BN = 16, HD = 32)
    grid(cdiv(S, BM), H, B)
{{
    let z = program_id(2);
    let h = program_id(1);
    let hk = {kv_head};
    let m0 = program_id(0) * BM;
    let tq = load(q[z, h, m0 .. +BM, 0 .. +HD]);
    var m_i = full<f32>[BM](-inf);
    var l_i = zeros<f32>[BM];
    var acc = zeros<f32>[BM, HD];
    for n0 in 0..S step BN {{
        let cols = n0 + arange(BN);
        let raw = dot(tq, transpose(load(k[z, hk, n0 .. +BN, 0 .. +HD]))) * 0.17677669529663687;
        let s = where(cols[None, :] < S, raw, -inf);
        let m_new = max(m_i, reduce_max(s, axis = 1));
        let p = exp(s - m_new[:, None]);
        let alpha = exp(m_i - m_new);
        l_i = l_i * alpha + reduce_sum(p, axis = 1);
        acc = acc * alpha[:, None] + dot(p, load(v[z, hk, n0 .. +BN, 0 .. +HD]));
        m_i = m_new;
    }}
    store(o[z, h, m0 .. +BM, 0 .. +HD], acc / l_i[:, None]);
}}
"
    )
}

#[test]
fn grouped_query_heads_map_like_the_kernel_and_bad_groups_are_refused() {
    let dims = &[("B", 2), ("H", 4), ("HKV", 2), ("S", 24)];
    let k = compile(&gqa_kernel("h / (H / HKV)"));
    let mut b = bind(&k, dims, &[], 3);
    let (v, _) = run_and_judge(&k, &mut b);
    assert!(v.pass, "{}", v.reason);
    let Comparison::Reference { summary } = comparison(&k, &b).expect("comparison") else {
        panic!("reference expected")
    };
    assert!(summary.contains("8 query heads sharing 4 K/V heads"), "{summary}");
    // A kernel that maps heads another way (h % HKV) does not match the reference.
    let wrong = compile(&gqa_kernel("h % HKV"));
    let mut b = bind(&wrong, dims, &[], 3);
    let (v, _) = run_and_judge(&wrong, &mut b);
    assert!(!v.pass, "h % HKV must not pass as grouped-query attention");
    // 3 query heads over 2 K/V heads do not group: a coded shape error, not a panic.
    let b = bind(&k, &[("B", 2), ("H", 3), ("HKV", 2), ("S", 24)], &[], 3);
    let e = expected(&k, &b).unwrap_err();
    assert_eq!(e.code, tessera_oracle::E_SHAPE, "{e}");
    assert!(e.message.contains("multiple"), "{e}");
    assert_eq!(comparison(&k, &b).unwrap_err().code, tessera_oracle::E_SHAPE);
}

#[test]
fn sm_scale_can_name_any_scalar() {
    let src = WHERE_CAUSAL
        .replace("o: out f32[BH, S, HD])", "temp: f32, o: out f32[BH, S, HD])")
        .replace("* 0.17677669529663687", "* temp");
    let k = compile(&format!(
        "@reference(attention, causal = true, sm_scale = temp){src}"
    ));
    let syms = [("BH".to_string(), 2), ("S".to_string(), 40)];
    // Unset, it gets the default scale 1/sqrt(HD).
    let d = tessera_oracle::default_scalar(&k, "temp", &syms).expect("a default");
    assert!((d - 1.0 / 32f64.sqrt()).abs() < 1e-15);
    for t in [0.05, 0.4] {
        let mut b = bind(&k, DIMS, &[("temp", t)], 9);
        let (v, _) = run_and_judge(&k, &mut b);
        assert!(v.pass, "temp = {t}: {}", v.reason);
    }
    // Without the option `temp` means nothing to the reference, which then uses 1/sqrt(HD).
    let k0 = compile(&format!("@reference(attention, causal = true){src}"));
    let mut b = bind(&k0, DIMS, &[("temp", 0.4)], 9);
    let (v, _) = run_and_judge(&k0, &mut b);
    assert!(!v.pass, "an undeclared scale parameter is not the softmax scale");
}

/// `tessera explain E0806`'s runnable example, replayed here the way `tessera validate --backend
/// interp` runs it (same seed, same input order): the RIGHT dims pass, the WRONG ones are E0806.
/// The CLI test that runs the real command links LLVM; this keeps the example honest cheaply.
#[test]
fn the_e0806_explain_example_holds() {
    let info = tessera_diag::codes::lookup_stage("E0806").expect("documented");
    let dims = |cmd: &str| -> (Vec<(String, i64)>, u64) {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let mut dims = Vec::new();
        let mut seed = 0;
        for w in words.windows(2) {
            match w[0] {
                "--dim" => {
                    let (n, v) = w[1].split_once('=').expect("NAME=N");
                    dims.push((n.to_string(), v.parse().expect("int")));
                }
                "--seed" => seed = w[1].parse().expect("seed"),
                _ => {}
            }
        }
        (dims, seed)
    };
    let k = compile(info.right.source);
    assert_eq!(info.wrong.source, info.right.source);
    let (d, seed) = dims(info.right.command);
    let d: Vec<(&str, i64)> = d.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let mut b = bind(&k, &d, &[], seed);
    let (v, _) = run_and_judge(&k, &mut b);
    assert!(v.pass, "{}", v.reason);
    let (d, seed) = dims(info.wrong.command);
    let d: Vec<(&str, i64)> = d.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let b = bind(&k, &d, &[], seed);
    assert_eq!(expected(&k, &b).unwrap_err().code, "E0806");
}
