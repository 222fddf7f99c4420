//! Seeded generators: reproducible per seed, different across seeds, non-degenerate data, scale
//! codes in the documented ranges, and full arguments for scaled tensor types.

use tessera_formats::Format;
use tessera_ir::{DType, Dim, ScaleLayout, ScaleSpec, TensorType};
use tessera_numerics::{InputGen, decode_buf, decode_buf_f64};

fn ty(dtype: DType, dims: Vec<Dim>, scale: Option<ScaleSpec>, packed_axis: Option<usize>) -> TensorType {
    TensorType {
        dtype,
        dims,
        scale,
        packed_axis,
    }
}

fn spec(scale_dtype: DType, block: Vec<u32>, global: bool) -> ScaleSpec {
    ScaleSpec {
        scale_dtype,
        block,
        global,
        layout: ScaleLayout::Linear,
    }
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    for d in DType::ALL {
        let p = (d == DType::F4E2M1).then_some(1);
        let a = InputGen::new(1).plain(d, &[16, 64], p).expect("gen");
        let b = InputGen::new(1).plain(d, &[16, 64], p).expect("gen");
        let c = InputGen::new(2).plain(d, &[16, 64], p).expect("gen");
        assert_eq!(a, b, "{d}");
        assert_ne!(a.bytes, c.bytes, "{d}");
    }
}

#[test]
fn data_is_varied_and_never_degenerate() {
    for d in DType::ALL {
        let p = (d == DType::F4E2M1).then_some(0);
        let v = decode_buf_f64(&InputGen::new(5).plain(d, &[64, 64], p).expect("gen")).expect("decode");
        let nonzero = v.iter().filter(|x| **x != 0.0).count();
        assert!(nonzero > v.len() / 3, "{d}: {nonzero} nonzero of {}", v.len());
        let mut distinct: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() >= 2.min(v.len()), "{d}");
        assert!(
            v.iter().all(|x| x.is_finite()),
            "{d}: generated a non-finite value"
        );
        if d.is_float() && d.bits() >= 8 && !matches!(d, DType::E8M0 | DType::UE4M3) {
            // both signs and magnitudes spanning at least 2^6
            assert!(v.iter().any(|x| *x < 0.0) && v.iter().any(|x| *x > 0.0), "{d}");
            let mags: Vec<f64> = v.iter().filter(|x| **x != 0.0).map(|x| x.abs()).collect();
            let (lo, hi) = mags
                .iter()
                .fold((f64::MAX, 0f64), |(l, h), m| (l.min(*m), h.max(*m)));
            assert!(hi / lo >= 64.0, "{d}: magnitudes {lo}..{hi}");
        }
    }
}

#[test]
fn mx_argument_has_scales_in_124_to_130() {
    let t = ty(
        DType::F8E4M3,
        vec![Dim::Sym("M".into()), Dim::Sym("K".into())],
        Some(spec(DType::E8M0, vec![1, 32], false)),
        None,
    );
    let arg = InputGen::new(9).tensor_arg(&t, &[100, 320]).expect("arg");
    let s = arg.scale.expect("scaled");
    assert_eq!((s.dtype, s.shape.clone()), (DType::E8M0, vec![100, 10]));
    assert!(s.bytes.iter().all(|b| (124..=130).contains(b)));
    for code in 124..=130u8 {
        assert!(s.bytes.contains(&code), "code {code} never drawn");
    }
    assert_eq!(arg.global_scale, None);
    assert_eq!(arg.data.shape, vec![100, 320]);
    // elements use the format's range: some reach the top binade
    let v = decode_buf(&arg.data).expect("decode");
    assert!(v.iter().any(|x| x.abs() >= 256.0));
}

#[test]
fn nvfp4_argument_is_packed_with_ue4m3_scales_and_a_global() {
    let t = ty(
        DType::F4E2M1,
        vec![Dim::Const(64), Dim::Sym("K".into())],
        Some(spec(DType::UE4M3, vec![1, 16], true)),
        Some(1),
    );
    let arg = InputGen::new(4).tensor_arg(&t, &[64, 100]).expect("arg");
    assert_eq!(arg.data.packed_axis, Some(1));
    assert_eq!(arg.data.bytes.len(), 64 * 50);
    let s = arg.scale.expect("scaled");
    assert_eq!(s.shape, vec![64, 7]);
    let sv = decode_buf(&s).expect("decode");
    assert!(
        sv.iter().all(|x| (0.125..=8.0).contains(x)),
        "ue4m3 scales out of range"
    );
    let g = arg.global_scale.expect("global");
    assert!((0.25..=4.0).contains(&g));
    assert_eq!(Format::UE4M3.bits(), 8);
}

#[test]
fn blockwise_f32_scales_are_log_uniform_in_range() {
    let t = ty(
        DType::F8E4M3,
        vec![Dim::Sym("N".into()), Dim::Sym("K".into())],
        Some(spec(DType::F32, vec![128, 128], false)),
        None,
    );
    let arg = InputGen::new(8).tensor_arg(&t, &[300, 256]).expect("arg");
    let s = arg.scale.expect("scaled");
    assert_eq!(s.shape, vec![3, 2]);
    let v = decode_buf(&s).expect("decode");
    assert!(v.iter().all(|x| (0.0625..=16.0).contains(x)));
}

#[test]
fn bad_types_and_shapes_are_coded_errors() {
    let mut g = InputGen::new(0);
    let t = ty(DType::F32, vec![Dim::Const(4), Dim::Sym("K".into())], None, None);
    assert_eq!(g.tensor_arg(&t, &[4]).expect_err("rank").code, "E0507");
    assert_eq!(g.tensor_arg(&t, &[5, 2]).expect_err("const dim").code, "E0507");
    let fp4 = ty(DType::F4E2M1, vec![Dim::Sym("K".into())], None, None);
    assert_eq!(
        g.tensor_arg(&fp4, &[8]).expect_err("no packed axis").code,
        "E0506"
    );
    let mut sp = spec(DType::E8M0, vec![1, 32], false);
    sp.layout = ScaleLayout::Nv128x4;
    let sw = ty(
        DType::F8E4M3,
        vec![Dim::Sym("M".into()), Dim::Sym("K".into())],
        Some(sp),
        None,
    );
    assert_eq!(g.tensor_arg(&sw, &[128, 64]).expect_err("layout").code, "E0506");
    let bad_block = ty(
        DType::F8E4M3,
        vec![Dim::Sym("M".into())],
        Some(spec(DType::E8M0, vec![1, 32], false)),
        None,
    );
    assert_eq!(
        g.tensor_arg(&bad_block, &[64]).expect_err("block rank").code,
        "E0507"
    );
}

/// `plain_rms` matches the RMS the generator actually produces (f32: nothing clipped), and its
/// spread is a sixteenth of a narrow type's max.
#[test]
fn plain_rms_matches_the_generated_data() {
    use tessera_numerics::inputs::{plain_rms, plain_spread};
    let n = 200_000;
    let v = InputGen::new(11).values(n, 1.0);
    let rms = (v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / n as f64).sqrt();
    let want = plain_rms(DType::F32).expect("f32");
    assert!(
        (rms / want - 1.0).abs() < 0.05,
        "measured {rms}, plain_rms {want}"
    );
    assert_eq!(plain_spread(DType::F8E4M3), Some(448.0 / 16.0));
    assert_eq!(plain_rms(DType::I32), None);
}

/// Finding F04: `--dim` of 2^31 elements used to abort the process on allocation in
/// `InputGen::plain`; shapes over `MAX_HOST_ELEMENTS` are now E0502 before anything is allocated.
#[test]
fn shapes_over_the_host_limit_are_a_coded_error_not_an_abort() {
    use tessera_ir::DType;
    let mut g = tessera_numerics::InputGen::new(1);
    for shape in [vec![2147483648usize, 64], vec![1 << 31], vec![(1 << 30) + 1]] {
        for d in [DType::F32, DType::F8E4M3, DType::I8, DType::E8M0] {
            let e = g.plain(d, &shape, None).expect_err("refused");
            assert_eq!(e.code, "E0502", "{e}");
            assert!(e.message.contains("2^30"), "{e}");
        }
    }
    assert_eq!(tessera_numerics::MAX_HOST_ELEMENTS, 1 << 30);
    assert!(tessera_numerics::checked_numel(&[1 << 15, 1 << 15]).is_ok());
}
