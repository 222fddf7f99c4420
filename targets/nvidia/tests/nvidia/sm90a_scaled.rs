//! Scaled GEMMs on sm_90a (MX, NVFP4, explicit dequant, DeepSeek-style f32 block scales): the
//! examples through the front end and the sm_90a pass pipeline, lowered per op with the defaults.
//! Checked here: the planned wgmma family is in the PTX, ptxas accepts it for sm_90a, the report's
//! dequant line says how the scales are applied, the ABI carries the scale buffers and NV globals,
//! and unpiped IR reaches the same kernel.

use std::path::Path;
use tessera_bundle::{AbiArg, TensorPart};
use tessera_ir::{Kernel, Module};
use tessera_passes::{PipelineOptions, registry, run_pipeline};
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
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions::default(),
        ptxas: PtxasMode::Auto,
    };
    compile(k, &opts).unwrap_or_else(|e| panic!("{}: {e}", k.name))
}

/// What every scaled example must satisfy: its family in the PTX, the report's dequant line
/// starting with `dequant`, ptxas's acceptance.
fn check_scaled(file: &str, family: &str, dequant: &str) -> Artifacts {
    let k = piped(file);
    let art = build(&k);
    let r = &art.report;
    println!("{}", r.to_text());
    assert_eq!(art.lowered.mma.family, family, "{file}");
    assert!(r.scan.mma.contains_key(family), "{file}: {:?}", r.scan.mma);
    assert!(r.dequant.starts_with(dequant), "{file}: {}", r.dequant);
    match (&art.cubin, &r.ptxas_skipped) {
        (Some(c), _) => assert!(!c.is_empty() && r.ptxas.is_some(), "{file}"),
        (None, Some(why)) => println!("{file}: ptxas acceptance skipped: {why}"),
        (None, None) => panic!("{file}: no cubin and no reason"),
    }
    art
}

/// Per op, how scaled code operands are applied and how packed FP4 is staged.
const GROUPED: &str = "scaled codes on wgmma, block scales applied to each K group's f32 partial";
const PACKED: &str = "packed FP4 operands converted as they are staged from their bytes";

fn scale_slot(art: &Artifacts, param: &str) -> bool {
    art.lowered
        .abi
        .iter()
        .any(|a| matches!(a, AbiArg::Ptr { param: p, part: TensorPart::Scale } if p == param))
}

#[test]
fn mxfp8_promotes_every_32_wide_k_group_on_raw_codes() {
    let art = check_scaled(
        "gemm_mxfp8.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3",
        GROUPED,
    );
    assert!(
        scale_slot(&art, "a") && scale_slot(&art, "b"),
        "{:?}",
        art.lowered.abi
    );
}

#[test]
fn mxfp4_bf16_converts_the_weights_as_they_are_staged() {
    let art = check_scaled(
        "gemm_mxfp4_bf16.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        PACKED,
    );
    assert!(
        scale_slot(&art, "w") && !scale_slot(&art, "a"),
        "{:?}",
        art.lowered.abi
    );
    // Packed operands are copied by cp.async from their bytes: no tensor map.
    assert!(
        !art.lowered
            .abi
            .iter()
            .any(|a| matches!(a, AbiArg::TensorMap { .. })),
        "{:?}",
        art.lowered.abi
    );
}

#[test]
fn mxfp4_fp8_runs_on_e4m3_codes_with_the_fp4_operand_converted_as_staged() {
    let art = check_scaled(
        "gemm_mxfp4_fp8.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3",
        GROUPED,
    );
    assert!(art.report.dequant.contains(PACKED), "{}", art.report.dequant);
    assert!(
        scale_slot(&art, "a") && scale_slot(&art, "w"),
        "{:?}",
        art.lowered.abi
    );
}

#[test]
fn nvfp4_stages_code_times_ue4m3_scale_and_passes_its_globals() {
    let art = check_scaled(
        "gemm_nvfp4.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        PACKED,
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
}

#[test]
fn explicit_dequant_reads_the_separate_scale_tensor() {
    let art = check_scaled(
        "gemm_dequant_explicit.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
        PACKED,
    );
    // `s` is a plain pointer argument read where the scale tile's load would be.
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
    // same kernel as the piped IR.
    let m = checked("gemm_mxfp8.tsr");
    let unpiped = build(&m.kernels[0]);
    let piped_art = build(&piped("gemm_mxfp8.tsr"));
    assert_eq!(unpiped.ptx, piped_art.ptx);
    assert_eq!(unpiped.lowered.abi, piped_art.lowered.abi);
}

#[test]
fn deepseek_blockscale_reads_its_f32_scales_into_registers() {
    let art = check_scaled(
        "gemm_fp8_blockscale.tsr",
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3",
        GROUPED,
    );
    assert!(
        art.report
            .dequant
            .contains("f32 block scales read by each thread straight into registers"),
        "{}",
        art.report.dequant
    );
    assert!(
        scale_slot(&art, "a") && scale_slot(&art, "b"),
        "{:?}",
        art.lowered.abi
    );
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
fn scaled_variants_build_and_pass_ptxas() {
    // (example, edits, expected wgmma family): e5m2 weights, 64-byte K rows (BK = 64 fp8 and
    // BK = 32 bf16 staging), BK = 256 (two 128-byte chunks per staged row), BN = 256, one
    // warpgroup.
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
            "wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3",
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
        assert_eq!(art.lowered.mma.family, *family, "{file} {edits:?}");
        match (&art.cubin, &r.ptxas_skipped) {
            (Some(c), _) => assert!(!c.is_empty(), "{file} {edits:?}"),
            (None, Some(why)) => println!("{file}: ptxas acceptance skipped: {why}"),
            (None, None) => panic!("{file} {edits:?}: no cubin and no reason"),
        }
    }
}
