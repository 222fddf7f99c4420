//! The `@reference` vocabulary shared by the checker and the oracle: option values read back from
//! their IR spelling, and `check_option` accepts exactly the kinds each option documents.

use tessera_ir::reference::{self, OptionProblem, ParamClass, Value};

fn params(n: &str) -> Option<ParamClass> {
    match n {
        "s" | "flag" => Some(ParamClass::Scalar),
        "t" | "bias" => Some(ParamClass::InputTensor),
        "o" => Some(ParamClass::OutTensor),
        _ => None,
    }
}

fn check(family: &str, key: &str, value: &str) -> Result<(), OptionProblem> {
    reference::check_option(reference::family(family).expect("family"), key, value, &params)
}

#[test]
fn values_read_back_from_their_spelling() {
    assert_eq!(Value::parse("true"), Value::Bool(true));
    assert_eq!(Value::parse("false"), Value::Bool(false));
    assert_eq!(Value::parse("128"), Value::Int(128));
    assert_eq!(Value::parse("flag"), Value::Name("flag"));
}

#[test]
fn each_option_takes_its_kind_of_value() {
    for ok in [
        ("attention", "causal", "true"),
        ("attention", "causal", "false"),
        ("attention", "causal", "flag"),
        ("attention", "sm_scale", "s"),
        ("gemm", "bias", "bias"),
        ("gemm", "row_scale", "t"),
        ("gemm", "col_scale", "t"),
        ("gemm", "residual", "t"),
        ("gemm", "activation", "silu"),
    ] {
        assert_eq!(check(ok.0, ok.1, ok.2), Ok(()), "{ok:?}");
    }
    for bad in [
        ("attention", "causal", "1"),
        ("attention", "causal", "t"),
        ("attention", "causal", "missing"),
        ("attention", "sm_scale", "true"),
        ("gemm", "bias", "s"),
        ("gemm", "bias", "o"),
        ("gemm", "activation", "tanh"),
        ("gemm", "activation", "t"),
    ] {
        assert!(
            matches!(check(bad.0, bad.1, bad.2), Err(OptionProblem::BadValue { .. })),
            "{bad:?}"
        );
    }
    let e = check("moe_gated", "causal", "true").unwrap_err();
    assert!(matches!(e, OptionProblem::UnknownKey { .. }));
    assert!(
        e.message("causal").contains("`causal`"),
        "{}",
        e.message("causal")
    );
    assert!(e.message("causal").contains("none"), "{}", e.message("causal"));
}

#[test]
fn the_families_are_listed_once() {
    let names: Vec<&str> = reference::FAMILIES.iter().map(|f| f.name).collect();
    assert_eq!(names, ["gemm", "attention", "moe_gated"]);
    assert!(reference::family("conv2d").is_none());
    for f in reference::FAMILIES {
        for (i, o) in f.options.iter().enumerate() {
            assert!(
                !f.options[..i].iter().any(|p| p.key == o.key),
                "{}: `{}` twice",
                f.name,
                o.key
            );
        }
    }
}
