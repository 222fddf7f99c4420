//! FP4 packing: two E2M1 codes per byte along an explicit axis of a row-major shape, element `2i`
//! of that axis in the LOW nibble and `2i+1` in the high nibble. An odd extent leaves the high
//! nibble of the last byte of each line zero (+0.0).

use crate::FormatError;

/// Shape of the packed buffer: `shape[axis]` becomes `ceil(shape[axis] / 2)`.
pub fn packed_shape(shape: &[usize], axis: usize) -> Result<Vec<usize>, FormatError> {
    if axis >= shape.len() {
        return Err(FormatError::AxisOutOfRange {
            axis,
            rank: shape.len(),
        });
    }
    let mut s = shape.to_vec();
    s[axis] = s[axis].div_ceil(2);
    Ok(s)
}

/// `(outer, extent, inner)` of a row-major shape split at `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Pack one-code-per-byte FP4 codes (`codes.len() == product(shape)`, each `< 16`).
pub fn try_pack_fp4(codes: &[u8], shape: &[usize], axis: usize) -> Result<Vec<u8>, FormatError> {
    let pshape = packed_shape(shape, axis)?;
    let numel: usize = shape.iter().product();
    if codes.len() != numel {
        return Err(FormatError::LengthMismatch {
            expected: numel,
            found: codes.len(),
        });
    }
    if let Some(index) = codes.iter().position(|&c| c > 0xF) {
        return Err(FormatError::CodeOutOfRange {
            index,
            code: codes[index] as u16,
            format: crate::Format::F4E2M1,
        });
    }
    let (outer, n, inner) = split(shape, axis);
    let nb = n.div_ceil(2);
    let mut out = vec![0u8; pshape.iter().product()];
    for o in 0..outer {
        for i in 0..n {
            let src = (o * n + i) * inner;
            let dst = (o * nb + i / 2) * inner;
            let shift = 4 * (i % 2);
            for j in 0..inner {
                out[dst + j] |= codes[src + j] << shift;
            }
        }
    }
    Ok(out)
}

/// Unpack to one code per byte (`bytes.len() == product(packed_shape(shape, axis))`).
pub fn try_unpack_fp4(bytes: &[u8], shape: &[usize], axis: usize) -> Result<Vec<u8>, FormatError> {
    let pshape = packed_shape(shape, axis)?;
    let pn: usize = pshape.iter().product();
    if bytes.len() != pn {
        return Err(FormatError::LengthMismatch {
            expected: pn,
            found: bytes.len(),
        });
    }
    let (outer, n, inner) = split(shape, axis);
    let nb = n.div_ceil(2);
    let mut out = vec![0u8; shape.iter().product()];
    for o in 0..outer {
        for i in 0..n {
            let dst = (o * n + i) * inner;
            let src = (o * nb + i / 2) * inner;
            let shift = 4 * (i % 2);
            for j in 0..inner {
                out[dst + j] = (bytes[src + j] >> shift) & 0xF;
            }
        }
    }
    Ok(out)
}

/// [`try_pack_fp4`] for callers that have already validated shape and codes. Panics on a
/// mismatched length, an axis outside the shape or a code above 0xF (caller bugs).
pub fn pack_fp4(codes: &[u8], shape: &[usize], axis: usize) -> Vec<u8> {
    match try_pack_fp4(codes, shape, axis) {
        Ok(v) => v,
        Err(e) => panic!("pack_fp4: {e}"),
    }
}

/// [`try_unpack_fp4`] for callers that have already validated the shape. Panics on a mismatched
/// length or an axis outside the shape (caller bugs).
pub fn unpack_fp4(bytes: &[u8], shape: &[usize], axis: usize) -> Vec<u8> {
    match try_unpack_fp4(bytes, shape, axis) {
        Ok(v) => v,
        Err(e) => panic!("unpack_fp4: {e}"),
    }
}
