//! Between IR dtypes and `tessera-formats`, and between device-format byte buffers and f32/f64
//! values: `decode_buf` reads any [`TensorBuf`] (unpacking FP4, decoding codes, reading LE bytes),
//! `encode_buf` builds one from values (rounding exactly as the formats crate does).

use crate::TensorBuf;
use crate::error::{E_BUF_LEN, E_DTYPE, E_SHAPE, NumericsError};
use tessera_formats::{Format, encode, try_pack_fp4, try_unpack_fp4};
use tessera_ir::DType;

/// The formats-crate encoding of a float dtype held as codes or 16-bit words; `None` for
/// i1/i8/i32/f32 (stored natively).
pub fn format_of(d: DType) -> Option<Format> {
    Some(match d {
        DType::BF16 => Format::BF16,
        DType::F16 => Format::F16,
        DType::F8E4M3 => Format::F8E4M3,
        DType::F8E4M3Fnuz => Format::F8E4M3Fnuz,
        DType::F8E5M2 => Format::F8E5M2,
        DType::F6E2M3 => Format::F6E2M3,
        DType::F6E3M2 => Format::F6E3M2,
        DType::F4E2M1 => Format::F4E2M1,
        DType::E8M0 => Format::E8M0,
        DType::UE4M3 => Format::UE4M3,
        DType::I1 | DType::I8 | DType::I32 | DType::F32 => return None,
    })
}

/// The most elements one host tensor may have (docs/NUMERICS.md, "Host buffers"): 2^30. Generating
/// inputs stages them as f32 (4 GiB at this size) beside their storage, so larger shapes would
/// exhaust memory and abort the process instead of failing.
pub const MAX_HOST_ELEMENTS: usize = 1 << 30;

/// The element count of `shape`, refusing counts over [`MAX_HOST_ELEMENTS`] (and products that
/// overflow) with E0502. Shapes come from users (`--dim`, `.npy` headers), so this is an error,
/// not an arithmetic panic or an allocation abort.
pub fn checked_numel(shape: &[usize]) -> Result<usize, NumericsError> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_HOST_ELEMENTS)
        .ok_or_else(|| {
            NumericsError::new(
                E_SHAPE,
                format!(
                    "shape {shape:?} has too many elements for a host buffer (the limit is 2^30 = {MAX_HOST_ELEMENTS})"
                ),
            )
        })
}

/// Checks that every byte of a one-byte-per-element buffer is a code of its dtype: fp6 codes are
/// 6 bits (bits 6-7 clear) and i1 is 0 or 1. Such bytes used to be masked silently; they are E0510
/// with the first offending element's index.
pub fn check_codes(buf: &TensorBuf) -> Result<(), NumericsError> {
    let (max, what) = match buf.dtype {
        DType::F6E2M3 | DType::F6E3M2 => (0x3f, "a 6-bit code (0x00..=0x3f)"),
        DType::I1 => (1, "0 or 1"),
        _ => return Ok(()),
    };
    if let Some(i) = buf.bytes.iter().position(|b| *b > max) {
        return Err(NumericsError::new(
            crate::error::E_BAD_CODE,
            format!(
                "{} element {i} holds 0x{:02x}, which is not {what}",
                buf.dtype, buf.bytes[i]
            ),
        ));
    }
    Ok(())
}

/// Checks that `buf.bytes` has the length its dtype, shape and packing call for.
pub fn check_len(buf: &TensorBuf) -> Result<(), NumericsError> {
    // Guards `expected_bytes`, which multiplies unchecked.
    checked_numel(&buf.shape)?;
    if buf.dtype == DType::F4E2M1 && buf.packed_axis.is_none_or(|a| a >= buf.shape.len()) {
        return Err(NumericsError::new(
            E_BUF_LEN,
            format!(
                "f4e2m1 buffer of shape {:?} needs a packed axis inside the shape, found {:?}",
                buf.shape, buf.packed_axis
            ),
        ));
    }
    let want = TensorBuf::expected_bytes(buf.dtype, &buf.shape, buf.packed_axis);
    if buf.bytes.len() != want {
        return Err(NumericsError::new(
            E_BUF_LEN,
            format!(
                "{} buffer of shape {:?} needs {want} bytes, found {}",
                buf.dtype,
                buf.shape,
                buf.bytes.len()
            ),
        ));
    }
    Ok(())
}

/// The per-element codes or words of a buffer, one `u32` per element (FP4 unpacked; ints as their
/// two's-complement bits). Used by `decode_buf` and by poison detection.
pub fn element_words(buf: &TensorBuf) -> Result<Vec<u32>, NumericsError> {
    check_len(buf)?;
    let b = &buf.bytes;
    Ok(match buf.dtype {
        DType::F4E2M1 => {
            let axis = buf.packed_axis.unwrap_or(0); // check_len guarantees Some
            try_unpack_fp4(b, &buf.shape, axis)
                .map_err(|e| NumericsError::new(E_BUF_LEN, e.to_string()))?
                .into_iter()
                .map(u32::from)
                .collect()
        }
        DType::BF16 | DType::F16 => b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
            .collect(),
        DType::F32 | DType::I32 => b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => b.iter().map(|&x| x as u32).collect(),
    })
}

/// Exact f64 values of every element (ints exactly, codes decoded, FP4 unpacked).
pub fn decode_buf_f64(buf: &TensorBuf) -> Result<Vec<f64>, NumericsError> {
    let words = element_words(buf)?;
    Ok(match buf.dtype {
        DType::F32 => words.iter().map(|&w| f32::from_bits(w) as f64).collect(),
        DType::I32 => words.iter().map(|&w| w as i32 as f64).collect(),
        DType::I8 => words.iter().map(|&w| w as u8 as i8 as f64).collect(),
        DType::I1 => words.iter().map(|&w| (w & 1) as f64).collect(),
        d => {
            let f = format_of(d).ok_or_else(|| NumericsError::new(E_DTYPE, format!("cannot decode {d}")))?;
            words
                .iter()
                .map(|&w| tessera_formats::decode(f, w as u16) as f64)
                .collect()
        }
    })
}

/// f32 values of every element. Exact for every float dtype; i32 beyond 2^24 rounds (use
/// [`decode_buf_f64`] when that matters).
pub fn decode_buf(buf: &TensorBuf) -> Result<Vec<f32>, NumericsError> {
    Ok(decode_buf_f64(buf)?.into_iter().map(|v| v as f32).collect())
}

/// Round-to-nearest-even to an integer type, saturating; NaN gives 0.
fn to_int(v: f32, lo: f64, hi: f64) -> i64 {
    if v.is_nan() {
        0
    } else {
        (v as f64).round_ties_even().clamp(lo, hi) as i64
    }
}

/// A buffer of `dtype` holding `values` (row-major, `product(shape)` of them), each rounded as the
/// formats crate rounds (narrow floats: RNE + satfinite; bf16/f16: IEEE RNE; ints: RNE, saturating,
/// NaN -> 0; i1: nonzero -> 1). FP4 is packed along `packed_axis`, which it requires.
pub fn encode_buf(
    dtype: DType,
    shape: &[usize],
    packed_axis: Option<usize>,
    values: &[f32],
) -> Result<TensorBuf, NumericsError> {
    let n = checked_numel(shape)?;
    if values.len() != n {
        return Err(NumericsError::new(
            E_BUF_LEN,
            format!(
                "{} values given for a {dtype} tensor of shape {shape:?} ({n} elements)",
                values.len()
            ),
        ));
    }
    let bytes: Vec<u8> = match dtype {
        DType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::I32 => values
            .iter()
            .flat_map(|&v| (to_int(v, i32::MIN as f64, i32::MAX as f64) as i32).to_le_bytes())
            .collect(),
        DType::I8 => values
            .iter()
            .map(|&v| to_int(v, -128.0, 127.0) as i8 as u8)
            .collect(),
        DType::I1 => values.iter().map(|&v| (v != 0.0) as u8).collect(),
        DType::BF16 | DType::F16 => {
            let f = if dtype == DType::BF16 {
                Format::BF16
            } else {
                Format::F16
            };
            values.iter().flat_map(|&v| encode(f, v).to_le_bytes()).collect()
        }
        DType::F4E2M1 => {
            let axis = packed_axis.ok_or_else(|| {
                NumericsError::new(
                    E_BUF_LEN,
                    format!("f4e2m1 tensor of shape {shape:?} needs an explicit packed axis"),
                )
            })?;
            let codes: Vec<u8> = values.iter().map(|&v| encode(Format::F4E2M1, v) as u8).collect();
            try_pack_fp4(&codes, shape, axis).map_err(|e| NumericsError::new(E_BUF_LEN, e.to_string()))?
        }
        d => {
            let f = format_of(d).ok_or_else(|| NumericsError::new(E_DTYPE, format!("cannot encode {d}")))?;
            values.iter().map(|&v| encode(f, v) as u8).collect()
        }
    };
    let packed_axis = if dtype == DType::F4E2M1 { packed_axis } else { None };
    Ok(TensorBuf {
        dtype,
        shape: shape.to_vec(),
        packed_axis,
        bytes,
    })
}

/// A buffer from per-element codes (one `u8` per element, FP4 unpacked), packing FP4.
pub fn buf_from_codes(
    dtype: DType,
    shape: &[usize],
    packed_axis: Option<usize>,
    codes: &[u8],
) -> Result<TensorBuf, NumericsError> {
    if dtype.byte_size().is_some_and(|b| b != 1) || matches!(dtype, DType::I1 | DType::I8) {
        return Err(NumericsError::new(
            E_DTYPE,
            format!("{dtype} is not stored as one-byte codes"),
        ));
    }
    let bytes = if dtype == DType::F4E2M1 {
        let axis = packed_axis.ok_or_else(|| {
            NumericsError::new(
                E_BUF_LEN,
                format!("f4e2m1 tensor of shape {shape:?} needs an explicit packed axis"),
            )
        })?;
        try_pack_fp4(codes, shape, axis).map_err(|e| NumericsError::new(E_BUF_LEN, e.to_string()))?
    } else {
        codes.to_vec()
    };
    let buf = TensorBuf {
        dtype,
        shape: shape.to_vec(),
        packed_axis: if dtype == DType::F4E2M1 { packed_axis } else { None },
        bytes,
    };
    check_len(&buf)?;
    Ok(buf)
}
