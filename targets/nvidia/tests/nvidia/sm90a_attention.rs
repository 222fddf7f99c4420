//! `dsl_examples/attention_fp8.tsr` through the real front end and the sm_90a per-op lowering
//! (the FA-style attention schedule that took it until session 12 is deleted): every tile choice of
//! the example (BM, BN in 64, 128) lowers, both products are e4m3 wgmma (P·V with P from
//! registers), V rides the K ring and is transposed in shared memory, ptxas (when present) accepts
//! the PTX without spills, and the launch contract (ABI order, block, shared memory) is the one the
//! kernel was generated for. Kernels that only look like attention are compiled as written.

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
        let l = &art.lowered;
        assert!(l.mlir.contains("lowered per op"), "{bm}x{bn}: not lowered per op");
        assert!(
            l.mma
                .operand_a
                .contains("1 N-major B tile(s) carried in an earlier dot's ring"),
            "{bm}x{bn}: {}",
            l.mma.operand_a
        );
        // K and V by cp.async (the ring carrying V is never filled by TMA), V transposed with
        // byte permutes, the softmax on the fragment.
        assert_eq!(r.scan.tma_loads, 0, "{bm}x{bn}: {:?}", r.scan);
        for needle in [
            "cp.async.cg.shared.global",
            "prmt.b32",
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
        // One or two warpgroups, as the accumulators need (assign-layouts).
        assert!(
            matches!(l.block, [128, 1, 1] | [256, 1, 1]),
            "{bm}x{bn}: {:?}",
            l.block
        );
        // Q once, at least two stages of (K, V), the transposed V tile.
        assert!(
            l.dynamic_shared_bytes >= bm * 128 + 2 * 2 * bn * 128 + 128 * bn,
            "{bm}x{bn}: {}",
            l.dynamic_shared_bytes
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
            "ptr:q ptr:k ptr:v ptr:o f32:scale_q f32:scale_k f32:scale_v f32:sm_scale i32:causal dim:BH dim:S"
        );
    }
}

#[test]
fn kernels_that_only_look_like_attention_are_compiled_as_written() {
    // Programs that resemble the example but differ compile as written, like the example itself:
    // nothing recognises the attention program any more.
    let variants = [
        // No P·V product: the softmax loop is not the reference's.
        source(128, 64).replace(
            "acc = acc * alpha[:, None] + dot(cast<f8e4m3>(p), tv);",
            "acc = acc * alpha[:, None];",
        ),
        // Another head dim.
        source(128, 64).replace("HD = 128)", "HD = 64)"),
    ];
    let example = build(&source(128, 64)).expect("the example builds");
    assert!(example.lowered.mlir.contains("lowered per op"));
    for src in variants {
        match build(&src) {
            Ok(a) => {
                assert!(a.lowered.mlir.contains("lowered per op"));
                assert_ne!(a.ptx, example.ptx);
            }
            Err(BuildError::Lowering(e)) => assert!(e.span().is_some(), "refusal without a span: {e}"),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}
