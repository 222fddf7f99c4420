//! One line per checker rule: a small program and the code it must produce (the explain registry
//! covers one case per code; these cover the other ways to hit each rule).

fn codes_of(body: &str, params: &str) -> Vec<&'static str> {
    let src = format!("kernel k({params}) tiles(B = 64, BK = 32) grid(4, 4) {{\n{body}\n}}\n");
    let (m, d) = tessera_check::check_source("r.tsr", src.as_bytes());
    assert_eq!(m.is_some(), !d.iter().any(|d| d.is_error()));
    d.iter().map(|d| d.code).collect()
}

const P: &str = "x: f32[N], xb: bf16[N], xi: i32[N], y: out f32[N], yb: out bf16[N], m: f32[M, K], \
                 q: f4e2m1[M, K], s: e8m0[M, K / 32], a: mx<f8e4m3>[M, K], ya: out mx<f8e4m3>[M, K], n: i32, g: f32";

#[test]
fn each_rule_reports_its_code() {
    let cases: &[(&str, &str)] = &[
        ("E0100", "let t = load(x[j .. +B]);"),
        ("E0102", "let t = softmax(1.0);"),
        ("E0103", "let t = exp(1.0, 2.0);"),
        ("E0103", "let t = program_id();"),
        (
            "E0103",
            "let t = quantize<nv<f4e2m1>>(load(m[0 .. +B, 0 .. +B]));",
        ),
        (
            "E0131",
            "let t = quantize<nv<f4e2m1>>(load(m[0 .. +B, 0 .. +B]));",
        ),
        ("E0104", "let t = reduce_sum(load(x[0 .. +B]), dim = 0);"),
        ("E0106", "n = 3;"),
        ("E0106", "for i in 0..4 { i = 2; }"),
        ("E0107", "var t; for i in 0..4 { t = 1.0; } store(y[0], t);"),
        ("E0110", "store(y[0 .. +B], load(xb[0 .. +B]));"),
        ("E0110", "let t = load(xi[0 .. +B]) + 0.5;"),
        ("E0110", "let t = where(load(x[0 .. +B]), 1.0, 2.0);"),
        (
            "E0110",
            "store(ya[0 .. +B, 0 .. +BK], load(m[0 .. +B, 0 .. +BK]));",
        ),
        ("E0111", "let t = load(x[0 .. +B]) + load(m[0 .. +B, 0 .. +B]);"),
        ("E0111", "let t = transpose(load(x[0 .. +B]));"),
        (
            "E0111",
            "let t = dot(load(m[0 .. +B, 0 .. +B]), load(m[0 .. +B, 0 .. +B]), zeros<f32>[B, 32]);",
        ),
        ("E0113", "let t = x * 2.0;"),
        ("E0130", "let t = load(a[0, 0]);"),
        ("E0113", "if load(x[0 .. +B]) > 0.0 { }"),
        ("E0113", "for i in 0..load(xi[0 .. +B]) { }"),
        ("E0113", "let t = dequant(load(m[0 .. +B, 0 .. +B]));"),
        ("E0113", "let t = load(x[1.5]);"),
        ("E0114", "let t = exp(load(xi[0 .. +B]));"),
        // cdiv is integer ceiling division (its expansion uses `%` and compares).
        ("E0114", "let t = cdiv(load(x[0 .. +B]), 2);"),
        ("E0114", "let t = load(a[0 .. +B, 0 .. +BK]) * 2.0;"),
        // bf16/f16 atomics are allowed (issue 12); codes are not.
        (
            "E0114",
            "atomic_add(ya[0 .. +B, 0 .. +BK], load(a[0 .. +B, 0 .. +BK]));",
        ),
        ("E0114", "let t = full<f8e4m3>[B](1.0);"),
        ("E0114", "let t = cast<f32>(load(a[0 .. +B, 0 .. +BK]));"),
        (
            "E0114",
            "let t = dot(load(x[0 .. +B])[:, None] > 0.0, load(x[0 .. +B])[None, :] > 0.0);",
        ),
        (
            "E0110",
            "let t = dot(load(a[0 .. +B, 0 .. +BK]), cast<i8>(zeros<f32>[BK, B]));",
        ),
        (
            "E0110",
            "let t = dot(cast<i8>(zeros<f32>[B, BK]), cast<f8e4m3>(zeros<f32>[BK, B]));",
        ),
        (
            "E0110",
            "let t = dot(cast<i8>(zeros<f32>[B, BK]), zeros<bf16>[BK, B]);",
        ),
        ("E0115", "var t = 0.0; t = load(x[0 .. +B]);"),
        ("E0115", "var t; if n > 0 { t = 1.0; } else { t = 1; }"),
        ("E0116", "let t = zeros<f32>[n];"),
        ("E0116", "let t = arange(load(xi[0]));"),
        ("E0117", "let t = program_id(2);"),
        ("E0117", "let t = reduce_max(load(x[0 .. +B]), axis = 1);"),
        ("E0120", "atomic_add(x[0 .. +B], load(x[0 .. +B]));"),
        ("E0121", "let t = load(m[0 .. +B]);"),
        ("E0123", "let t = load(x[:]);"),
        ("E0123", "let t = load(x[None]);"),
        ("E0123", "let v = x[3]; let t = load(v[0 .. +B]);"),
        ("E0123", "let t = load(x[0 .. +B])[0 .. +4];"),
        ("E0124", "store(y[0 .. +B], zeros<f32>[B, 2]);"),
        ("E0130", "let t = load(a[0 .. +B, 0 .. +16]);"),
        ("E0130", "let t = load(a[0 .. +B, 3]);"),
        ("E0130", "let t = load(a[0 .. +B, arange(32)]);"),
        (
            "E0130",
            "let t = dequant(load(q[0 .. +B, 0 .. +B]), load(s[0 .. +B, 0 .. +3]));",
        ),
        ("E0130", "let t = quantize<mx<f8e4m3>>(zeros<f32>[B, 48]);"),
        ("E0132", "let t = quantize<mx<bf16>>(zeros<f32>[B, 64]);"),
        (
            "E0134",
            "let t = dot(load(a[0 .. +B, 0 .. +B]), transpose(quantize<nv<f4e2m1>>(zeros<f32>[B, B], g)));",
        ),
        ("E0135", "let t = quantize<nv<f4e2m1>>(zeros<f32>[B, B], n);"),
        ("E0140", "let t = dot(zeros<bf16>[B, 48], zeros<bf16>[48, B]);"),
        ("E0118", "for i in 0..n step 0 { }"),
        ("E0118", "for i in 0..n step -B { }"),
        ("E0118", "let s = 2 - BK; for i in 0..n step s { }"),
        ("E0143", "let t = zeros<f32>[1048576, 2];"),
        ("E0143", "let t = load(m[0 .. +2097152, 0 .. +1]);"),
        (
            "E0143",
            "let t = load(x[0 .. +B])[:, None] * load(x[0 .. +2147483647])[None, :];",
        ),
        ("E0007", "let t = 2147483647 + 1;"),
        ("E0007", "let t = 65536 * 65536;"),
        ("W0001", "load(x[0 .. +B]);"),
    ];
    let mut bad = String::new();
    for (code, body) in cases {
        let got = codes_of(body, P);
        if !got.contains(code) {
            bad.push_str(&format!("{code} expected for `{body}`, got {got:?}\n"));
        }
    }
    assert!(bad.is_empty(), "{bad}");
}

#[test]
fn accepted_forms_check_clean() {
    let ok: &[&str] = &[
        "store(y[0 .. +B], load(x[0 .. +B]) * 2 + 1);",
        "store(y[0 .. +B], cast<f32>(load(xb[0 .. +B])) - -inf);",
        "let t = dot(cast<i8>(zeros<f32>[B, 32]), cast<i8>(zeros<f32>[32, B]));",
        "let t = dequant<bf16>(load(q[0 .. +B, 0 .. +B]), load(s[0 .. +B, 0 .. +2]));",
        "store(ya[0 .. +B, 0 .. +BK], quantize<mx<f8e4m3>>(load(m[0 .. +B, 0 .. +BK])));",
        "let t = dot(load(a[0 .. +B, 0 .. +B]), transpose(quantize<mx<f4e2m1>>(zeros<f32>[B, B])));",
        "let t = quantize<nv<f4e2m1>>(zeros<f32>[B, B], g);",
        "var t; if n > 0 { t = 1.0; } else if n < 0 { t = 2.0; } else { t = 3.0; } store(y[0], t);",
        "let v = x[n .. n + 100]; store(y[0 .. +B], load(v[0 .. +B], other = -inf));",
        "store(y[0], reduce_sum(load(x[0 .. +B]), 0));",
        "let t = max(1, 2) + min(n, 3) + cdiv(n, 4) + num_programs(1);",
        "if true && !false { store(y[0], 1); }",
        "for i in 0..n step n { store(y[i], 1.0); }",
        "let t = zeros<f32>[1024, 1024];",
        "for i in 0..n step BK - B / 4 { store(y[i], 1.0); }",
    ];
    for body in ok {
        let got = codes_of(body, P);
        assert!(got.is_empty(), "`{body}` should check clean, got {got:?}");
    }
}
