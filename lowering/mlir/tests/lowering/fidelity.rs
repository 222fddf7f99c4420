//! The compiler compiles the program it is given: a kernel that only resembles an example is never
//! compiled to the example's kernel, and no attribute selects code (tests/fidelity/). The GPU run
//! of scripts/gpu-conformance.sh validates the ones that build against the interpreter.

use std::path::Path;
use tessera_lowering_mlir::{LoweringError, LoweringOptions, lower_sm90a};

fn piped(rel: &str) -> (String, tessera_ir::Kernel) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
    let src = std::fs::read_to_string(&path).unwrap();
    let (m, d) = tessera_check::check_source(rel, src.as_bytes());
    let mut m = m.unwrap_or_else(|| panic!("{rel}: {d:?}"));
    let caps = tessera_passes::TargetCaps::lookup("sm_90a").unwrap();
    tessera_passes::run_pipeline(&mut m, caps, &Default::default(), &mut std::io::sink()).unwrap();
    (src, m.kernels.pop().unwrap())
}

fn mlir(rel: &str) -> Result<String, LoweringError> {
    lower_sm90a(&piped(rel).1, &LoweringOptions::default()).map(|l| l.mlir)
}

#[test]
fn attributes_never_select_code() {
    let with = mlir("dsl_examples/attention_fp8.tsr").unwrap();
    let without = mlir("tests/fidelity/attention_fp8_no_reference.tsr").unwrap();
    assert_eq!(with, without, "@reference(attention) changed the generated code");
    // The example itself is lowered op by op like every other kernel.
    assert!(
        with.contains("per op"),
        "the attention example is not lowered per op"
    );
}

#[test]
fn an_attention_that_drops_its_scales_is_not_compiled_to_the_example() {
    // The per-op lowering compiles the program as written (fp8 wgmma for both dots, the softmax
    // per op, its own scales), as it compiles every sm_90a kernel: no program is recognised.
    let (src, k) = piped("tests/fidelity/attention_fp8_other_scales.tsr");
    let example = mlir("dsl_examples/attention_fp8.tsr").unwrap();
    let l = lower_sm90a(&k, &LoweringOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(
        l.mlir, example,
        "a different attention program compiled to the example's kernel"
    );
    assert!(l.mlir.contains("per op"), "not the per-op lowering");
    assert!(src.contains("sm_scale * 1.4426950408889634"));
}

#[test]
fn a_gemm_with_other_indices_is_not_compiled_to_the_example() {
    let example = mlir("dsl_examples/gemm_mxfp8.tsr").unwrap();
    match mlir("tests/fidelity/gemm_mxfp8_other_indices.tsr") {
        Ok(other) => assert_ne!(example, other, "other indices, same kernel"),
        Err(LoweringError::Unsupported { .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
    }
}
