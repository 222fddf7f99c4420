//! `dsl_examples/attention_fp8.tsr` through the real front end and the sm_90a attention lowering:
//! every tile choice of the example (BM, BN in 64, 128) lowers, both products are e4m3 wgmma,
//! TMA and mbarriers are there, ptxas (when present) accepts the PTX, and the launch contract
//! (ABI order, tensor-map boxes, block, shared memory) is the one the kernel was generated for.
//! Kernels that only look like attention are refused with a located reason.

use std::path::Path;
use tessera_bundle::AbiArg;
use tessera_target_nvidia::{
    Artifacts, BuildError, BuildOptions, LoweringOptions, PtxasMode, SM90A, compile,
};

fn source(bm: u32, bn: u32) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples/attention_fp8.tsr");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.contains("BM = 128 in") && text.contains("BN = 64 in"),
        "example changed"
    );
    text.replace("BM = 128 in", &format!("BM = {bm} in"))
        .replace("BN = 64 in", &format!("BN = {bn} in"))
}

fn build(src: &str) -> Result<Artifacts, BuildError> {
    let (module, diags) = tessera_check::check_source("attention_fp8.tsr", src.as_bytes());
    let Some(module) = module else {
        panic!("attention does not check: {diags:?}")
    };
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions::default(),
        ptxas: PtxasMode::Auto,
    };
    compile(&module.kernels[0], &opts)
}

#[test]
fn attention_example_lowers_to_two_e4m3_wgmma_products_for_every_tile_choice() {
    for (bm, bn) in [(128, 64), (64, 64), (64, 128), (128, 128)] {
        let art = build(&source(bm, bn)).unwrap_or_else(|e| panic!("BM {bm} BN {bn}: {e}"));
        let r = &art.report;
        let qk = format!("wgmma.mma_async.sync.aligned.m64n{bn}k32.f32.e4m3.e4m3");
        let pv = "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3";
        assert!(r.scan.mma.contains_key(&qk), "{bm}x{bn}: {:?}", r.scan.mma);
        assert!(r.scan.mma.contains_key(pv), "{bm}x{bn}: {:?}", r.scan.mma);
        // P·V takes A from registers: `{$a0, $a1, $a2, $a3}` then the B descriptor.
        let pv_line = art
            .ptx
            .lines()
            .find(|l| l.contains(pv) && l.contains("}, {"))
            .unwrap_or_else(|| panic!("{bm}x{bn}: no register-A P·V wgmma"));
        assert!(pv_line.matches('{').count() >= 2, "{pv_line}");
        // Q once + (K, V) per tile through TMA; mbarrier waits for Q and the ring.
        assert!(
            r.scan.tma_loads >= 3 && r.scan.mbarrier_waits >= 2,
            "{:?}",
            r.scan
        );
        for needle in [
            "shfl.sync.bfly",
            "ex2.approx",
            "cvt.rn.satfinite.e4m3x2.f32",
            "fence.proxy.async",
        ] {
            assert!(art.ptx.contains(needle), "{bm}x{bn}: PTX lacks {needle}");
        }
        match (&art.cubin, &r.ptxas_skipped) {
            (Some(_), _) => {
                let p = r.ptxas.as_ref().expect("ptxas figures");
                assert_eq!(p.spill_stores_bytes, 0, "{bm}x{bn}: {p:?}");
            }
            (None, Some(why)) => println!("ptxas acceptance skipped: {why}"),
            (None, None) => panic!("no cubin and no reason"),
        }
        let l = &art.lowered;
        assert_eq!(l.block, [bm / 64 * 128, 1, 1]);
        // Q tile + 2 stages of (K, V) + the transposed V tile + alignment slack.
        assert_eq!(l.dynamic_shared_bytes, bm * 128 + 4 * bn * 128 + 128 * bn + 1024);
        let boxes: Vec<(String, Vec<u32>, u32)> = l
            .abi
            .iter()
            .filter_map(|a| match a {
                AbiArg::TensorMap { param, tma, .. } => {
                    Some((param.clone(), tma.box_dims.clone(), tma.swizzle))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            boxes,
            vec![
                ("q".to_string(), vec![128, bm, 1], 128),
                ("k".to_string(), vec![128, bn, 1], 128),
                ("v".to_string(), vec![128, bn, 1], 0),
            ]
        );
        let kinds: Vec<String> = l
            .abi
            .iter()
            .map(|a| match a {
                AbiArg::TensorMap { param, .. } => format!("map:{param}"),
                AbiArg::Ptr { param, .. } => format!("ptr:{param}"),
                AbiArg::ScalarF32 { param } => format!("f32:{param}"),
                AbiArg::ScalarI32 { param } => format!("i32:{param}"),
                AbiArg::SymI32 { sym } => format!("dim:{sym}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds.join(" "),
            "map:q map:k map:v ptr:o f32:scale_q f32:scale_k f32:scale_v f32:sm_scale i32:causal dim:BH dim:S"
        );
    }
}

#[test]
fn kernels_that_only_look_like_attention_are_compiled_as_written() {
    // Programs that resemble the example but differ are never given the attention schedule: the
    // per-op lowering compiles them as written (and the schedule's own check names the first op
    // that differs).
    let variants = [
        // No P·V product: the softmax loop is not the reference's.
        source(128, 64).replace(
            "acc = acc * alpha[:, None] + dot(cast<f8e4m3>(p), tv);",
            "acc = acc * alpha[:, None];",
        ),
        // A head dim the schedule does not cover.
        source(128, 64).replace("HD = 128)", "HD = 64)"),
    ];
    let example = build(&source(128, 64)).expect("the example builds");
    assert!(
        !example.lowered.mlir.contains("lowered per op"),
        "the example takes the schedule"
    );
    for src in variants {
        match build(&src) {
            Ok(a) => {
                assert!(
                    a.lowered.mlir.contains("lowered per op"),
                    "a different program got the attention schedule"
                );
                assert_ne!(a.ptx, example.ptx);
            }
            Err(BuildError::Lowering(e)) => assert!(e.span().is_some(), "refusal without a span: {e}"),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}
