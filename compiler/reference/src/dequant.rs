//! Dequantization to f64: decode codes with `tessera-formats`, then multiply every element by its
//! block's scale (and the NV per-tensor scale), in f64. Covers MX (e8m0, block 32), NVFP4 (ue4m3,
//! block 16, global) and DeepSeek-style f32 blocks (1x128, 128x128): all are "one scale per
//! rectangular block of a row-major tensor", so one function serves them.

use tessera_formats::{Format, decode};

/// Decode one code per element (FP4 already unpacked to one code per byte).
pub fn decode_codes(f: Format, codes: &[u8]) -> Vec<f64> {
    codes.iter().map(|c| decode(f, *c as u16) as f64).collect()
}

/// Block scales of a row-major tensor: `scales` has shape `ceil(shape / block)` per dim.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockScales<'a> {
    pub scales: &'a [f64],
    pub block: &'a [usize],
    /// NVFP4's per-tensor scale (1.0 when absent).
    pub global: Option<f64>,
}

/// `values[i] * scale(block of i) * global`, for a row-major tensor of `shape`.
/// Returns `None` if the scale array does not have `prod(ceil(shape / block))` entries.
pub fn dequantize(values: &[f64], shape: &[usize], s: &BlockScales) -> Option<Vec<f64>> {
    if s.block.len() != shape.len() || s.block.contains(&0) {
        return None;
    }
    let sshape: Vec<usize> = shape.iter().zip(s.block).map(|(d, b)| d.div_ceil(*b)).collect();
    if s.scales.len() != sshape.iter().product::<usize>() || values.len() != shape.iter().product::<usize>() {
        return None;
    }
    let g = s.global.unwrap_or(1.0);
    let mut out = Vec::with_capacity(values.len());
    let mut idx = vec![0usize; shape.len()];
    for v in values {
        let mut si = 0;
        for d in 0..shape.len() {
            si = si * sshape[d] + idx[d] / s.block[d];
        }
        out.push(v * s.scales[si] * g);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(out)
}

/// The f64 value of a scale code of `f` (e8m0 / ue4m3); f32 scales are passed as values directly.
pub fn scale_value(f: Format, code: u8) -> f64 {
    decode(f, code as u16) as f64
}
