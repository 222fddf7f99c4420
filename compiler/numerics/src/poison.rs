//! Output poisoning: before a launch every output buffer is filled with a pattern no correct kernel
//! writes, so an element the kernel never stored is found afterwards by its raw bytes (not merely by
//! being NaN, which a buggy kernel can also compute).
//!
//! | dtype | poison | detectable |
//! |---|---|---|
//! | f32 | 0x7FC0DEAD (quiet NaN, payload DEAD; GPUs compute 0x7FFFFFFF, x86 0x7FC00000) | yes |
//! | bf16 | 0x7FED (quiet NaN with payload; canonical is 0x7FC0/0x7FFF) | yes |
//! | f16 | 0x7EAD (quiet NaN with payload; canonical is 0x7E00/0x7FFF) | yes |
//! | f8e4m3, ue4m3 | 0xFF (negative NaN; `cvt` writes 0x7F; ue4m3 has no sign bit at all) | yes |
//! | f8e5m2 | 0xFD (negative NaN with payload; `cvt` writes 0x7F) | yes |
//! | f8e4m3fnuz, e8m0 | their only NaN code (0x80, 0xFF) | no: same as a computed NaN |
//! | f6e2m3, f6e3m2, f4e2m1 | -max (0x3F, 0xF): no spare code exists; a loud value | no |
//! | i8, i32, i1 | 0x80, 0xDEADBEEF, 0x01 | no |
//!
//! Undetectable poisons still fail comparisons when never overwritten (NaN or -max against a
//! finite expected value, almost always); they are just not *counted* as poisoned.

use crate::dtype_map::element_words;
use crate::error::NumericsError;
use crate::{TensorArg, TensorBuf};
use tessera_ir::{DType, TensorType};

/// The per-element poison word (a code, a 16-bit word or a 32-bit word).
pub fn poison_word(d: DType) -> u32 {
    match d {
        DType::F32 => 0x7FC0_DEAD,
        DType::BF16 => 0x7FED,
        DType::F16 => 0x7EAD,
        DType::F8E4M3 | DType::UE4M3 | DType::E8M0 => 0xFF,
        DType::F8E5M2 => 0xFD,
        DType::F8E4M3Fnuz => 0x80,
        DType::F6E2M3 | DType::F6E3M2 => 0x3F,
        DType::F4E2M1 => 0xF,
        DType::I8 => 0x80,
        DType::I32 => 0xDEAD_BEEF,
        DType::I1 => 0x01,
    }
}

/// Whether a surviving poison word can be told apart from anything a kernel would write.
pub fn poison_detectable(d: DType) -> bool {
    matches!(
        d,
        DType::F32 | DType::BF16 | DType::F16 | DType::F8E4M3 | DType::UE4M3 | DType::F8E5M2
    )
}

/// A buffer of the given type filled with the poison pattern (FP4 packed along `packed_axis`,
/// every nibble poisoned, including the padding nibble of odd extents).
pub fn poison_buf(dtype: DType, shape: &[usize], packed_axis: Option<usize>) -> TensorBuf {
    let packed_axis = if dtype == DType::F4E2M1 { packed_axis } else { None };
    let nbytes = TensorBuf::expected_bytes(dtype, shape, packed_axis);
    let w = poison_word(dtype);
    let bytes = match dtype {
        DType::F32 | DType::I32 => (0..nbytes / 4).flat_map(|_| w.to_le_bytes()).collect(),
        DType::BF16 | DType::F16 => (0..nbytes / 2).flat_map(|_| (w as u16).to_le_bytes()).collect(),
        DType::F4E2M1 => vec![(w as u8) | ((w as u8) << 4); nbytes],
        _ => vec![w as u8; nbytes],
    };
    TensorBuf {
        dtype,
        shape: shape.to_vec(),
        packed_axis,
        bytes,
    }
}

/// A fresh output of type `ty` at `shape`: its data poisoned and, for a scaled type, its block-scale
/// buffer (`ceil(shape / block)`, row-major) poisoned too, since the kernel writes both. No NV
/// per-tensor scale: an output's comes from its `global = ...` scalar when the run binds it.
pub fn poisoned_output(ty: &TensorType, shape: &[usize]) -> TensorArg {
    let scale = ty.scale.as_ref().map(|s| {
        let sshape: Vec<usize> = shape
            .iter()
            .zip(&s.block)
            .map(|(d, b)| d.div_ceil((*b).max(1) as usize))
            .collect();
        poison_buf(s.scale_dtype, &sshape, None)
    });
    TensorArg {
        data: poison_buf(ty.dtype, shape, ty.packed_axis),
        scale,
        global_scale: None,
    }
}

/// Per element: still holds the poison word (always all-false for undetectable poisons).
pub fn poisoned_mask(buf: &TensorBuf) -> Result<Vec<bool>, NumericsError> {
    let words = element_words(buf)?;
    if !poison_detectable(buf.dtype) {
        return Ok(vec![false; words.len()]);
    }
    let p = poison_word(buf.dtype);
    Ok(words.iter().map(|&w| w == p).collect())
}
