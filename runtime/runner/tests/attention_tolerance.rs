//! The runner judges attention with the oracle's tolerance, widened on sm_90 for Hopper's FP8
//! accumulator along the Q·Kᵀ head dim; default scalars are the oracle's (unit-sized operands), and
//! an explicit `--scalar` still overrides them.

use tessera_ir::Kernel;
use tessera_numerics::ArgValue;
use tessera_runner::problem::make_bindings;
use tessera_runner::validate::{hopper_attention_atol, tolerance_for};

fn attention() -> Kernel {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dsl_examples/attention_fp8.tsr"
    );
    let src = std::fs::read(path).expect("the example exists");
    let (module, diags) = tessera_check::check_source("attention_fp8.tsr", &src);
    assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
    module.expect("checked").kernels.remove(0)
}

fn scalar(k: &Kernel, b: &tessera_numerics::Bindings, name: &str) -> f64 {
    let i = k.params.iter().position(|p| p.name == name).expect("param");
    match b.args[i] {
        ArgValue::Scalar(v) => v,
        _ => panic!("{name} is not a scalar"),
    }
}

#[test]
fn attention_uses_the_oracle_tolerance_plus_the_hopper_logit_term() {
    let k = attention();
    let syms = vec![("BH".to_string(), 2), ("S".to_string(), 1000)];
    let b = make_bindings(&k, &syms, &[], 3).expect("bindings");
    assert_eq!(scalar(&k, &b, "scale_k"), 2f64.powi(-6));
    assert_eq!(scalar(&k, &b, "causal"), 1.0);
    let out = k.params.iter().position(|p| p.name == "o").expect("o");
    let base = tessera_oracle::tolerance(&k, &b, out);
    assert!(base.atol > 0.0);
    // Off Hopper: exactly the oracle's.
    assert_eq!(tolerance_for(&k, &b, out, "sm_100a"), base);
    // On Hopper: the same relative bounds, the absolute one widened by the logit term.
    let h = tolerance_for(&k, &b, out, "sm_90a");
    let stats = tessera_oracle::attention_stats(&k, &b).expect("stats");
    let extra = hopper_attention_atol(&stats);
    assert_eq!(h.rtol, base.rtol);
    assert!((h.atol - base.atol - extra).abs() < 1e-12);
    // Unit-sized logits: the widening is a small fraction of max|v|, not a blanket pass.
    assert!(
        extra > 0.0 && extra < 0.05 * stats.max_v,
        "{extra} vs max|v| {}",
        stats.max_v
    );
    // An explicit scalar overrides the default.
    let given = [("scale_k".to_string(), "0.5".to_string())];
    let b = make_bindings(&k, &syms, &given, 3).expect("bindings");
    assert_eq!(scalar(&k, &b, "scale_k"), 0.5);
}
