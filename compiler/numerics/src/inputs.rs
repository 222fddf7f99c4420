//! Seeded input generators (ChaCha8; callers print the seed so a failure can be replayed).
//!
//! Data is deliberately non-uniform and never all zeros, because uniform or degenerate data passes
//! broken kernels: values are normal samples, 10% shrunk by 2^-6..2^-2, 5% grown into outliers by
//! 2^2..2^4, 2% exact zeros. Narrow types get that distribution scaled into their range and rounded
//! through `tessera-formats`. Block scales sit where a wrong scale shows: E8M0 codes uniformly in
//! 124..=130 (2^-3..2^3; codes near 0 would underflow products to zero and hide bugs), UE4M3 codes in
//! 0x20..=0x50 (0.125..8, every mantissa), f32 (DeepSeek-style) scales log-uniform in [2^-4, 2^4],
//! NVFP4 global scales log-uniform in [2^-2, 2^2].

use crate::blocks::grid_shape;
use crate::dtype_map::{buf_from_codes, checked_numel, encode_buf, format_of};
use crate::error::{E_GEN, E_TYPE_SHAPE, NumericsError};
use crate::{TensorArg, TensorBuf};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_ir::{DType, Dim, ScaleLayout, ScaleSpec, TensorType};

/// A seeded generator. The same seed gives the same tensors, call for call.
#[derive(Debug, Clone)]
pub struct InputGen {
    seed: u64,
    rng: ChaCha8Rng,
}

impl InputGen {
    pub fn new(seed: u64) -> InputGen {
        InputGen {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A standard normal sample (Box-Muller; `rand` has no normal distribution without rand_distr).
    fn normal(&mut self) -> f64 {
        let u1: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]: ln is finite
        let u2: f64 = self.rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// One sample of the mixture described in the module doc, times `scale`.
    fn sample(&mut self, scale: f64) -> f64 {
        let p: f64 = self.rng.random();
        let z = self.normal();
        let m = if p < 0.02 {
            0.0
        } else if p < 0.12 {
            2f64.powi(-self.rng.random_range(2..=6))
        } else if p < 0.17 {
            2f64.powi(self.rng.random_range(2..=4))
        } else {
            1.0
        };
        z * m * scale
    }

    /// `n` values of the mixture times `scale`, never all zero (n > 0).
    pub fn values(&mut self, n: usize, scale: f64) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n).map(|_| self.sample(scale) as f32).collect();
        if !v.is_empty() && v.iter().all(|x| *x == 0.0) {
            v[0] = scale as f32;
        }
        v
    }

    /// [`InputGen::values`] whose allocation failing is an error (E0502), not an abort.
    fn try_values(&mut self, n: usize, scale: f64) -> Result<Vec<f32>, NumericsError> {
        let mut v: Vec<f32> = Vec::new();
        v.try_reserve_exact(n).map_err(|_| {
            NumericsError::new(
                crate::error::E_SHAPE,
                format!("cannot allocate {n} input values (out of memory)"),
            )
        })?;
        v.extend((0..n).map(|_| self.sample(scale) as f32));
        if !v.is_empty() && v.iter().all(|x| *x == 0.0) {
            v[0] = scale as f32;
        }
        Ok(v)
    }

    /// A plain (unscaled) tensor of `dtype`. Narrow floats are scaled to a sixteenth of their max
    /// (outliers then reach the top of the range); ints are small and signed.
    pub fn plain(
        &mut self,
        dtype: DType,
        shape: &[usize],
        packed_axis: Option<usize>,
    ) -> Result<TensorBuf, NumericsError> {
        let n = checked_numel(shape)?;
        match dtype {
            DType::E8M0 | DType::UE4M3 => {
                let codes = self.scale_codes(dtype, n)?;
                buf_from_codes(dtype, shape, packed_axis, &codes)
            }
            DType::I1 => {
                let v: Vec<f32> = (0..n).map(|_| self.rng.random_bool(0.5) as u8 as f32).collect();
                encode_buf(dtype, shape, None, &v)
            }
            DType::I8 => encode_buf(dtype, shape, None, &self.try_values(n, 20.0)?),
            DType::I32 => encode_buf(dtype, shape, None, &self.try_values(n, 1000.0)?),
            d => {
                let spread = plain_spread(d)
                    .ok_or_else(|| NumericsError::new(E_GEN, format!("no generator for {d}")))?;
                encode_buf(d, shape, packed_axis, &self.try_values(n, spread)?)
            }
        }
    }

    /// Element data of a block-scaled tensor: the mixture at a quarter of the format's max, so
    /// codes cover the whole range (scales are separate and random, as a kernel must not assume
    /// anything about how data and scales were produced).
    fn scaled_elements(
        &mut self,
        dtype: DType,
        shape: &[usize],
        packed_axis: Option<usize>,
    ) -> Result<TensorBuf, NumericsError> {
        let f = format_of(dtype)
            .filter(|f| f.bits() <= 8 && f.is_signed())
            .ok_or_else(|| {
                NumericsError::new(
                    E_GEN,
                    format!("{dtype} cannot be the element type of a block-scaled tensor"),
                )
            })?;
        let n = checked_numel(shape)?;
        let v = self.try_values(n, f.max_finite() as f64 / 4.0)?;
        encode_buf(dtype, shape, packed_axis, &v)
    }

    /// `n` scale codes of a scale format (E8M0 / UE4M3) in the ranges of the module doc.
    fn scale_codes(&mut self, d: DType, n: usize) -> Result<Vec<u8>, NumericsError> {
        match d {
            DType::E8M0 => Ok((0..n).map(|_| self.rng.random_range(124u8..=130)).collect()),
            DType::UE4M3 => Ok((0..n).map(|_| self.rng.random_range(0x20u8..=0x50)).collect()),
            _ => Err(NumericsError::new(
                E_GEN,
                format!("{d} is not a code scale format"),
            )),
        }
    }

    /// The scale tensor of `spec` for data of shape `shape` (row-major, one scale per block,
    /// ceil-divided per dim). Only the linear layouts (`linear`, `hopper_reg`) are generated here;
    /// swizzled hardware layouts are produced from a linear tensor by the target's layout code.
    pub fn scales(&mut self, spec: &ScaleSpec, shape: &[usize]) -> Result<TensorBuf, NumericsError> {
        if !matches!(spec.layout, ScaleLayout::Linear | ScaleLayout::HopperRegister) {
            return Err(NumericsError::new(
                E_GEN,
                format!(
                    "cannot generate scales in the {} layout; generate linear scales and re-lay them out",
                    spec.layout.name()
                ),
            ));
        }
        // A block that does not fit is the type's fault here (the caller passed its shape).
        let sshape = grid_shape(shape, spec).map_err(|e| NumericsError::new(E_TYPE_SHAPE, e.message))?;
        let n = checked_numel(&sshape)?;
        match spec.scale_dtype {
            DType::F32 => {
                let v: Vec<f32> = (0..n)
                    .map(|_| 2f64.powf(self.rng.random_range(-4.0..=4.0)) as f32)
                    .collect();
                encode_buf(DType::F32, &sshape, None, &v)
            }
            d => {
                let codes = self.scale_codes(d, n)?;
                buf_from_codes(d, &sshape, None, &codes)
            }
        }
    }

    /// An NVFP4 per-tensor scale: log-uniform in [2^-2, 2^2].
    pub fn global_scale(&mut self) -> f32 {
        2f64.powf(self.rng.random_range(-2.0..=2.0)) as f32
    }

    /// A full argument for a tensor parameter of type `ty` at the concrete `shape`: data, block
    /// scales when the type is scaled, and the global scale when the contract has one.
    pub fn tensor_arg(&mut self, ty: &TensorType, shape: &[usize]) -> Result<TensorArg, NumericsError> {
        check_shape(ty, shape)?;
        let packed_axis = if ty.dtype == DType::F4E2M1 {
            Some(ty.packed_axis.ok_or_else(|| {
                NumericsError::new(
                    E_GEN,
                    "an f4e2m1 tensor type must name its packed axis".to_string(),
                )
            })?)
        } else {
            None
        };
        match &ty.scale {
            None => Ok(TensorArg {
                data: self.plain(ty.dtype, shape, packed_axis)?,
                scale: None,
                global_scale: None,
            }),
            Some(spec) => {
                let data = self.scaled_elements(ty.dtype, shape, packed_axis)?;
                let scale = self.scales(spec, shape)?;
                let global_scale = spec.global.then(|| self.global_scale());
                Ok(TensorArg {
                    data,
                    scale: Some(scale),
                    global_scale,
                })
            }
        }
    }
}

/// The concrete shape must have the type's rank, match its constant dims, and hold the packed axis.
fn check_shape(ty: &TensorType, shape: &[usize]) -> Result<(), NumericsError> {
    if ty.dims.len() != shape.len() {
        return Err(NumericsError::new(
            E_TYPE_SHAPE,
            format!(
                "a rank-{} {} tensor type cannot take shape {shape:?}",
                ty.dims.len(),
                ty.dtype
            ),
        ));
    }
    for (i, (d, &s)) in ty.dims.iter().zip(shape).enumerate() {
        if let Dim::Const(c) = d
            && *c != s as u64
        {
            return Err(NumericsError::new(
                E_TYPE_SHAPE,
                format!("dim {i} of the type is {c} but the shape has {s}"),
            ));
        }
    }
    if let Some(a) = ty.packed_axis
        && a >= shape.len()
    {
        return Err(NumericsError::new(
            E_TYPE_SHAPE,
            format!("packed axis {a} is outside shape {shape:?}"),
        ));
    }
    Ok(())
}

/// The RMS of [`InputGen::plain`]'s data for a float dtype, before clipping to the type's range:
/// [`plain_spread`] times the mixture's RMS factor, `sqrt(E[m^2])` over the multipliers of
/// `sample` (83% 1, 10% 2^-2..2^-6, 5% 2^2..2^4, 2% 0), about 2.54 — the outliers dominate.
/// Narrow types clip the largest outliers at their max, so their data sits somewhat below this.
pub fn plain_rms(d: DType) -> Option<f64> {
    let shrunk = (2..=6).map(|e| 2f64.powi(-2 * e)).sum::<f64>() / 5.0;
    let grown = (2..=4).map(|e| 2f64.powi(2 * e)).sum::<f64>() / 3.0;
    let m2 = 0.83 + 0.10 * shrunk + 0.05 * grown;
    plain_spread(d).map(|s| s * m2.sqrt())
}

/// The standard deviation of the normal core of [`InputGen::plain`]'s mixture for a float dtype:
/// 1 for f32/bf16/f16, a sixteenth of the max for narrow floats; `None` for ints and scale formats.
/// Consumers that give the data a meaning (the attention oracle's default dequant scales) divide by
/// it to get values of about unit size.
pub fn plain_spread(d: DType) -> Option<f64> {
    match d {
        DType::F32 | DType::BF16 | DType::F16 => Some(1.0),
        DType::E8M0 | DType::UE4M3 | DType::I1 | DType::I8 | DType::I32 => None,
        d => format_of(d).map(|f| f.max_finite() as f64 / 16.0),
    }
}
