//! Fused dequantization on sm_90a (issue 6, items 4-5): the MX / NVFP4 / explicit-dequant GEMM
//! examples through the front end and the sm_90a pass pipeline, lowered to ONE mainloop each.
//! Checked here: the planned wgmma family is in the PTX, the report's dequant line agrees with the
//! fuse-dequant pass, ptxas accepts the PTX for sm_90a, the ABI carries the scale buffers and NV
//! globals, and a PTX audit shows the dequantized tile never goes to global memory (the only
//! global stores are the epilogue's bf16 outputs; converted tiles are written to shared memory
//! and fenced for the async proxy before wgmma reads them).

use std::path::Path;
use tessera_bundle::{AbiArg, TensorPart};
use tessera_ir::{Kernel, Module};
use tessera_passes::{PipelineOptions, dequant_report, registry, run_pipeline};
use tessera_target_nvidia::{Artifacts, BuildOptions, LoweringOptions, PtxasMode, SM90A, compile};

fn checked(file: &str) -> Module {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dsl_examples")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (module, diags) = tessera_check::check_source(file, &bytes);
    module.unwrap_or_else(|| panic!("{file} does not check: {diags:?}"))
}

/// The checked module after the sm_90a pass pipeline (what `tessera build` lowers).
fn piped(file: &str) -> Kernel {
    let mut m = checked(file);
    let caps = registry::target("sm_90a").expect("sm_90a is registered");
    run_pipeline(&mut m, caps, &PipelineOptions::default(), &mut std::io::sink())
        .unwrap_or_else(|e| panic!("{file}: pipeline: {e}"));
    m.kernels.remove(0)
}

fn build(k: &Kernel) -> Artifacts {
    // The mainloop's fused paths: MXFP8 x MXFP8 GEMMs run per op by default (MXFP8 codes copied by
    // the dot, lowering/mlir/src/lower.rs `per_op_gemm`); with the codes through registers the
    // mainloop takes them, as it does wherever the per-op path refuses one.
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions {
            async_scaled_copies: false,
            ..LoweringOptions::default()
        },
        ptxas: PtxasMode::Auto,
    };
    compile(k, &opts).unwrap_or_else(|e| panic!("{}: {e}", k.name))
}

fn count(ptx: &str, needle: &str) -> usize {
    ptx.lines().filter(|l| l.trim_start().starts_with(needle)).count()
}

/// What every fused example must satisfy; `converted` is the number of operands staged in smem.
fn check_fused(file: &str, family: &str, converted: usize) -> Artifacts {
    let k = piped(file);
    let art = build(&k);
    let r = &art.report;
    println!("{}", r.to_text());
    assert!(r.scan.mma.contains_key(family), "{file}: {:?}", r.scan.mma);
    assert!(
        r.scan.tma_loads > 0 && r.scan.mbarrier_waits > 0,
        "{file}: {:?}",
        r.scan
    );
    // The report agrees with the pass: "dequant: fused (<the pass's how>)".
    let caps = registry::target("sm_90a").expect("sm_90a is registered");
    let pass_line = dequant_report(&k, caps)
        .into_iter()
        .next()
        .map(|(_, l)| l)
        .unwrap_or_else(|| panic!("{file}: the pass reports no strategy"));
    let want = pass_line.trim_start_matches("dequant: ");
    assert!(want.starts_with("fused ("), "{file}: {pass_line}");
    assert!(r.dequant.starts_with(want), "{file}: {} vs {want}", r.dequant);
    // PTX audit: every global store is a bf16 output element of the epilogue (one per
    // accumulator register, BN/2 = 64), nothing wider or more.
    let ptx = &art.ptx;
    let global_stores = count(ptx, "st.global");
    assert_eq!(
        global_stores,
        count(ptx, "st.global.b16"),
        "{file}: non-bf16 global stores"
    );
    assert_eq!(
        global_stores, 64,
        "{file}: {global_stores} global stores (expected the 64 outputs)"
    );
    assert_eq!(
        count(ptx, "st.shared.v4.b32"),
        converted,
        "{file}: staging stores"
    );
    let fenced = count(ptx, "fence.proxy.async");
    assert_eq!(
        fenced > 0,
        converted > 0,
        "{file}: proxy fence iff a staged operand"
    );
    match (&art.cubin, &r.ptxas_skipped) {
        (Some(c), _) => assert!(!c.is_empty() && r.ptxas.is_some(), "{file}"),
        (None, Some(why)) => println!("{file}: ptxas acceptance skipped: {why}"),
        (None, None) => panic!("{file}: no cubin and no reason"),
    }
    art
}

fn scale_slot(art: &Artifacts, param: &str) -> bool {
    art.lowered
        .abi
        .iter()
        .any(|a| matches!(a, AbiArg::Ptr { param: p, part: TensorPart::Scale } if p == param))
}

#[test]
fn mxfp8_promotes_every_32_wide_k_sub_block_on_raw_codes() {
    let art = check_fused(
        "gemm_mxfp8.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3",
        0,
    );
    assert!(
        scale_slot(&art, "a") && scale_slot(&art, "b"),
        "{:?}",
        art.lowered.abi
    );
    // BK = 128: four fresh k32 partials per K tile, each waited for and promoted.
    assert_eq!(count(&art.ptx, "wgmma.wait_group"), 4);
    assert!(
        art.report.dequant.contains("per 32-wide K sub-block"),
        "{}",
        art.report.dequant
    );
}

#[test]
fn mxfp4_bf16_converts_the_weights_in_shared_memory() {
    let art = check_fused(
        "gemm_mxfp4_bf16.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        1,
    );
    assert!(
        scale_slot(&art, "w") && !scale_slot(&art, "a"),
        "{:?}",
        art.lowered.abi
    );
    // Packed FP4 codes travel as bytes: half the K tile per row, unswizzled.
    let w_map = art.lowered.abi.iter().find_map(|a| match a {
        AbiArg::TensorMap { param, tma, .. } if param == "w" => Some(tma.clone()),
        _ => None,
    });
    let w_map = w_map.expect("w is TMA-loaded");
    assert_eq!(
        (w_map.elem.as_str(), w_map.box_dims.as_slice(), w_map.swizzle),
        ("u8", &[32u32, 128][..], 0)
    );
}

#[test]
fn mxfp4_fp8_converts_both_operands_to_bf16() {
    let art = check_fused(
        "gemm_mxfp4_fp8.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        2,
    );
    assert!(
        scale_slot(&art, "a") && scale_slot(&art, "w"),
        "{:?}",
        art.lowered.abi
    );
}

#[test]
fn nvfp4_folds_ue4m3_scales_and_applies_globals_after_the_loop() {
    let art = check_fused(
        "gemm_nvfp4.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        2,
    );
    assert!(
        scale_slot(&art, "a") && scale_slot(&art, "b"),
        "{:?}",
        art.lowered.abi
    );
    for g in ["ga", "gb"] {
        assert!(
            art.lowered
                .abi
                .iter()
                .any(|a| matches!(a, AbiArg::ScalarF32 { param } if param == g)),
            "{g}: {:?}",
            art.lowered.abi
        );
    }
    assert!(art.report.dequant.contains("globals"), "{}", art.report.dequant);
}

#[test]
fn explicit_dequant_reads_the_separate_scale_tensor() {
    let art = check_fused(
        "gemm_dequant_explicit.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        1,
    );
    // `s` is a plain pointer argument read by element; `q` is TMA-loaded packed.
    assert!(
        art.lowered
            .abi
            .iter()
            .any(|a| matches!(a, AbiArg::Ptr { param, part: TensorPart::Data } if param == "s")),
        "{:?}",
        art.lowered.abi
    );
}

#[test]
fn unpiped_ir_gets_the_sm90a_pipeline_in_the_build() {
    // Library users may hand in checked IR: the build runs the pipeline itself and reaches the
    // same mainloop as the piped IR.
    let m = checked("gemm_mxfp8.tsr");
    let unpiped = build(&m.kernels[0]);
    let piped_art = build(&piped("gemm_mxfp8.tsr"));
    assert_eq!(unpiped.ptx, piped_art.ptx);
    assert_eq!(unpiped.lowered.abi, piped_art.lowered.abi);
}

#[test]
fn deepseek_blockscale_is_unchanged_by_the_fused_paths() {
    let art = build(&piped("gemm_fp8_blockscale.tsr"));
    assert!(
        art.report.dequant.starts_with("fused (MMA on raw codes")
            && art.report.dequant.contains("f32 block scales"),
        "{}",
        art.report.dequant
    );
    assert_eq!(count(&art.ptx, "fence.proxy.async"), 0);
}

/// (example file, source edits, expected wgmma family).
type Variant = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// An example with its source edited (tile sizes, operand formats), checked and piped.
fn variant(file: &str, edits: &[(&str, &str)]) -> Kernel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dsl_examples")
        .join(file);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in edits {
        assert!(text.contains(from), "{file}: no `{from}` to edit");
        text = text.replace(from, to);
    }
    let (module, diags) = tessera_check::check_source(file, text.as_bytes());
    let mut m = module.unwrap_or_else(|| panic!("{file} variant does not check: {diags:?}"));
    let caps = registry::target("sm_90a").expect("sm_90a is registered");
    run_pipeline(&mut m, caps, &PipelineOptions::default(), &mut std::io::sink())
        .unwrap_or_else(|e| panic!("{file}: pipeline: {e}"));
    m.kernels.remove(0)
}

#[test]
fn fused_variants_build_and_pass_ptxas() {
    // (example, edits, expected wgmma family): e5m2 weights, 64B swizzle (BK = 64 fp8 and BK = 32
    // bf16 staging), BK = 256 (two 128B chunks per staged row), BN = 256 staging, one warpgroup.
    let cases: &[Variant] = &[
        (
            "gemm_mxfp8.tsr",
            &[("b: mx<f8e4m3>", "b: mx<f8e5m2>")],
            "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e5m2",
        ),
        (
            "gemm_mxfp8.tsr",
            &[
                ("BN = 128 in", "BN = 64 in"),
                ("BK = 128 in [64, 128]", "BK = 64 in [64, 128]"),
            ],
            "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3",
        ),
        (
            "gemm_nvfp4.tsr",
            &[("BK = 128 in [64, 128, 256]", "BK = 256 in [64, 128, 256]")],
            "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        ),
        (
            "gemm_mxfp4_bf16.tsr",
            &[
                ("BM = 128 in", "BM = 64 in"),
                ("BK = 64 in [32, 64, 128]", "BK = 32 in [32, 64, 128]"),
            ],
            "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        ),
        (
            "gemm_mxfp4_fp8.tsr",
            &[("BN = 128 in [64, 128, 256]", "BN = 256 in [64, 128, 256]")],
            "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16",
        ),
    ];
    for (file, edits, family) in cases {
        let k = variant(file, edits);
        let art = build(&k);
        let r = &art.report;
        assert!(
            r.scan.mma.contains_key(*family),
            "{file} {edits:?}: {:?}",
            r.scan.mma
        );
        assert!(
            r.dequant.starts_with("fused ("),
            "{file} {edits:?}: {}",
            r.dequant
        );
        if let Some(p) = &r.ptxas {
            assert_eq!(p.spill_stores_bytes, 0, "{file} {edits:?} spills");
        }
        match (&art.cubin, &r.ptxas_skipped) {
            (Some(c), _) => assert!(!c.is_empty(), "{file} {edits:?}"),
            (None, Some(why)) => println!("{file}: ptxas acceptance skipped: {why}"),
            (None, None) => panic!("{file} {edits:?}: no cubin and no reason"),
        }
    }
}
