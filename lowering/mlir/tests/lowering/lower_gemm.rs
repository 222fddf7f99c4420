//! The sm_90a lowering of hand-built GEMM IR: the generated MLIR verifies, converts and translates
//! to LLVM IR; its structure (TMA ring, mbarriers, wgmma, masked epilogue) is snapshot-tested; and
//! shapes the mainloop does not cover are `Unsupported` errors that name the op's span.

#[path = "../fixtures/gemm.rs"]
mod gemm;

use gemm::{Epilogue, Spec};
use tessera_ir::{DType, Span};
use tessera_lowering_mlir::{LoweringError, LoweringOptions, lower_sm90a, mlir_to_llvm_ir};

fn lower(k: &tessera_ir::Kernel) -> tessera_lowering_mlir::LoweredKernel {
    match lower_sm90a(k, &LoweringOptions::default()) {
        Ok(l) => l,
        Err(e) => panic!("lowering failed: {e}"),
    }
}

#[test]
fn fp8_gemm_lowers_to_llvm_ir_with_tma_mbarrier_and_wgmma() {
    let l = lower(&gemm::fp8_gemm());
    let ll = match mlir_to_llvm_ir(&l.mlir) {
        Ok(ll) => ll,
        Err(e) => panic!("{e}\n--- MLIR ---\n{}", l.mlir),
    };
    assert!(ll.contains("define ptx_kernel void @gemm_fp8("), "{ll}");
    assert!(ll.contains("wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3"));
    assert!(ll.contains("llvm.nvvm.cp.async.bulk.tensor.g2s.tile.2d"));
    assert!(ll.contains("mbarrier.try_wait.parity"));
    assert_eq!(
        l.mma.family,
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3"
    );
    // 2 warpgroups x 4 k32 steps per 128-wide K tile.
    assert_eq!(l.mma.per_k_tile, 8);
    assert_eq!(l.block, [256, 1, 1]);
    // 4 stages x (128 + 128) rows x 128 B + 1024 alignment slack.
    assert_eq!(l.dynamic_shared_bytes, 4 * 256 * 128 + 1024);
}

#[test]
fn bf16_gemm_lowers_with_k16_wgmma() {
    let l = lower(&gemm::bf16_gemm());
    let ll = mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|e| panic!("{e}"));
    assert!(ll.contains("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16"));
    assert_eq!(l.mma.per_k_tile, 2 * 4);
}

#[test]
fn row_and_column_scales_are_loaded_in_the_epilogue() {
    let k = gemm::gemm(&Spec {
        name: "gemm_rc",
        ab: DType::F8E4M3,
        out: DType::F32,
        bm: 64,
        bn: 256,
        bk: 256,
        epilogue: Epilogue::RowColScales,
    });
    let l = lower(&k);
    assert_eq!(l.block, [128, 1, 1]);
    // Two K chunks of 128 bytes per operand: four TMA boxes per stage.
    assert_eq!(
        l.mlir
            .matches("nvvm.cp.async.bulk.tensor.shared.cluster.global")
            .count(),
        2 * 4
    );
    mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn generated_mlir_snapshot() {
    let k = gemm::gemm(&Spec {
        name: "gemm_small",
        ab: DType::F8E4M3,
        out: DType::BF16,
        bm: 64,
        bn: 16,
        bk: 128,
        epilogue: Epilogue::TensorScales,
    });
    let l = lower_sm90a(
        &k,
        &LoweringOptions {
            stages: Some(2),
            ..LoweringOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!(l.mlir);
}

#[test]
fn odd_k_tile_is_unsupported_with_the_loop_span() {
    let k = gemm::gemm(&Spec {
        name: "g",
        ab: DType::F8E4M3,
        out: DType::BF16,
        bm: 128,
        bn: 128,
        bk: 96,
        epilogue: Epilogue::Plain,
    });
    match lower_sm90a(&k, &LoweringOptions::default()) {
        Err(LoweringError::Unsupported { what, span }) => {
            assert!(what.contains("BK = 96"), "{what}");
            assert_eq!(span, Span::new(190, 191));
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn a_64_byte_k_tile_uses_the_64b_swizzle() {
    let k = gemm::gemm(&Spec {
        name: "g64",
        ab: DType::F8E4M3,
        out: DType::BF16,
        bm: 128,
        bn: 128,
        bk: 64,
        epilogue: Epilogue::TensorScales,
    });
    let l = lower(&k);
    // SBO = 8 rows x 64 B = 512 B (32 in 16-byte units), swizzle mode 2 (64B), LBO = 1.
    let high: u64 = (2 << 62) | (32 << 32) | (1 << 16);
    assert!(
        l.mlir.contains(&format!("arith.constant {} : i64", high as i64)),
        "{}",
        l.mlir
    );
    match &l.abi[0] {
        tessera_bundle::AbiArg::TensorMap { tma, .. } => assert_eq!((tma.box_dims[0], tma.swizzle), (64, 64)),
        other => panic!("{other:?}"),
    }
    mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn one_stage_is_rejected_and_oversized_rings_shrink() {
    let k = gemm::fp8_gemm();
    assert!(matches!(
        lower_sm90a(
            &k,
            &LoweringOptions {
                stages: Some(1),
                ..LoweringOptions::default()
            }
        ),
        Err(LoweringError::Unsupported { .. })
    ));
    let l = lower_sm90a(
        &k,
        &LoweringOptions {
            stages: Some(12),
            ..LoweringOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // 32 KiB per stage: 7 stages fit in 227 KiB minus the alignment slack.
    assert_eq!(l.mma.stages, 7);
    assert!(l.mma.note.is_some());
}

#[test]
fn mlir_errors_are_captured_not_printed() {
    match mlir_to_llvm_ir("module { llvm.func @f() { %x = arith.addi %y, %y : i32 llvm.return } }") {
        Err(LoweringError::Mlir { stage, diagnostics }) => {
            assert_eq!(stage, "parse");
            assert!(
                diagnostics
                    .iter()
                    .any(|d| d.contains("undefined") || d.contains("use of")),
                "{diagnostics:?}"
            );
        }
        other => panic!("expected an MLIR parse error, got {other:?}"),
    }
}

#[test]
fn fp8_partials_are_promoted_every_k_tile_unless_fast_accum() {
    let k = gemm::fp8_gemm();
    let promoted = lower(&k);
    // The tile's first wgmma starts a fresh partial; one fma per accumulator register adds it.
    assert_eq!(promoted.mlir.matches("wgmma_scale_out<zero>").count(), 1);
    assert_eq!(promoted.mlir.matches("llvm.intr.fma").count(), 128 / 2);
    assert!(
        promoted.mma.dequant.contains("promoted"),
        "{}",
        promoted.mma.dequant
    );
    let fast = lower_sm90a(
        &k,
        &LoweringOptions {
            fp8_fast_accum: true,
            ..LoweringOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fast.mlir.matches("wgmma_scale_out<zero>").count(), 0);
    assert_eq!(fast.mlir.matches("llvm.intr.fma").count(), 0);
    // bf16 accumulates in full precision: no promotion.
    assert_eq!(lower(&gemm::bf16_gemm()).mlir.matches("llvm.intr.fma").count(), 0);
}
