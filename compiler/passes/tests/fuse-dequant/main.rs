//! Tests of `fuse-dequant`: the dequantized tile disappears into a scaled dot where the IR can say
//! so, every dot with low-precision operands gets a strategy recorded in the IR and reported,
//! and a dequantized tile that is stored is reported as emulated, never silently.

#[path = "../common/mod.rs"]
mod common;

use common::{Form, count_ops, dequant_gemm, mxfp8_gemm, run_pass};
use tessera_ir::{DType, OpKind, samples};
use tessera_passes::{Changed, TargetCaps, dequant_report};

fn report(k: &tessera_ir::Kernel, target: &str) -> Vec<String> {
    dequant_report(k, TargetCaps::lookup(target).unwrap())
        .into_iter()
        .map(|(_, l)| l)
        .collect()
}

#[test]
fn scaled_dequant_folds_into_the_dot() {
    let mut k = dequant_gemm(Form::ScaledTile);
    assert_eq!(count_ops(&k, "dequant"), 1);
    assert_eq!(run_pass("fuse-dequant", &mut k, "sm_90a"), Changed::Yes);
    assert_eq!(count_ops(&k, "dequant"), 0, "no dequantized tile exists any more");
    // The dot's rhs is now the transposed *scaled* fp4 tile.
    let mut rhs_ty = None;
    fn find(b: &tessera_ir::Block, k: &tessera_ir::Kernel, out: &mut Option<tessera_ir::TileType>) {
        for op in &b.ops {
            if let OpKind::Dot { b: rhs, .. } = op.kind {
                *out = k.ty(rhs).as_tile().cloned();
            }
            for inner in op.kind.blocks() {
                find(inner, k, out);
            }
        }
    }
    find(&k.body, &k, &mut rhs_ty);
    let rhs_ty = rhs_ty.unwrap();
    assert_eq!(
        (rhs_ty.dtype, rhs_ty.shape.as_slice()),
        (DType::F4E2M1, &[64u32, 32][..])
    );
    assert_eq!(
        rhs_ty.scale.unwrap().block,
        [32, 1],
        "K-blocked along the dot's K axis (rhs axis 0)"
    );
    assert_eq!(
        report(&k, "sm_90a"),
        ["dequant: fused (codes converted to bf16 in registers with the scale folded in, then MMA)"]
    );
    assert_eq!(
        k.attr("fuse.dot@500:520"),
        Some("codes converted to bf16 in registers with the scale folded in, then MMA")
    );
    assert_eq!(run_pass("fuse-dequant", &mut k, "sm_90a"), Changed::No);
}

#[test]
fn explicit_scale_dequant_stays_in_registers() {
    let mut k = dequant_gemm(Form::ExplicitScale);
    run_pass("fuse-dequant", &mut k, "sm_90a");
    assert_eq!(
        count_ops(&k, "dequant"),
        1,
        "codes + scale tile have no scaled-tile form"
    );
    assert_eq!(report(&k, "sm_90a").len(), 1);
    assert!(report(&k, "sm_90a")[0].starts_with("dequant: fused (codes converted to bf16"));
}

#[test]
fn stored_dequant_is_a_visible_emulation() {
    let mut k = dequant_gemm(Form::ScaledTileStored);
    run_pass("fuse-dequant", &mut k, "sm_90a");
    assert_eq!(count_ops(&k, "dequant"), 1, "the stored tile must exist");
    let r = report(&k, "sm_90a");
    assert_eq!(r.len(), 1);
    assert!(
        r[0].starts_with("dequant: emulated (the dequantized tile is also stored"),
        "{r:?}"
    );
}

#[test]
fn strategy_per_format_and_target() {
    let mut k = mxfp8_gemm();
    run_pass("fuse-dequant", &mut k, "sm_90a");
    assert_eq!(
        report(&k, "sm_90a"),
        ["dequant: fused (MMA on raw codes, scales applied to the f32 accumulator per K-block of 32)"]
    );
    let mut k = mxfp8_gemm();
    run_pass("fuse-dequant", &mut k, "sm_100a");
    assert_eq!(
        report(&k, "sm_100a"),
        ["dequant: fused (native block-scaled MMA (tcgen05.mma kind::mxf8f6f4 / kind::mxf4 block_scale))"]
    );
    // DeepSeek 1x128 / 128x128: accumulator promotion per 128-wide K-block.
    let mut a = samples::tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(tessera_ir::ScaleSpec {
        scale_dtype: DType::F32,
        block: vec![1, 128],
        global: false,
        layout: tessera_ir::ScaleLayout::Linear,
    });
    let mut w = samples::tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(tessera_ir::ScaleSpec {
        scale_dtype: DType::F32,
        block: vec![128, 128],
        global: false,
        layout: tessera_ir::ScaleLayout::Linear,
    });
    let k = samples::gemm(a, w, DType::BF16, (128, 128, 128), 0);
    assert_eq!(
        report(&k, "sm_90a"),
        ["dequant: fused (MMA on raw codes, scales applied to the f32 accumulator per K-block of 128)"]
    );
    // NVFP4 x NVFP4 on Hopper: convert in registers.
    let mut a = samples::tensor(DType::F4E2M1, &["M", "K"]);
    a.scale = Some(samples::nv_spec(1));
    a.packed_axis = Some(1);
    let k = samples::gemm(a.clone(), a, DType::BF16, (32, 32, 64), 0);
    assert!(report(&k, "sm_90a")[0].contains("converted to bf16"));
    // Plain bf16: nothing to report.
    let k = samples::gemm(
        samples::tensor(DType::BF16, &["M", "K"]),
        samples::tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        (32, 32, 32),
        0,
    );
    assert!(report(&k, "sm_90a").is_empty());
}
