//! `@reference(FAMILY, key = value, ...)`: valid options become `reference.<key>` attributes of the
//! IR (and survive the IR text round trip); every malformed or unknown option is a coded error on
//! the span that is wrong.

use tessera_diag::Diagnostic;

const ATTN_PARAMS: &str = "q: f32[S, D], k: f32[S, D], v: f32[S, D], flag: i32, scale: f32, o: out f32[S, D]";
const GEMM_PARAMS: &str =
    "a: f32[M, K], b: f32[N, K], bias: f32[N], sr: f32[M], alpha: f32, c: out f32[M, N]";

fn check(attr: &str, params: &str) -> (Option<tessera_ir::Module>, Vec<Diagnostic>, String) {
    let src = format!("{attr}\nkernel k({params}) {{\n}}\n");
    let (m, d) = tessera_check::check_source("r.tsr", src.as_bytes());
    (m, d, src)
}

/// The one diagnostic's code and the source text its primary label covers.
fn one_error(attr: &str, params: &str) -> (&'static str, String, String) {
    let (m, d, src) = check(attr, params);
    assert!(m.is_none(), "{attr}: an error yields no module");
    let errs: Vec<&Diagnostic> = d.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "{attr}: {d:?}");
    let span = errs[0].primary_span().expect("located");
    (
        errs[0].code,
        src[span.lo as usize..span.hi as usize].to_string(),
        errs[0].message.clone(),
    )
}

#[test]
fn options_become_ir_attributes_in_source_order() {
    let (m, d, _) = check(
        "@reference(gemm, bias = bias, row_scale = sr, activation = gelu_tanh)",
        GEMM_PARAMS,
    );
    assert!(d.is_empty(), "{d:?}");
    let k = &m.expect("module").kernels[0];
    assert_eq!(
        k.attrs,
        [
            ("reference", "gemm"),
            ("reference.bias", "bias"),
            ("reference.row_scale", "sr"),
            ("reference.activation", "gelu_tanh")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        tessera_ir::reference::options(k),
        [("bias", "bias"), ("row_scale", "sr"), ("activation", "gelu_tanh")]
    );
    let (m, d, _) = check(
        "@reference(attention, causal = true, sm_scale = scale)",
        ATTN_PARAMS,
    );
    assert!(d.is_empty(), "{d:?}");
    let m = m.expect("module");
    assert_eq!(m.kernels[0].attr("reference.causal"), Some("true"));
    // The IR text form keeps them (quoted keys) and reads them back.
    let text = tessera_ir::print_module(&m);
    assert!(text.contains("\"reference.causal\" = \"true\""), "{text}");
    assert_eq!(tessera_ir::parse_module(&text).expect("parses"), m);
    // A runtime flag and `false` are values too.
    for attr in [
        "@reference(attention, causal = flag)",
        "@reference(attention, causal = false)",
    ] {
        let (m, d, _) = check(attr, ATTN_PARAMS);
        assert!(m.is_some() && d.is_empty(), "{attr}: {d:?}");
    }
}

#[test]
fn structural_errors_are_located() {
    // A positional argument after the family.
    let (code, at, _) = one_error("@reference(gemm, relu)", GEMM_PARAMS);
    assert_eq!((code, at.as_str()), ("E0103", "relu"));
    // An option where the family belongs.
    let (code, at, _) = one_error("@reference(causal = true)", ATTN_PARAMS);
    assert_eq!((code, at.as_str()), ("E0103", "causal = true"));
    // The same key twice: the second one is wrong, the first is a secondary label.
    let (m, d, src) = check(
        "@reference(attention, causal = true, causal = false)",
        ATTN_PARAMS,
    );
    assert!(m.is_none());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "E0109");
    let spans: Vec<&str> = d[0]
        .labels
        .iter()
        .map(|l| &src[l.span.lo as usize..l.span.hi as usize])
        .collect();
    assert_eq!(spans, ["causal = false", "causal = true"]);
    // Options on an attribute other than `@reference`: that attribute is unknown.
    let (code, at, _) = one_error("@validate(gemm, bias = bias)", GEMM_PARAMS);
    assert_eq!((code, at.as_str()), ("E0108", "validate"));
    // An integer too large for u64 is E0007 once, not also a value of the wrong kind.
    let (code, at, _) = one_error(
        "@reference(attention, causal = 99999999999999999999999)",
        ATTN_PARAMS,
    );
    assert_eq!((code, at.as_str()), ("E0007", "99999999999999999999999"));
    // A second `@reference`.
    let (code, _, msg) = one_error("@reference(gemm)\n@reference(gemm, bias = bias)", GEMM_PARAMS);
    assert_eq!(code, "E0109", "{msg}");
}

#[test]
fn options_a_family_does_not_know_are_refused_by_name() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (attribute, params, expected code, the text the error points at)
        (
            "@reference(attention, causl = true)",
            ATTN_PARAMS,
            "E0109",
            "causl",
        ),
        (
            "@reference(attention, window = 128)",
            ATTN_PARAMS,
            "E0109",
            "window",
        ),
        (
            "@reference(moe_gated, causal = true)",
            ATTN_PARAMS,
            "E0109",
            "causal",
        ),
        // Values of the wrong kind.
        ("@reference(attention, causal = 1)", ATTN_PARAMS, "E0109", "1"),
        ("@reference(attention, causal = q)", ATTN_PARAMS, "E0109", "q"),
        (
            "@reference(attention, causal = nope)",
            ATTN_PARAMS,
            "E0109",
            "nope",
        ),
        (
            "@reference(attention, sm_scale = true)",
            ATTN_PARAMS,
            "E0109",
            "true",
        ),
        ("@reference(gemm, bias = alpha)", GEMM_PARAMS, "E0109", "alpha"),
        ("@reference(gemm, residual = c)", GEMM_PARAMS, "E0109", "c"),
        (
            "@reference(gemm, activation = tanh)",
            GEMM_PARAMS,
            "E0109",
            "tanh",
        ),
        (
            "@reference(gemm, activation = bias)",
            GEMM_PARAMS,
            "E0109",
            "bias",
        ),
    ];
    for (attr, params, want, at) in cases {
        let (code, got_at, msg) = one_error(attr, params);
        assert_eq!((code, got_at.as_str()), (*want, *at), "{attr}: {msg}");
        let key = attr
            .split(", ")
            .nth(1)
            .and_then(|o| o.split(' ').next())
            .unwrap_or("");
        assert!(
            msg.contains(&format!("`{key}`")),
            "{attr}: the message names the option: {msg}"
        );
    }
    // A family the checker does not know is left to the oracle (`tessera validate`: E0801).
    let (m, d, _) = check("@reference(conv2d, stride = 2)", GEMM_PARAMS);
    assert!(m.is_some() && d.is_empty(), "{d:?}");
}

#[test]
fn a_misspelled_option_gets_a_suggestion() {
    let (_, d, _) = check("@reference(gemm, row_scael = sr)", GEMM_PARAMS);
    assert_eq!(d[0].code, "E0109");
    assert!(
        d[0].help.as_deref().is_some_and(|h| h.contains("row_scale")),
        "{:?}",
        d[0].help
    );
}
