//! Whole-tensor block scaling: quantize agrees block by block with the formats crate's recipes
//! (including partial and two-dimensional blocks), dequantize applies scale and global exactly,
//! and contract mismatches are coded errors.

use tessera_formats::{Format, decode, mx_quantize_block, nvfp4_global_scale};
use tessera_ir::{DType, ScaleLayout, ScaleSpec};
use tessera_numerics::blocks::grid_shape;
use tessera_numerics::{InputGen, TensorArg, compare, decode_buf, decode_buf_f64, dequantize, quantize};

fn spec(scale_dtype: DType, block: Vec<u32>, global: bool) -> ScaleSpec {
    ScaleSpec {
        scale_dtype,
        block,
        global,
        layout: ScaleLayout::Linear,
    }
}

#[test]
fn mx_quantize_matches_the_block_recipe_with_a_partial_last_block() {
    let (m, k) = (3usize, 70usize);
    let v = InputGen::new(1).values(m * k, 3.0);
    let sp = spec(DType::E8M0, vec![1, 32], false);
    let arg = quantize(&v, &[m, k], DType::F8E4M3, None, &sp).expect("quantize");
    let s = arg.scale.as_ref().expect("scales");
    assert_eq!(s.shape, vec![3, 3]);
    for r in 0..m {
        for b in 0..3 {
            let lo = r * k + b * 32;
            let hi = r * k + ((b + 1) * 32).min(k);
            let (sc, codes) = mx_quantize_block(Format::F8E4M3, &v[lo..hi]);
            assert_eq!(s.bytes[r * 3 + b], sc, "row {r} block {b}");
            assert_eq!(&arg.data.bytes[lo..hi], &codes[..]);
        }
    }
    let back = dequantize(&arg, Some(&sp)).expect("dequantize");
    let codes = decode_buf_f64(&arg.data).expect("decode");
    for (i, x) in back.iter().enumerate() {
        let blk = (i / k) * 3 + (i % k) / 32;
        assert_eq!(*x, codes[i] * decode(Format::E8M0, s.bytes[blk] as u16) as f64);
    }
}

#[test]
fn two_dimensional_f32_blocks_use_amax_over_the_whole_tile() {
    let (n, k) = (130usize, 200usize);
    let v = InputGen::new(2).values(n * k, 1.0);
    let sp = spec(DType::F32, vec![128, 128], false);
    let arg = quantize(&v, &[n, k], DType::F8E4M3, None, &sp).expect("quantize");
    let s = decode_buf(arg.scale.as_ref().expect("scales")).expect("decode");
    assert_eq!(grid_shape(&[n, k], &sp).expect("grid"), vec![2, 2]);
    // block (1, 1): rows 128..130, cols 128..200
    let amax = (128..130)
        .flat_map(|r| (128..200).map(move |c| (r, c)))
        .fold(0f32, |a, (r, c)| a.max(v[r * k + c].abs()));
    assert_eq!(s[3], (amax as f64 / 448.0) as f32);
    let back = dequantize(&arg, Some(&sp)).expect("dequantize");
    let want: Vec<f64> = v.iter().map(|x| *x as f64).collect();
    let m = compare(&back.iter().map(|x| *x as f32).collect::<Vec<_>>(), &want, None).expect("compare");
    assert!(m.rel_l2 < 0.05, "e4m3 with per-tile scales: rel_l2 {}", m.rel_l2);
}

#[test]
fn nvfp4_quantize_packs_and_round_trips_within_fp4_error() {
    let (m, k) = (8usize, 100usize);
    let v = InputGen::new(3).values(m * k, 10.0);
    let sp = spec(DType::UE4M3, vec![1, 16], true);
    let arg = quantize(&v, &[m, k], DType::F4E2M1, Some(1), &sp).expect("quantize");
    assert_eq!(arg.global_scale, Some(nvfp4_global_scale(&v)));
    assert_eq!(arg.data.bytes.len(), m * k / 2);
    assert_eq!(arg.scale.as_ref().expect("scales").shape, vec![8, 7]);
    let back = dequantize(&arg, Some(&sp)).expect("dequantize");
    let want: Vec<f64> = v.iter().map(|x| *x as f64).collect();
    let mt = compare(&back.iter().map(|x| *x as f32).collect::<Vec<_>>(), &want, None).expect("compare");
    assert!(
        mt.rel_l2 < 0.2 && mt.cosine > 0.98,
        "nvfp4 rel_l2 {} cosine {}",
        mt.rel_l2,
        mt.cosine
    );
}

#[test]
fn contract_mismatches_are_coded_errors() {
    let sp = spec(DType::E8M0, vec![1, 32], false);
    let mut g = InputGen::new(4);
    let arg = quantize(&g.values(64, 1.0), &[2, 32], DType::F8E4M3, None, &sp).expect("quantize");
    let no_scale = TensorArg {
        scale: None,
        ..arg.clone()
    };
    assert_eq!(
        dequantize(&no_scale, Some(&sp)).expect_err("missing").code,
        "E0508"
    );
    assert_eq!(
        dequantize(&arg, None).expect_err("unexpected scale").code,
        "E0508"
    );
    let mut wrong = arg.clone();
    if let Some(s) = wrong.scale.as_mut() {
        s.shape = vec![1, 2];
    }
    assert_eq!(dequantize(&wrong, Some(&sp)).expect_err("shape").code, "E0502");
    let nv = spec(DType::UE4M3, vec![1, 16], true);
    let nvarg = quantize(&g.values(32, 1.0), &[1, 32], DType::F4E2M1, Some(1), &nv).expect("nv");
    let no_global = TensorArg {
        global_scale: None,
        ..nvarg
    };
    assert_eq!(
        dequantize(&no_global, Some(&nv)).expect_err("global").code,
        "E0508"
    );
    let mut swz = sp.clone();
    swz.layout = ScaleLayout::Nv128x4;
    assert_eq!(dequantize(&arg, Some(&swz)).expect_err("layout").code, "E0506");
    assert_eq!(
        quantize(&[1.0; 32], &[1, 32], DType::BF16, None, &sp)
            .expect_err("bf16")
            .code,
        "E0505"
    );
    assert_eq!(
        quantize(&[1.0; 32], &[1, 32], DType::F8E4M3, None, &nv)
            .expect_err("nv e4m3")
            .code,
        "E0505"
    );
    assert_eq!(
        quantize(&[1.0; 3], &[1, 32], DType::F8E4M3, None, &sp)
            .expect_err("count")
            .code,
        "E0502"
    );
}
