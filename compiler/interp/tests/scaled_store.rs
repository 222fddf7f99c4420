//! Storing scaled tiles into scaled `out` tensors (the `quant_mx` example of docs/LANGUAGE.md):
//! the interpreter writes the element codes and the block scales, and both equal an independent
//! per-block quantization of the same rows by `tessera-formats` (OCP MX and NVFP4 recipes), at
//! shapes with partial tiles and a partial trailing scale block. Misaligned scaled stores and a
//! tile quantized under another per-tensor scale than the tensor's are coded errors.

use tessera_formats::{Format, mx_quantize_block, nvfp4_quantize_block};
use tessera_interp::{ProgramSet, run};
use tessera_ir::{Kernel, ParamKind};
use tessera_numerics::poison::poison_buf;
use tessera_numerics::{ArgValue, Bindings, TensorArg, encode_buf};

fn kernel(src: &str) -> Kernel {
    let (m, diags) = tessera_check::check_source("t.tsr", src.as_bytes());
    let m = m.unwrap_or_else(|| panic!("{diags:?}"));
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    m.kernels.into_iter().next().expect("one kernel")
}

/// Rows of varied magnitude (2^-8 .. 2^8 across rows), signs mixed, a few exact zeros.
fn data(m: usize, k: usize) -> Vec<f32> {
    let mut s = 0x9e37_79b9u32;
    (0..m * k)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let u = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let row = i / k;
            if s.is_multiple_of(23) {
                0.0
            } else {
                u * 2f32.powi((row % 17) as i32 - 8)
            }
        })
        .collect()
}

/// Bindings: `x` given, outputs poisoned (data and scales), scalars in order.
fn bind(k: &Kernel, m: usize, kk: usize, x: &[f32], scalars: &[f64]) -> Bindings {
    let mut sc = scalars.iter();
    let args = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Tensor { ty, is_out: false } => ArgValue::Tensor(TensorArg {
                data: encode_buf(ty.dtype, &[m, kk], None, x).unwrap(),
                scale: None,
                global_scale: None,
            }),
            ParamKind::Tensor { ty, is_out: true } => {
                let spec = ty.scale.as_ref().expect("scaled out");
                let sshape = [
                    m.div_ceil(spec.block[0] as usize),
                    kk.div_ceil(spec.block[1] as usize),
                ];
                ArgValue::Tensor(TensorArg {
                    data: poison_buf(ty.dtype, &[m, kk], ty.packed_axis),
                    scale: Some(poison_buf(spec.scale_dtype, &sshape, None)),
                    global_scale: None,
                })
            }
            ParamKind::Scalar(_) => ArgValue::Scalar(*sc.next().expect("scalar")),
        })
        .collect();
    Bindings {
        args,
        syms: vec![("M".into(), m as i64), ("K".into(), kk as i64)],
    }
}

fn out(b: &Bindings) -> &TensorArg {
    match b.args.last() {
        Some(ArgValue::Tensor(t)) => t,
        _ => panic!("last parameter is the output"),
    }
}

const QUANT_MX: &str = "kernel quant_mx(x: f32[M, K], y: out mx<f8e4m3>[M, K]) tiles(BM = 32, BK = 128) grid(cdiv(M, BM), cdiv(K, BK)) {
    let m0 = program_id(0) * BM;
    let k0 = program_id(1) * BK;
    store(y[m0 .. +BM, k0 .. +BK], quantize<mx<f8e4m3>>(load(x[m0 .. +BM, k0 .. +BK])));
}";

#[test]
fn quant_mx_writes_the_codes_and_scales_of_the_mx_recipe() {
    let k = kernel(QUANT_MX);
    // M = 40: a partial row tile; K = 208 = 6.5 blocks of 32: a partial K tile and a partial
    // trailing scale block (its missing elements load as 0, which leaves the block's amax alone).
    for (m, kk) in [(40usize, 208usize), (64, 256)] {
        let x = data(m, kk);
        let mut b = bind(&k, m, kk, &x, &[]);
        run(&k, &mut b, ProgramSet::All).unwrap();
        let y = out(&b);
        let scales = &y.scale.as_ref().unwrap().bytes;
        let nb = kk.div_ceil(32);
        assert_eq!(scales.len(), m * nb);
        for r in 0..m {
            for j in 0..nb {
                let lo = j * 32;
                let hi = (lo + 32).min(kk);
                let (s, codes) = mx_quantize_block(Format::F8E4M3, &x[r * kk + lo..r * kk + hi]);
                assert_eq!(scales[r * nb + j], s, "scale of row {r} block {j} at {m}x{kk}");
                assert_eq!(
                    &y.data.bytes[r * kk + lo..r * kk + hi],
                    &codes[..],
                    "codes of row {r} block {j}"
                );
            }
        }
    }
}

#[test]
fn quant_nvfp4_packs_codes_and_writes_ue4m3_scales_under_the_global() {
    let k = kernel(
        "kernel quant_nvfp4(x: f32[M, K], gs: f32, y: out nv<f4e2m1, global = gs>[M, K])
    tiles(BM = 16, BK = 64) grid(cdiv(M, BM), cdiv(K, BK)) {
    let m0 = program_id(0) * BM;
    let k0 = program_id(1) * BK;
    store(y[m0 .. +BM, k0 .. +BK], quantize<nv<f4e2m1>>(load(x[m0 .. +BM, k0 .. +BK]), gs));
}",
    );
    let (m, kk) = (20usize, 96usize);
    let x = data(m, kk);
    let gs = 2f32.powi(-6) * 0.75;
    let mut b = bind(&k, m, kk, &x, &[gs as f64]);
    if let Some(ArgValue::Tensor(t)) = b.args.last_mut() {
        t.global_scale = Some(gs);
    }
    run(&k, &mut b, ProgramSet::All).unwrap();
    let y = out(&b);
    let scales = &y.scale.as_ref().unwrap().bytes;
    for r in 0..m {
        for j in 0..kk / 16 {
            let lo = r * kk + j * 16;
            let (s, codes) = nvfp4_quantize_block(&x[lo..lo + 16], gs);
            assert_eq!(scales[r * (kk / 16) + j], s, "scale of row {r} block {j}");
            // Packed along K, element 2i in the low nibble.
            for (i, c) in codes.iter().enumerate() {
                let e = j * 16 + i;
                let byte = y.data.bytes[r * kk / 2 + e / 2];
                assert_eq!((byte >> (4 * (e % 2))) & 0xF, *c, "code ({r}, {e})");
            }
        }
    }
}

#[test]
fn a_store_that_splits_a_scale_block_is_a_coded_error() {
    let k = kernel(
        "kernel q(x: f32[M, K], y: out mx<f8e4m3>[M, K]) tiles(BK = 32) grid(cdiv(K, BK)) {
    let k0 = program_id(0) * BK + 16;
    store(y[0 .. +8, k0 .. +BK], quantize<mx<f8e4m3>>(load(x[0 .. +8, k0 .. +BK])));
}",
    );
    let x = data(8, 128);
    let mut b = bind(&k, 8, 128, &x, &[]);
    let e = run(&k, &mut b, ProgramSet::All).unwrap_err();
    assert_eq!(e.code(), "E0606", "{e}");
}

#[test]
fn a_tile_quantized_under_another_global_scale_is_refused() {
    let k = kernel(
        "kernel q(x: f32[M, K], gs: f32, other: f32, y: out nv<f4e2m1, global = gs>[M, K]) tiles(BK = 16) grid(cdiv(K, BK)) {
    let k0 = program_id(0) * BK;
    store(y[0 .. +4, k0 .. +BK], quantize<nv<f4e2m1>>(load(x[0 .. +4, k0 .. +BK]), other));
}",
    );
    let x = data(4, 32);
    let mut b = bind(&k, 4, 32, &x, &[1.0, 0.5]);
    if let Some(ArgValue::Tensor(t)) = b.args.last_mut() {
        t.global_scale = Some(1.0);
    }
    let e = run(&k, &mut b, ProgramSet::All).unwrap_err();
    assert_eq!(e.code(), "E0605", "{e}");
}
