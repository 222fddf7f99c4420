//! Parser behaviour: examples parse clean, errors are coded and recovered from, bytes that are not
//! UTF-8 and empty files get their codes, and the AST keeps exact spans.

use tessera_syntax::{ExprKind, IndexItem, Item, Stmt, parse, parse_bytes};

fn codes(src: &str) -> Vec<&'static str> {
    parse(src).1.iter().map(|d| d.code).collect()
}

#[test]
fn every_example_parses_without_diagnostics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples");
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("dsl_examples").flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "tsr") {
            let (ast, diags) = parse_bytes(&std::fs::read(&p).expect("readable"));
            assert!(diags.is_empty(), "{}: {diags:?}", p.display());
            assert!(
                matches!(ast.items.as_slice(), [Item::Kernel(_)]),
                "{}",
                p.display()
            );
            n += 1;
        }
    }
    assert!(n >= 10);
}

#[test]
fn spans_point_at_the_source_text() {
    let src = "kernel k(x: f32[N]) {\n    let t = load(x[3 .. +B]);\n}\n";
    let (ast, diags) = parse(src);
    assert!(diags.is_empty());
    let Item::Kernel(k) = &ast.items[0] else {
        panic!("kernel expected")
    };
    assert_eq!(&src[k.name.span.lo as usize..k.name.span.hi as usize], "k");
    let Stmt::Let { value, span, .. } = &k.body.stmts[0] else {
        panic!("let expected")
    };
    assert_eq!(
        &src[span.lo as usize..span.hi as usize],
        "let t = load(x[3 .. +B]);"
    );
    let ExprKind::Call { args, .. } = &value.kind else {
        panic!("call expected")
    };
    let ExprKind::Index { items, .. } = &args[0].value.kind else {
        panic!("index expected")
    };
    let IndexItem::Sized { span, .. } = &items[0] else {
        panic!("sized slice expected")
    };
    assert_eq!(&src[span.lo as usize..span.hi as usize], "3 .. +B");
}

#[test]
fn generic_builtins_are_not_comparisons() {
    let (_, d) = parse(
        "kernel k() { let a = cast<bf16>(x) < y; let q = quantize<mx<f8e4m3>>(t); let z = zeros<f32>[4, 4]; }",
    );
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let c = codes("kernel a() { let x = ; let y = 1 2; }\nkernel b() { let = 3; }\n");
    assert!(c.iter().filter(|c| **c == "E0004").count() >= 3, "{c:?}");
}

#[test]
fn unclosed_and_unmatched_delimiters() {
    assert_eq!(codes("kernel k() {\n let x = 1;\n"), vec!["E0005"]);
    assert_eq!(codes("kernel k() { let x = (1 + 2)); }"), vec!["E0006"]);
    assert!(codes("kernel k() { let x = (1 + 2; }").contains(&"E0005"));
}

#[test]
fn invalid_characters_are_merged_into_one_diagnostic() {
    let (_, d) = parse("kernel k() { let x = 1 $$$ 2; }");
    let bad: Vec<_> = d.iter().filter(|d| d.code == "E0003").collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].message, "invalid characters `$$$`");
}

#[test]
fn non_utf8_and_empty_inputs() {
    let (_, d) = parse_bytes(b"kernel k() {}\n// \xff\xfe\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "E0001");
    assert_eq!(d[0].primary_span().map(|s| s.lo), Some(17));
    assert_eq!(parse_bytes(b"").1[0].code, "E0002");
    assert_eq!(parse_bytes(b"  // only a comment\n").1[0].code, "E0002");
}

#[test]
fn integer_literals_too_large_for_u64_are_kept_as_none() {
    let (ast, d) = parse("kernel k() { let x = 99999999999999999999999; }");
    assert!(d.is_empty());
    let Item::Kernel(k) = &ast.items[0] else {
        panic!("kernel expected")
    };
    let Stmt::Let { value, .. } = &k.body.stmts[0] else {
        panic!("let expected")
    };
    assert_eq!(value.kind, ExprKind::Int(None));
}

#[test]
fn attribute_options_parse_with_spans() {
    use tessera_syntax::{AttrArg, AttrValue};
    let src = "@reference(attention, causal = true, sm_scale = s, n = 4, x = 0.5)\nkernel k() {}\n";
    let (ast, diags) = parse(src);
    assert!(diags.is_empty(), "{diags:?}");
    let Item::Kernel(k) = &ast.items[0] else {
        panic!("kernel expected")
    };
    let text = |s: tessera_syntax::Span| &src[s.lo as usize..s.hi as usize];
    let args = &k.attrs[0].args;
    assert!(matches!(&args[0], AttrArg::Name(n) if n.name == "attention"));
    let opts: Vec<(&str, &str, &str)> = args[1..]
        .iter()
        .map(|a| match a {
            AttrArg::Option { key, value, span } => {
                let kind = match value {
                    AttrValue::Bool(..) => "bool",
                    AttrValue::Name(_) => "name",
                    AttrValue::Int(_) => "int",
                    AttrValue::Float(..) => "float",
                };
                assert_eq!(text(*span), format!("{} = {}", key.name, text(value.span())));
                (text(key.span), text(value.span()), kind)
            }
            AttrArg::Name(n) => panic!("`{}` parsed as a name", n.name),
        })
        .collect();
    assert_eq!(
        opts,
        [
            ("causal", "true", "bool"),
            ("sm_scale", "s", "name"),
            ("n", "4", "int"),
            ("x", "0.5", "float")
        ]
    );
    // Names and options in any order parse; the order is the checker's business.
    let (ast, diags) = parse("@reference(a = b, gemm, relu)\nkernel k() {}\n");
    assert!(diags.is_empty(), "{diags:?}");
    let Item::Kernel(k) = &ast.items[0] else {
        panic!("kernel expected")
    };
    assert_eq!(k.attrs[0].args.len(), 3);
    // A value must be there.
    assert_eq!(codes("@reference(gemm, bias = )\nkernel k() {}\n"), ["E0004"]);
}
