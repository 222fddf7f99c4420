//! The sm_90a build end to end on hand-built GEMM IR (piped here by `compile`): PTX from inkwell has
//! the wgmma family the lowering planned, with the per-op dot's TMA ring (TMA copies, mbarrier
//! waits); ptxas (when present) accepts it for sm_90a; the normalized PTX is snapshot-tested; the
//! bundle round-trips through `tessera_bundle`.

#[path = "../../../../lowering/mlir/tests/fixtures/gemm.rs"]
mod gemm;

use gemm::{Epilogue, Spec};
use tessera_bundle::{AbiArg, Bundle};
use tessera_ir::DType;
use tessera_target_nvidia::{
    Artifacts, BuildOptions, LoweringOptions, PtxasMode, SM90A, Source, compile, make_bundle,
};

/// Build with the default options.
fn build(k: &tessera_ir::Kernel, ptxas: PtxasMode) -> Artifacts {
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions::default(),
        ptxas,
    };
    compile(k, &opts).unwrap_or_else(|e| panic!("build of {} failed: {e}", k.name))
}

/// Assemble with ptxas when this machine has one; say so when it does not (CI has it).
fn check_ptxas(art: &Artifacts) {
    println!("{}", art.report.to_text());
    match (&art.cubin, &art.report.ptxas_skipped) {
        (Some(c), _) => {
            assert!(!c.is_empty());
            let info = art.report.ptxas.as_ref().map(|p| p.registers).unwrap_or(0);
            assert!(info > 0, "ptxas -v reported no registers");
        }
        (None, Some(why)) => println!("ptxas acceptance skipped: {why}"),
        (None, None) => panic!("no cubin and no reason"),
    }
}

#[test]
fn fp8_e4m3_gemm_builds_with_wgmma_tma_and_mbarriers() {
    let art = build(&gemm::fp8_gemm(), PtxasMode::Auto);
    let fam = art.lowered.mma.family.clone();
    assert!(fam.ends_with("k32.f32.e4m3.e4m3"), "{fam}");
    assert!(
        art.report.scan.mma.get(&fam).copied().unwrap_or(0) >= 4,
        "{:?}",
        art.report.scan
    );
    assert!(art.report.scan.tma_loads >= 2);
    assert!(art.report.scan.mbarrier_waits >= 1);
    assert!(art.report.scan.mbarrier_inits >= 1);
    assert!(art.ptx.contains(".target sm_90a"));
    assert!(art.report.to_text().contains(&format!("mma: {fam}")));
    check_ptxas(&art);
}

#[test]
fn bf16_gemm_builds_with_k16_wgmma() {
    let art = build(&gemm::bf16_gemm(), PtxasMode::Auto);
    let fam = &art.lowered.mma.family;
    assert!(fam.ends_with("k16.f32.bf16.bf16"), "{fam}");
    assert!(art.report.scan.mma.contains_key(fam), "{:?}", art.report.scan.mma);
    check_ptxas(&art);
}

#[test]
fn row_col_scaled_fp8_gemm_with_wide_n_builds() {
    let k = gemm::gemm(&Spec {
        name: "gemm_rc",
        ab: DType::F8E4M3,
        out: DType::BF16,
        bm: 128,
        bn: 256,
        bk: 128,
        epilogue: Epilogue::RowColScales,
    });
    let art = build(&k, PtxasMode::Auto);
    let fam = &art.lowered.mma.family;
    assert!(fam.ends_with("k32.f32.e4m3.e4m3"), "{fam}");
    assert!(art.report.scan.mma.contains_key(fam), "{:?}", art.report.scan.mma);
    check_ptxas(&art);
}

/// PTX with the noise that changes across LLVM patch releases removed: comments and blank lines.
fn normalize(ptx: &str) -> String {
    ptx.lines()
        .filter(|l| !l.trim_start().starts_with("//") && !l.trim().is_empty())
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ptx_snapshot_small_fp8_gemm() {
    let k = gemm::gemm(&Spec {
        name: "gemm_small",
        ab: DType::F8E4M3,
        out: DType::BF16,
        bm: 64,
        bn: 16,
        bk: 128,
        epilogue: Epilogue::TensorScales,
    });
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions {
            stages: Some(2),
            ..LoweringOptions::default()
        },
        ptxas: PtxasMode::Off,
    };
    let art = compile(&k, &opts).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!(normalize(&art.ptx));
}

#[test]
fn bundle_round_trips_with_tensor_maps_for_the_operands() {
    let k = gemm::fp8_gemm();
    let art = build(&k, PtxasMode::Off);
    let src = b"kernel gemm_fp8(...) {}";
    let b = make_bundle(
        &k,
        &SM90A,
        &art,
        &Source {
            file_name: "gemm.tsr",
            bytes: src,
        },
        "kernel.tir text".into(),
    );
    let dir = std::env::temp_dir().join(format!("tessera-bundle-test-{}", std::process::id()));
    b.write(&dir).unwrap_or_else(|e| panic!("{e}"));
    let back = Bundle::read(&dir).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(back.meta.entry, "gemm_fp8");
    assert_eq!(back.meta.block, art.lowered.block);
    let kinds: Vec<&str> = back
        .meta
        .abi
        .iter()
        .map(|a| match a {
            AbiArg::TensorMap { .. } => "tmap",
            AbiArg::Ptr { .. } => "ptr",
            AbiArg::ScalarF32 { .. } => "f32",
            AbiArg::SymI32 { .. } => "sym",
            _ => "other",
        })
        .collect();
    // The per-op ABI: every tensor by pointer, the scalars, the symbolic dims, then the dot's
    // ring maps (one per operand, null where a launch's tensor cannot be described by TMA).
    assert_eq!(
        kinds,
        [
            "ptr", "ptr", "ptr", "f32", "f32", "sym", "sym", "sym", "tmap", "tmap"
        ]
    );
    for slot in &back.meta.abi[8..] {
        match slot {
            AbiArg::TensorMap { tma, or_null, .. } => {
                assert!(*or_null, "{slot:?}");
                assert_eq!((tma.box_dims[0], tma.swizzle), (128, 128), "{slot:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(back.meta.abi, art.lowered.abi);
    assert!(back.report_txt.unwrap_or_default().contains("wgmma.mma_async"));
}

/// Tile shapes and operand types: BM from 64 to 256, N from 8 to 256, 32/64/128-byte K rows and
/// several 128-byte K chunks, e5m2 and f16 operands, an f32 output.
#[test]
fn gemm_variants_build_and_pass_ptxas() {
    let cases = [
        (DType::F8E4M3, DType::BF16, 64, 8, 128),
        (DType::F8E4M3, DType::BF16, 192, 64, 256),
        (DType::F8E5M2, DType::F32, 256, 128, 64),
        (DType::F8E4M3, DType::F16, 128, 256, 32),
        (DType::BF16, DType::BF16, 64, 256, 32),
        (DType::BF16, DType::F32, 128, 96, 128),
        (DType::F16, DType::F16, 128, 128, 64),
    ];
    for (ab, out, bm, bn, bk) in cases {
        let k = gemm::gemm(&Spec {
            name: "variant",
            ab,
            out,
            bm,
            bn,
            bk,
            epilogue: Epilogue::TensorScales,
        });
        let art = build(&k, PtxasMode::Auto);
        let fam = &art.lowered.mma.family;
        assert!(
            art.report.scan.mma.contains_key(fam),
            "{ab} {bm}x{bn}x{bk}: {:?}",
            art.report.scan.mma
        );
        check_ptxas(&art);
    }
}

/// Every epilogue op reaches PTX that ptxas accepts (an unselectable intrinsic would abort LLVM).
#[test]
fn every_epilogue_op_selects_and_assembles() {
    for out in [DType::F8E4M3, DType::F8E5M2, DType::F16, DType::BF16, DType::F32] {
        let k = gemm::gemm(&Spec {
            name: "all_ops",
            ab: DType::BF16,
            out,
            bm: 64,
            bn: 32,
            bk: 64,
            epilogue: Epilogue::AllOps,
        });
        let art = build(&k, PtxasMode::Auto);
        check_ptxas(&art);
    }
}
