//! `dequant` and `quantize`. Dequantized value = `x * (s * g)` in f32 (`s` the element's block
//! scale, `g` the NV global scale or 1), then rounded to the target dtype. Quantize follows the
//! contract's recipe through `tessera-formats`: OCP MX §6.3 for e8m0 scales, the NVFP4 two-level
//! recipe for ue4m3 + global, and `s = amax / max_finite(elem)` for f32 (DeepSeek-style) scales.

use crate::tensor::round_to;
use crate::value::{Data, Scales, Tile, for_each_index, strides};
use tessera_formats::{Format, decode, encode, nvfp4_quantize_block, try_mx_quantize_block};
use tessera_ir::{DType, ScaleSpec};
use tessera_numerics::format_of;

/// Flat index of the scale element covering data element `idx` (multi-index).
fn scale_index(idx: &[usize], block: &[usize], sstrides: &[usize]) -> usize {
    idx.iter()
        .zip(block)
        .zip(sstrides)
        .map(|((i, b), s)| (i / b) * s)
        .sum()
}

/// Dequantize a scaled tile, or a code tile with an explicit scale tile (block = shape ratio).
pub(crate) fn dequant(x: &Tile, scale: Option<&Tile>, to: DType) -> Result<Tile, String> {
    let Data::F(xv) = &x.data else {
        return Err("integer data".into());
    };
    let (block, sshape, sv, g): (Vec<usize>, Vec<usize>, &[f32], f32) = match (scale, &x.scale) {
        (Some(s), _) => {
            let Data::F(v) = &s.data else {
                return Err("integer scale tile".into());
            };
            let block: Vec<usize> = x
                .shape
                .iter()
                .zip(&s.shape)
                .map(|(d, s)| (d / s.max(&1)).max(1))
                .collect();
            (block, s.shape.clone(), v, 1.0)
        }
        (None, Some(sc)) => (
            sc.block.clone(),
            sc.shape.clone(),
            &sc.v,
            sc.global.unwrap_or(1.0),
        ),
        (None, None) => return Err("a plain tile has no scales".into()),
    };
    let ss = strides(&sshape);
    let mut out = vec![0f32; xv.len()];
    for_each_index(&x.shape, |flat, idx| {
        let s = sv[scale_index(idx, &block, &ss)];
        out[flat] = round_to(to, xv[flat] * (s * g));
    });
    Ok(Tile::floats(to, x.shape.clone(), out))
}

/// Quantize a plain float tile to `elem` under `spec` (global: the NV per-tensor scale).
pub(crate) fn quantize(x: &Tile, elem: DType, spec: &ScaleSpec, global: Option<f32>) -> Result<Tile, String> {
    let Data::F(xv) = &x.data else {
        return Err("integer data".into());
    };
    let ef = format_of(elem).ok_or_else(|| format!("{elem} is not a narrow float"))?;
    let block: Vec<usize> = spec.block.iter().map(|b| *b as usize).collect();
    let sshape: Vec<usize> = x.shape.iter().zip(&block).map(|(d, b)| d.div_ceil(*b)).collect();
    let ss = strides(&sshape);
    let nblocks: usize = sshape.iter().product();
    // Members (flat data indices) of each block, in row-major order within the block.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nblocks];
    for_each_index(&x.shape, |flat, idx| {
        members[scale_index(idx, &block, &ss)].push(flat)
    });
    let mut data = vec![0f32; xv.len()];
    let mut scales = vec![0f32; nblocks];
    for (bi, mem) in members.iter().enumerate() {
        let vals: Vec<f32> = mem.iter().map(|&i| xv[i]).collect();
        let (s, codes): (f32, Vec<u8>) = match (spec.scale_dtype, spec.global) {
            (DType::E8M0, false) => {
                let (sc, codes) = try_mx_quantize_block(ef, &vals).map_err(|e| e.to_string())?;
                (decode(Format::E8M0, sc as u16), codes)
            }
            (DType::UE4M3, true) if elem == DType::F4E2M1 => {
                let g = global.ok_or("missing global scale")?;
                let (sc, codes) = nvfp4_quantize_block(&vals, g);
                (decode(Format::UE4M3, sc as u16), codes)
            }
            (DType::F32, false) => {
                let amax = vals.iter().fold(0f32, |m, v| m.max(v.abs()));
                let s = if amax > 0.0 && amax.is_finite() {
                    amax / ef.max_finite()
                } else {
                    1.0
                };
                (s, vals.iter().map(|v| encode(ef, v / s) as u8).collect())
            }
            (d, g) => {
                return Err(format!(
                    "no quantization recipe for {d} scales (global: {g}) with {elem} elements"
                ));
            }
        };
        scales[bi] = s;
        for (&i, c) in mem.iter().zip(codes) {
            data[i] = decode(ef, c as u16);
        }
    }
    Ok(Tile {
        dtype: elem,
        shape: x.shape.clone(),
        data: Data::F(data),
        scale: Some(Scales {
            block,
            shape: sshape,
            v: scales,
            global: if spec.global { global } else { None },
            whole: vec![true; x.shape.len()],
        }),
    })
}
