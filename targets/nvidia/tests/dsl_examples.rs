//! The GEMM examples of `dsl_examples/` through the real front end (`tessera_check::check_source`)
//! and the sm_90a build: the checked IR lowers, the PTX has the planned wgmma family, TMA and
//! mbarriers, and ptxas (when present) accepts it.

use std::path::Path;
use tessera_target_nvidia::{BuildOptions, LoweringOptions, PtxasMode, SM90A, compile};

fn build_example(file: &str, family: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples").join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (module, diags) = tessera_check::check_source(file, &bytes);
    let Some(module) = module else { panic!("{file} does not check: {diags:?}") };
    let kernel = &module.kernels[0];
    let opts = BuildOptions { target: SM90A, lowering: LoweringOptions::default(), ptxas: PtxasMode::Auto };
    let art = compile(kernel, &opts).unwrap_or_else(|e| panic!("{file}: {e}"));
    let r = &art.report;
    assert!(r.scan.mma.contains_key(family), "{file}: {:?}", r.scan.mma);
    assert!(r.scan.tma_loads > 0 && r.scan.mbarrier_waits > 0, "{file}: {:?}", r.scan);
    match (&art.cubin, &r.ptxas_skipped) {
        (Some(_), _) => assert!(r.ptxas.is_some()),
        (None, Some(why)) => println!("{file}: ptxas acceptance skipped: {why}"),
        (None, None) => panic!("{file}: no cubin and no reason"),
    }
}

#[test]
fn gemm_bf16_example_builds_for_sm90a() {
    build_example("gemm_bf16.tsr", "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16");
}

#[test]
fn gemm_fp8_example_builds_for_sm90a() {
    build_example("gemm_fp8.tsr", "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3");
}
