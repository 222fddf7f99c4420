//! Host-side scale-layout prepack and unpack (`tessera-prepack`): block scales are swizzled once,
//! at load, into the physical layout the kernel's type names (NVIDIA 128x4 atoms, AMD gfx950
//! per-lane bytes) and can be unswizzled back for inspection and tests. Depends on `tessera-ir` and
//! `tessera-numerics` (host buffers) only, so the LLVM-free runner, the passes' diff-interp and the
//! interpreter all share it; [`bind`] applies it to a kernel's whole bindings.
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

pub mod bind;
pub mod error;
pub mod layout;
mod tagged;

pub use bind::{
    BindError, has_swizzled, is_swizzled, linear_view, prepack_arg, prepack_bindings, unpack_bindings,
};
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

/// [`prepack`] for a scale *tensor* as the user declared it: `shape` is its row-major shape and
/// `k_axis` the axis that indexes K-blocks, one of the last two. Leading axes are a batch (MoE
/// experts `[E, N, K/32]`): each `[rows, cols]` slice is prepacked on its own and the slices are
/// concatenated. For `k_axis == rank - 2` (e.g. weights `[K, N]` with scales `[K/32, N]`) each
/// logical matrix is the slice's transpose, so the MN index always leads.
pub fn prepack_tensor(
    layout: ScaleLayout,
    dtype: DType,
    scales: &[u8],
    shape: &[usize],
    k_axis: usize,
) -> Result<Vec<u8>, PrepackError> {
    let g = geometry(shape, k_axis)?;
    let eb = scale_bytes(dtype)?;
    let slice = g.rows * g.cols * eb;
    check_len(
        "logical",
        ScaleLayout::Linear,
        dtype,
        g.batch * g.rows,
        g.cols,
        g.batch * slice,
        scales.len(),
    )?;
    let mut out = Vec::with_capacity(g.batch * physical_bytes(layout, dtype, g.mn, g.ks)?);
    for b in 0..g.batch {
        let m = &scales[b * slice..(b + 1) * slice];
        let logical = if g.k_last {
            m.to_vec()
        } else {
            transpose(dtype, m, g.rows, g.cols)?
        };
        out.extend(prepack(layout, dtype, &logical, g.mn, g.ks)?);
    }
    Ok(out)
}

/// Inverse of [`prepack_tensor`]: back to the user's `shape`.
pub fn unpack_tensor(
    layout: ScaleLayout,
    dtype: DType,
    physical: &[u8],
    shape: &[usize],
    k_axis: usize,
) -> Result<Vec<u8>, PrepackError> {
    let g = geometry(shape, k_axis)?;
    let per = physical_bytes(layout, dtype, g.mn, g.ks)?;
    check_len(
        "physical",
        layout,
        dtype,
        g.batch * g.mn,
        g.ks,
        g.batch * per,
        physical.len(),
    )?;
    let mut out = Vec::with_capacity(g.batch * g.rows * g.cols * scale_bytes(dtype)?);
    for b in 0..g.batch {
        let logical = unpack(layout, dtype, &physical[b * per..(b + 1) * per], g.mn, g.ks)?;
        out.extend(if g.k_last {
            logical
        } else {
            transpose(dtype, &logical, g.mn, g.ks)?
        });
    }
    Ok(out)
}

/// Bytes of the physical buffer of a scale tensor (batch included), as [`prepack_tensor`] makes it.
pub fn physical_tensor_bytes(
    layout: ScaleLayout,
    dtype: DType,
    shape: &[usize],
    k_axis: usize,
) -> Result<usize, PrepackError> {
    let g = geometry(shape, k_axis)?;
    Ok(g.batch * physical_bytes(layout, dtype, g.mn, g.ks)?)
}

/// How a scale tensor maps onto `[mn, ks]` matrices.
struct Geometry {
    batch: usize,
    /// Extents of one row-major slice as stored.
    rows: usize,
    cols: usize,
    mn: usize,
    ks: usize,
    /// K-blocks along the last axis (no transpose needed).
    k_last: bool,
}

fn geometry(shape: &[usize], k_axis: usize) -> Result<Geometry, PrepackError> {
    let bad = || PrepackError::BadGeometry {
        shape: shape.to_vec(),
        k_axis,
    };
    let n = shape.len();
    // `k_axis < n - 2` rather than `k_axis + 2 < n`: the axis comes from the caller and must not overflow.
    if n < 2 || k_axis < n - 2 || k_axis >= n {
        return Err(bad());
    }
    let (rows, cols) = (shape[n - 2], shape[n - 1]);
    let batch = shape[..n - 2]
        .iter()
        .try_fold(1usize, |b, &d| b.checked_mul(d))
        .ok_or_else(bad)?;
    let k_last = k_axis == n - 1;
    let (mn, ks) = if k_last { (rows, cols) } else { (cols, rows) };
    Ok(Geometry {
        batch,
        rows,
        cols,
        mn,
        ks,
        k_last,
    })
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
