//! The sm_90a lowering of hand-built GEMM IR (piped through the sm_90a passes, as `tessera build`
//! does): the generated MLIR verifies, converts and translates to LLVM IR with the per-op dot's
//! structure (TMA-filled ring, mbarriers, wgmma); K tiles of any multiple of the wgmma K build;
//! fp8 partials are promoted unless `fp8_fast_accum`; tile IR without layouts is refused with a
//! reason; MLIR's own errors are captured.

#[path = "../fixtures/gemm.rs"]
mod gemm;

use gemm::{Epilogue, Spec};
use tessera_bundle::AbiArg;
use tessera_ir::{DType, Kernel};
use tessera_lowering_mlir::{LoweredKernel, LoweringError, LoweringOptions, lower_sm90a, mlir_to_llvm_ir};

/// `k` after the sm_90a pass pipeline (the distributed level `lower_sm90a` takes).
fn piped(k: &Kernel) -> Kernel {
    let mut m = tessera_ir::Module {
        source_name: k.name.clone(),
        kernels: vec![k.clone()],
    };
    let caps = tessera_passes::TargetCaps::lookup("sm_90a").unwrap();
    tessera_passes::run_pipeline(&mut m, caps, &Default::default(), &mut std::io::sink())
        .unwrap_or_else(|e| panic!("{}: {e}", k.name));
    m.kernels.pop().unwrap()
}

fn lower_with(k: &Kernel, opts: &LoweringOptions) -> LoweredKernel {
    lower_sm90a(&piped(k), opts).unwrap_or_else(|e| panic!("lowering failed: {e}"))
}

fn lower(k: &Kernel) -> LoweredKernel {
    lower_with(k, &LoweringOptions::default())
}

fn spec(name: &'static str, ab: DType, bk: u32, epilogue: Epilogue) -> Spec {
    Spec {
        name,
        ab,
        out: DType::BF16,
        bm: 128,
        bn: 128,
        bk,
        epilogue,
    }
}

#[test]
fn fp8_gemm_lowers_to_llvm_ir_with_a_tma_ring_mbarriers_and_wgmma() {
    let l = lower(&gemm::fp8_gemm());
    let ll = match mlir_to_llvm_ir(&l.mlir) {
        Ok(ll) => ll,
        Err(e) => panic!("{e}\n--- MLIR ---\n{}", l.mlir),
    };
    assert!(ll.contains("define ptx_kernel void @gemm_fp8("), "{ll}");
    assert!(
        l.mma.family.starts_with("wgmma.mma_async.sync.aligned.m64n"),
        "{}",
        l.mma.family
    );
    assert!(l.mma.family.ends_with(".f32.e4m3.e4m3"), "{}", l.mma.family);
    assert!(ll.contains("cp.async.bulk.tensor"), "no TMA copy in the LLVM IR");
    assert!(ll.contains("mbarrier"), "no mbarrier in the LLVM IR");
    assert!(l.mma.operand_a.contains("TMA ring of"), "{}", l.mma.operand_a);
    assert_eq!(l.index_bits, 64);
}

#[test]
fn bf16_gemm_lowers_with_k16_wgmma() {
    let l = lower(&gemm::bf16_gemm());
    let ll = mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.mma.family.ends_with("k16.f32.bf16.bf16"), "{}", l.mma.family);
    assert!(ll.contains("wgmma.mma_async"), "no wgmma in the LLVM IR");
}

#[test]
fn a_k_tile_of_three_wgmma_steps_builds() {
    // 96 fp8 elements: three k32 wgmma steps per K tile, 96-byte rows that no swizzle width
    // divides (the per-op dot stages them from registers rather than through a ring).
    let l = lower(&gemm::gemm(&spec("g96", DType::F8E4M3, 96, Epilogue::Plain)));
    assert!(l.mma.family.contains("k32.f32.e4m3.e4m3"), "{}", l.mma.family);
    mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_64_byte_k_tile_gets_a_64_byte_swizzled_tensor_map() {
    let l = lower(&gemm::gemm(&spec(
        "g64",
        DType::F8E4M3,
        64,
        Epilogue::TensorScales,
    )));
    // The dot's rings are filled by TMA: one map per operand, appended after the ABI's other
    // slots, 64 bytes (64 fp8 elements) wide with the matching swizzle, null where the launch's
    // tensors cannot be described (the ring falls back to cp.async then).
    let maps: Vec<_> = l
        .abi
        .iter()
        .filter_map(|s| match s {
            AbiArg::TensorMap { tma, or_null, .. } => Some((tma.box_dims[0], tma.swizzle, *or_null)),
            _ => None,
        })
        .collect();
    assert_eq!(maps, vec![(64, 64, true), (64, 64, true)], "{:?}", l.abi);
    assert!(
        l.abi.iter().rposition(|s| !matches!(s, AbiArg::TensorMap { .. }))
            < l.abi.iter().position(|s| matches!(s, AbiArg::TensorMap { .. })),
        "{:?}",
        l.abi
    );
    mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_epilogue_of_the_fixture_lowers() {
    for (name, e) in [
        ("plain", Epilogue::Plain),
        ("tensor", Epilogue::TensorScales),
        ("rowcol", Epilogue::RowColScales),
        ("allops", Epilogue::AllOps),
    ] {
        let l = lower(&gemm::gemm(&Spec {
            name,
            ab: DType::F8E4M3,
            out: DType::F32,
            bm: 64,
            bn: 256,
            bk: 128,
            epilogue: e,
        }));
        mlir_to_llvm_ir(&l.mlir).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
}

#[test]
fn fp8_partials_are_promoted_every_k_tile_unless_fast_accum() {
    // Each K tile's chain starts a fresh partial (scale-d 0) that is added to the f32 accumulator
    // in registers; with fast accumulation the chain accumulates in place across the loop.
    let fresh = |l: &LoweredKernel| l.mlir.matches("D[<f32>, <zero>]").count();
    let k = gemm::fp8_gemm();
    assert!(fresh(&lower(&k)) > 0);
    let fast = lower_with(
        &k,
        &LoweringOptions {
            fp8_fast_accum: true,
            ..LoweringOptions::default()
        },
    );
    assert_eq!(fresh(&fast), 0, "fast accumulation restarts a chain");
    // bf16 accumulates in full precision: no promotion.
    assert_eq!(fresh(&lower(&gemm::bf16_gemm())), 0);
}

#[test]
fn tile_ir_without_layouts_is_refused_with_the_reason() {
    match lower_sm90a(&gemm::fp8_gemm(), &LoweringOptions::default()) {
        Err(LoweringError::Unsupported { what, .. }) => {
            assert!(what.contains("run the sm_90a pass pipeline"), "{what}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
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
