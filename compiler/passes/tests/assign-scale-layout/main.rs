//! Tests of `assign-scale-layout`: each target's layout lands on every scale contract (params,
//! tiles), padding is recorded in the IR, non-native contracts keep a linear buffer, and a rerun
//! is a no-op.

#[path = "../common/mod.rs"]
mod common;

use common::{Form, dequant_gemm, layouts, mxfp8_gemm, run_pass};
use tessera_ir::{DType, ScaleLayout, ScaleSpec, samples};
use tessera_passes::Changed;

#[test]
fn each_target_gets_its_instructions_layout() {
    for (target, want) in [
        ("sm_90a", ScaleLayout::HopperRegister),
        ("sm_100a", ScaleLayout::Nv128x4),
        ("sm_120a", ScaleLayout::Nv128x4),
        ("gfx950", ScaleLayout::AmdLane16x16x128),
    ] {
        let mut k = mxfp8_gemm();
        assert_eq!(run_pass("assign-scale-layout", &mut k, target), Changed::Yes);
        let ls = layouts(&k);
        assert!(ls.len() >= 4, "params and tiles carry scales: {ls:?}");
        assert!(ls.iter().all(|l| *l == want), "{target}: {ls:?}");
        assert_eq!(
            run_pass("assign-scale-layout", &mut k, target),
            Changed::No,
            "{target}: rerun is a no-op"
        );
    }
}

#[test]
fn padding_is_explicit_in_the_printed_ir() {
    let mut k = mxfp8_gemm();
    run_pass("assign-scale-layout", &mut k, "sm_100a");
    assert_eq!(
        k.attr("scale_pad.a"),
        Some("nv128x4: mn to 128, scale-k to 4, pad scale = neutral 1.0 = 0x7f, pad data = zero")
    );
    assert!(k.attr("scale_pad.b").is_some());
    let text = tessera_ir::print_kernel(&k);
    assert!(text.contains("scale_pad.a") && text.contains("nv128x4"), "{text}");
    // The record round-trips through the text form.
    let m = tessera_ir::Module {
        source_name: "t.tsr".into(),
        kernels: vec![k.clone()],
    };
    let back = tessera_ir::parse_module(&tessera_ir::print_module(&m)).unwrap();
    assert_eq!(back.kernels[0], k);

    // Linear buffers (Hopper) need no padding record; a retarget removes the old one.
    run_pass("assign-scale-layout", &mut k, "sm_90a");
    assert_eq!(k.attr("scale_pad.a"), None);
}

#[test]
fn contracts_without_a_native_mma_stay_linear() {
    // DeepSeek-style f32 128x128 block scales: no target multiplies them in the MMA.
    let mut a = samples::tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(ScaleSpec {
        scale_dtype: DType::F32,
        block: vec![1, 128],
        global: false,
        layout: ScaleLayout::Linear,
    });
    let mut w = samples::tensor(DType::F8E4M3, &["N", "K"]);
    w.scale = Some(ScaleSpec {
        scale_dtype: DType::F32,
        block: vec![128, 128],
        global: false,
        layout: ScaleLayout::Linear,
    });
    let mut k = samples::gemm(a, w, DType::BF16, (128, 128, 128), 0);
    run_pass("assign-scale-layout", &mut k, "sm_100a");
    assert!(layouts(&k).iter().all(|l| *l == ScaleLayout::HopperRegister));
    assert_eq!(k.attr("scale_pad.a"), None);

    // NVFP4 on gfx950 (no native nvf4 MFMA): applied in registers.
    let mut a = samples::tensor(DType::F4E2M1, &["M", "K"]);
    a.scale = Some(samples::nv_spec(1));
    a.packed_axis = Some(1);
    let mut w = samples::tensor(DType::F4E2M1, &["N", "K"]);
    w.scale = Some(samples::nv_spec(1));
    w.packed_axis = Some(1);
    let mut k = samples::gemm(a.clone(), w.clone(), DType::BF16, (32, 32, 64), 0);
    run_pass("assign-scale-layout", &mut k, "gfx950");
    assert!(layouts(&k).iter().all(|l| *l == ScaleLayout::HopperRegister));
    let mut k = samples::gemm(a, w, DType::BF16, (32, 32, 64), 0);
    run_pass("assign-scale-layout", &mut k, "sm_100a");
    assert!(layouts(&k).iter().all(|l| *l == ScaleLayout::Nv128x4));
    assert_eq!(
        k.attr("scale_pad.a").map(|s| s.contains("0x38")),
        Some(true),
        "ue4m3 neutral 1.0 is 0x38"
    );
}

#[test]
fn separate_scale_tensors_are_untouched() {
    // `s: e8m0[N, K / 32]` is a plain tensor: its layout is the user's row-major one.
    let mut k = dequant_gemm(Form::ExplicitScale);
    let before = k.clone();
    assert_eq!(run_pass("assign-scale-layout", &mut k, "sm_100a"), Changed::No);
    assert_eq!(k, before);
}
