//! The GEMM examples of `dsl_examples/` through the real front end (`tessera_check::check_source`)
//! and the sm_90a build: the checked IR lowers, the PTX has the planned wgmma family and the
//! planned operand path (a TMA or cp.async ring), and ptxas (when present) accepts it.

use std::path::Path;
use tessera_target_nvidia::{BuildOptions, LoweringOptions, PtxasMode, SM90A, compile};

fn build_example(file: &str, family: &str) -> tessera_target_nvidia::BuildReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dsl_examples")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (module, diags) = tessera_check::check_source(file, &bytes);
    let Some(module) = module else {
        panic!("{file} does not check: {diags:?}")
    };
    let kernel = &module.kernels[0];
    // The bundle's kernel.tir is the printed module; the runner parses it back and re-runs it.
    let tir = tessera_ir::print_module(&module);
    let back =
        tessera_ir::parse_module(&tir).unwrap_or_else(|e| panic!("{file}: kernel.tir does not parse: {e:?}"));
    assert_eq!(&back.kernels[0], kernel, "{file}: kernel.tir does not round-trip");
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions::default(),
        ptxas: PtxasMode::Auto,
    };
    let art = compile(kernel, &opts).unwrap_or_else(|e| panic!("{file}: {e}"));
    let r = &art.report;
    assert!(r.scan.mma.contains_key(family), "{file}: {:?}", r.scan.mma);
    // Every GEMM example is lowered per op, its ring filled by TMA (the cp.async path kept for
    // launches whose tensors TMA cannot describe).
    let per_op = r.notes.iter().any(|n| n.contains("per-op lowering"));
    assert!(per_op, "{file}: {:?}", r.notes);
    assert!(
        r.scan.tma_loads > 0 && r.scan.mbarrier_waits > 0 && art.ptx.contains("cp.async.cg.shared.global"),
        "{file}: {:?}",
        r.scan
    );
    match (&art.cubin, &r.ptxas_skipped) {
        (Some(_), _) => assert!(r.ptxas.is_some()),
        (None, Some(why)) => println!("{file}: ptxas acceptance skipped: {why}"),
        (None, None) => panic!("{file}: no cubin and no reason"),
    }
    art.report
}

#[test]
fn gemm_bf16_example_builds_for_sm90a() {
    build_example(
        "gemm_bf16.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
    );
}

#[test]
fn gemm_fp8_example_builds_for_sm90a() {
    let r = build_example(
        "gemm_fp8.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3",
    );
    assert!(r.dequant.starts_with("none"), "{}", r.dequant);
}

#[test]
fn gemm_fp8_blockscale_example_promotes_per_k_tile() {
    let r = build_example(
        "gemm_fp8_blockscale.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3",
    );
    // The codes go into wgmma as they are and each 128-wide K group's partial is promoted with
    // its block scales: per row for the activations ([1, 128]), one per 128x128 tile for the
    // weights, both read by each thread straight into registers.
    assert!(r.dequant.starts_with("scaled codes on wgmma"), "{}", r.dequant);
    assert!(
        r.dequant
            .contains("f32 block scales read by each thread straight into registers"),
        "{}",
        r.dequant
    );
}

#[test]
fn f16_next_to_mxfp4_is_lowered_per_op() {
    // f16 activations next to MXFP4 weights: the bf16 conversion path has no f16 variant.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples/gemm_mxfp4_bf16.tsr");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text
        .replace("a: bf16[M, K]", "a: f16[M, K]")
        .replace("dequant<bf16>", "dequant<f16>");
    let (module, diags) = tessera_check::check_source("gemm_mxfp4_f16.tsr", text.as_bytes());
    let Some(module) = module else {
        panic!("does not check: {diags:?}")
    };
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions::default(),
        ptxas: PtxasMode::Off,
    };
    // No wgmma takes f16 x bf16: the MX operand is dequantized exactly and the pair multiplied by
    // f32 FMAs.
    let a = compile(&module.kernels[0], &opts).unwrap_or_else(|e| panic!("f16 x MXFP4: {e}"));
    assert!(
        a.lowered.mlir.contains("lowered per op"),
        "not the per-op lowering"
    );
}
