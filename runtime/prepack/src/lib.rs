//! Host-side scale-layout prepack and unpack (`tessera-prepack`): block scales are swizzled once,
//! at load, into the physical layout the kernel's type names (NVIDIA 128x4 atoms, AMD gfx950
//! per-lane bytes) and can be unswizzled back for inspection and tests. Depends on `tessera-ir`
//! only, so the LLVM-free runner and the interpreter can both use it.
//!
//! Geometry: logical scales are a row-major `[mn, ks]` matrix (one row per M/N index, one column
//! per K-block). Padding (MN and scale-K up to the layout's atom, see [`layout::padded_dims`])
//! holds the *neutral* scale 1.0, so padded rows/columns multiply zero data by 1 and contribute
//! nothing. Scales of any block-scale dtype are handled: e8m0/ue4m3 (1 byte), f32 (4 bytes LE).
//!
//! Mismatch detection: the physical layout cannot be inferred from a buffer (128x4 and linear have
//! the same size whenever MN % 128 == 0 and Ks % 4 == 0), so a prepacked buffer travels as
//! [`Prepacked`], tagged with its layout, dtype and logical extents (serialized with a 16-byte
//! header by [`Prepacked::to_bytes`]); binding it to a kernel goes through [`Prepacked::expect`],
//! which compares the tag with the kernel's type. Raw byte slices are only size-checked.

pub mod error;
pub mod layout;
mod tagged;

pub use error::PrepackError;
pub use layout::{AtomShape, atom_shape, offset, padded_dims, physical_elems};
pub use tagged::Prepacked;

use tessera_ir::{DType, ScaleLayout};

/// Bytes per scale element, or an error for a non-scale dtype.
pub fn scale_bytes(dtype: DType) -> Result<usize, PrepackError> {
    match dtype {
        DType::E8M0 | DType::UE4M3 => Ok(1),
        DType::F32 => Ok(4),
        _ => Err(PrepackError::NotAScaleType { dtype }),
    }
}

/// The encoding of the scale 1.0: e8m0 2^(127-127), ue4m3 0.0111.000, f32 1.0.
pub fn neutral_scale(dtype: DType) -> Result<Vec<u8>, PrepackError> {
    match dtype {
        DType::E8M0 => Ok(vec![127]),
        DType::UE4M3 => Ok(vec![0x38]),
        DType::F32 => Ok(1.0f32.to_le_bytes().to_vec()),
        _ => Err(PrepackError::NotAScaleType { dtype }),
    }
}

/// Bytes of the physical buffer for `[mn, ks]` scales of `dtype` in `layout`.
pub fn physical_bytes(
    layout: ScaleLayout,
    dtype: DType,
    mn: usize,
    ks: usize,
) -> Result<usize, PrepackError> {
    Ok(physical_elems(layout, mn, ks) * scale_bytes(dtype)?)
}

/// Swizzle row-major logical `[mn, ks]` scales into `layout`, padding with the neutral scale.
pub fn prepack(
    layout: ScaleLayout,
    dtype: DType,
    logical: &[u8],
    mn: usize,
    ks: usize,
) -> Result<Vec<u8>, PrepackError> {
    let eb = scale_bytes(dtype)?;
    check_len(
        "logical",
        ScaleLayout::Linear,
        dtype,
        mn,
        ks,
        mn * ks * eb,
        logical.len(),
    )?;
    let neutral = neutral_scale(dtype)?;
    let (mp, kp) = padded_dims(layout, mn, ks);
    let mut out = neutral.repeat(mp * kp);
    for r in 0..mn {
        for c in 0..ks {
            let src = (r * ks + c) * eb;
            let dst = offset(layout, r, c, kp) * eb;
            out[dst..dst + eb].copy_from_slice(&logical[src..src + eb]);
        }
    }
    Ok(out)
}

/// Inverse of [`prepack`]: read the logical `[mn, ks]` scales back out of a physical buffer
/// (padding is dropped).
pub fn unpack(
    layout: ScaleLayout,
    dtype: DType,
    physical: &[u8],
    mn: usize,
    ks: usize,
) -> Result<Vec<u8>, PrepackError> {
    let eb = scale_bytes(dtype)?;
    check_len(
        "physical",
        layout,
        dtype,
        mn,
        ks,
        physical_bytes(layout, dtype, mn, ks)?,
        physical.len(),
    )?;
    let (_, kp) = padded_dims(layout, mn, ks);
    let mut out = vec![0u8; mn * ks * eb];
    for r in 0..mn {
        for c in 0..ks {
            let src = offset(layout, r, c, kp) * eb;
            let dst = (r * ks + c) * eb;
            out[dst..dst + eb].copy_from_slice(&physical[src..src + eb]);
        }
    }
    Ok(out)
}

/// [`prepack`] for a rank-2 scale *tensor* as the user declared it: `shape` is its row-major shape
/// and `k_axis` the axis that indexes K-blocks. For `k_axis == 0` (e.g. weights `[K, N]` with
/// scales `[K/32, N]`) the logical matrix is the transpose, so the MN index always leads.
pub fn prepack_tensor(
    layout: ScaleLayout,
    dtype: DType,
    scales: &[u8],
    shape: &[usize],
    k_axis: usize,
) -> Result<Vec<u8>, PrepackError> {
    let (mn, ks, rows) = geometry(shape, k_axis)?;
    let logical = if k_axis == 1 {
        scales.to_vec()
    } else {
        transpose(dtype, scales, rows, mn)?
    };
    prepack(layout, dtype, &logical, mn, ks)
}

/// Inverse of [`prepack_tensor`]: back to the user's `shape`.
pub fn unpack_tensor(
    layout: ScaleLayout,
    dtype: DType,
    physical: &[u8],
    shape: &[usize],
    k_axis: usize,
) -> Result<Vec<u8>, PrepackError> {
    let (mn, ks, _) = geometry(shape, k_axis)?;
    let logical = unpack(layout, dtype, physical, mn, ks)?;
    if k_axis == 1 {
        Ok(logical)
    } else {
        transpose(dtype, &logical, mn, ks)
    }
}

/// `(mn, ks, rows)` of a rank-2 scale tensor.
fn geometry(shape: &[usize], k_axis: usize) -> Result<(usize, usize, usize), PrepackError> {
    match (shape, k_axis) {
        ([r, c], 1) => Ok((*r, *c, *r)),
        ([r, c], 0) => Ok((*c, *r, *r)),
        _ => Err(PrepackError::BadGeometry {
            shape: shape.to_vec(),
            k_axis,
        }),
    }
}

/// Transpose a row-major `[rows, cols]` matrix of scale elements.
fn transpose(dtype: DType, m: &[u8], rows: usize, cols: usize) -> Result<Vec<u8>, PrepackError> {
    let eb = scale_bytes(dtype)?;
    check_len(
        "logical",
        ScaleLayout::Linear,
        dtype,
        rows,
        cols,
        rows * cols * eb,
        m.len(),
    )?;
    let mut out = vec![0u8; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            let src = (r * cols + c) * eb;
            let dst = (c * rows + r) * eb;
            out[dst..dst + eb].copy_from_slice(&m[src..src + eb]);
        }
    }
    Ok(out)
}

fn check_len(
    what: &'static str,
    layout: ScaleLayout,
    dtype: DType,
    mn: usize,
    ks: usize,
    expected: usize,
    found: usize,
) -> Result<(), PrepackError> {
    if expected == found {
        return Ok(());
    }
    Err(PrepackError::SizeMismatch {
        what,
        layout: PrepackError::layout_name(layout),
        dtype,
        mn,
        ks,
        expected,
        found,
    })
}
