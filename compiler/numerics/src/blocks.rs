//! Whole-tensor block scaling: `dequantize` a scaled [`TensorArg`] to exact f64 values (the input of
//! the plain reference), and `quantize` f32 values into one (MX, NVFP4 and DeepSeek-style f32 block
//! recipes), block by block through `tessera-formats`. Blocks may span several dims (`[128, 128]`);
//! partial blocks at the edges hold fewer elements. Scale tensors are row-major over the block grid
//! (`linear` / `hopper_reg` layouts).

use crate::dtype_map::{buf_from_codes, checked_numel, decode_buf_f64, encode_buf, format_of};
use crate::error::{E_DTYPE, E_GEN, E_SCALE, E_SHAPE, NumericsError};
use crate::{TensorArg, TensorBuf};
use tessera_formats::{Format, encode_f64, nvfp4_global_scale, nvfp4_quantize_block, try_mx_quantize_block};
use tessera_ir::{DType, ScaleLayout, ScaleSpec};

/// Shape of the block grid (= the scale tensor's shape).
pub fn grid_shape(shape: &[usize], spec: &ScaleSpec) -> Result<Vec<usize>, NumericsError> {
    if spec.block.len() != shape.len() || spec.block.contains(&0) {
        return Err(NumericsError::new(
            E_SHAPE,
            format!(
                "scale block {:?} does not fit a rank-{} shape {shape:?}",
                spec.block,
                shape.len()
            ),
        ));
    }
    if !matches!(spec.layout, ScaleLayout::Linear | ScaleLayout::HopperRegister) {
        return Err(NumericsError::new(
            E_GEN,
            format!(
                "the {} scale layout is swizzled; convert it to linear first",
                spec.layout.name()
            ),
        ));
    }
    Ok(shape
        .iter()
        .zip(&spec.block)
        .map(|(d, b)| d.div_ceil(*b as usize))
        .collect())
}

/// For every element (row-major), the flat index of its block in the row-major block grid.
fn block_of_each(shape: &[usize], block: &[u32], grid: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let mut b = 0;
        for d in 0..shape.len() {
            b = b * grid[d] + idx[d] / block[d] as usize;
        }
        out.push(b);
        // advance the row-major multi-index
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Exact values of a tensor argument: data, times its block scale, times the global scale.
/// A plain tensor (`spec == None`) is just decoded; a scale without a contract is an error.
pub fn dequantize(arg: &TensorArg, spec: Option<&ScaleSpec>) -> Result<Vec<f64>, NumericsError> {
    let data = decode_buf_f64(&arg.data)?;
    let Some(spec) = spec else {
        if arg.scale.is_some() || arg.global_scale.is_some() {
            return Err(NumericsError::new(
                E_SCALE,
                "a plain tensor was given a block or global scale",
            ));
        }
        return Ok(data);
    };
    let scale = arg.scale.as_ref().ok_or_else(|| {
        NumericsError::new(
            E_SCALE,
            format!("the {} tensor has no block scales", spec.family()),
        )
    })?;
    let grid = grid_shape(&arg.data.shape, spec)?;
    if scale.dtype != spec.scale_dtype || scale.shape != grid {
        return Err(NumericsError::new(
            E_SHAPE,
            format!(
                "block scales must be {} {grid:?}, found {} {:?}",
                spec.scale_dtype, scale.dtype, scale.shape
            ),
        ));
    }
    let s = decode_buf_f64(scale)?;
    let g = match (spec.global, arg.global_scale) {
        (true, Some(g)) => g as f64,
        (true, None) => return Err(NumericsError::new(E_SCALE, "the nv tensor has no global scale")),
        (false, None) => 1.0,
        (false, Some(_)) => {
            return Err(NumericsError::new(
                E_SCALE,
                "a global scale was given but the contract has none",
            ));
        }
    };
    let blocks = block_of_each(&arg.data.shape, &spec.block, &grid);
    Ok(data.iter().zip(&blocks).map(|(v, b)| v * s[*b] * g).collect())
}

/// The flat element indices of every block, in block order.
fn members(shape: &[usize], spec: &ScaleSpec, grid: &[usize]) -> Vec<Vec<usize>> {
    let mut m = vec![Vec::new(); grid.iter().product()];
    for (i, b) in block_of_each(shape, &spec.block, grid).into_iter().enumerate() {
        m[b].push(i);
    }
    m
}

/// Quantize `values` (row-major, logical `shape`) into a scaled tensor of element type `dtype`:
/// - E8M0 scales: OCP MX per block (`tessera_formats::try_mx_quantize_block`);
/// - UE4M3 scales with a global: NVFP4 (`nvfp4_global_scale` over the whole tensor, then
///   `nvfp4_quantize_block` per block);
/// - F32 scales (DeepSeek-style): scale `amax / max_finite(dtype)` (1.0 for an all-zero block, NaN
///   if the block holds NaN/inf), elements `encode(dtype, v / scale)`.
///
/// FP4 data is packed along `packed_axis`.
pub fn quantize(
    values: &[f32],
    shape: &[usize],
    dtype: DType,
    packed_axis: Option<usize>,
    spec: &ScaleSpec,
) -> Result<TensorArg, NumericsError> {
    let n = checked_numel(shape)?;
    if values.len() != n {
        return Err(NumericsError::new(
            E_SHAPE,
            format!("{} values for shape {shape:?}", values.len()),
        ));
    }
    let elem = format_of(dtype)
        .filter(|f| f.bits() <= 8 && f.is_signed())
        .ok_or_else(|| NumericsError::new(E_DTYPE, format!("{dtype} is not a block-scaled element type")))?;
    let grid = grid_shape(shape, spec)?;
    let blocks = members(shape, spec, &grid);
    let mut codes = vec![0u8; n];
    let gather = |idx: &[usize]| idx.iter().map(|&i| values[i]).collect::<Vec<f32>>();
    let (scale, global_scale) = match (spec.scale_dtype, spec.global) {
        (DType::E8M0, false) => {
            let mut s = Vec::with_capacity(blocks.len());
            for idx in &blocks {
                let (sc, c) = try_mx_quantize_block(elem, &gather(idx))
                    .map_err(|e| NumericsError::new(E_DTYPE, e.to_string()))?;
                s.push(sc);
                idx.iter().zip(c).for_each(|(&i, c)| codes[i] = c);
            }
            (buf_from_codes(DType::E8M0, &grid, None, &s)?, None)
        }
        (DType::UE4M3, true) if elem == Format::F4E2M1 => {
            let g = nvfp4_global_scale(values);
            let mut s = Vec::with_capacity(blocks.len());
            for idx in &blocks {
                let (sc, c) = nvfp4_quantize_block(&gather(idx), g);
                s.push(sc);
                idx.iter().zip(c).for_each(|(&i, c)| codes[i] = c);
            }
            (buf_from_codes(DType::UE4M3, &grid, None, &s)?, Some(g))
        }
        (DType::F32, false) => {
            let max = elem.max_finite() as f64;
            let mut s = Vec::with_capacity(blocks.len());
            for idx in &blocks {
                let v = gather(idx);
                let scale = if v.iter().any(|x| !x.is_finite()) {
                    f32::NAN
                } else {
                    let amax = v.iter().fold(0f32, |m, x| m.max(x.abs()));
                    if amax == 0.0 {
                        1.0
                    } else {
                        (amax as f64 / max) as f32
                    }
                };
                for (&i, x) in idx.iter().zip(&v) {
                    codes[i] = if scale.is_nan() {
                        0
                    } else {
                        encode_f64(elem, *x as f64 / scale as f64) as u8
                    };
                }
                s.push(scale);
            }
            (encode_buf(DType::F32, &grid, None, &s)?, None)
        }
        (sd, g) => {
            return Err(NumericsError::new(
                E_DTYPE,
                format!("no quantization recipe for {dtype} data with {sd} scales (global: {g})"),
            ));
        }
    };
    let data: TensorBuf = buf_from_codes(dtype, shape, packed_axis, &codes)?;
    Ok(TensorArg {
        data,
        scale: Some(scale),
        global_scale,
    })
}
