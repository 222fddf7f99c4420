//! `.npy` read/write of device-format buffers (npyz parses and writes the header; the payload is the
//! buffer's little-endian bytes, unchanged). numpy has no narrow float types, so:
//!
//! | dtype | npy descr | shape in the file |
//! |---|---|---|
//! | f32 / f16 | `<f4` / `<f2` | logical |
//! | bf16 | `<u2` (raw bf16 bits; numpy has no bfloat16; ml_dtypes' `<V2` is not accepted) | logical |
//! | i32 / i8 | `<i4` / `|i1` | logical |
//! | i1 | `|u1` (0 or 1) | logical |
//! | fp8, fp6, e8m0, ue4m3 | `|u1` codes | logical |
//! | f4e2m1 | `|u1`, two codes per byte, element 2i in the low nibble | packed axis halved (rounded up) |

use crate::TensorBuf;
use crate::dtype_map::{check_len, checked_numel};
use crate::error::{E_NPY_DTYPE, E_NPY_FILE, E_NPY_SOURCE, E_SHAPE, NumericsError};
use npyz::WriterBuilder;
use std::io::{Read, Write};
use std::path::Path;
use tessera_ir::DType;

/// The numpy type string a dtype is stored as.
pub fn npy_descr(d: DType) -> &'static str {
    match d {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::BF16 => "<u2",
        DType::I32 => "<i4",
        DType::I8 => "|i1",
        _ => "|u1",
    }
}

/// The shape written to the file: logical, except FP4's packed axis, which is halved.
pub fn npy_shape(buf_dtype: DType, shape: &[usize], packed_axis: Option<usize>) -> Vec<usize> {
    let mut s = shape.to_vec();
    if buf_dtype == DType::F4E2M1
        && let Some(a) = packed_axis
        && a < s.len()
    {
        s[a] = s[a].div_ceil(2);
    }
    s
}

/// Serialize a buffer as `.npy` bytes.
pub fn to_npy_bytes(buf: &TensorBuf) -> Result<Vec<u8>, NumericsError> {
    check_len(buf)?;
    let descr: npyz::TypeStr = npy_descr(buf.dtype)
        .parse()
        .map_err(|e| NumericsError::new(E_NPY_FILE, format!("bad numpy type string: {e}")))?;
    let shape: Vec<u64> = npy_shape(buf.dtype, &buf.shape, buf.packed_axis)
        .iter()
        .map(|&d| d as u64)
        .collect();
    let mut out = Vec::new();
    npyz::WriteOptions::new_header_only()
        .dtype(npyz::DType::Plain(descr))
        .shape(&shape)
        .writer(&mut out)
        .write_header_only()
        .map_err(|e| NumericsError::new(E_NPY_FILE, format!("cannot write .npy header: {e}")))?;
    out.extend_from_slice(&buf.bytes);
    Ok(out)
}

/// Write a buffer to `path` as `.npy`.
pub fn write_npy(path: &Path, buf: &TensorBuf) -> Result<(), NumericsError> {
    let bytes = to_npy_bytes(buf)?;
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| NumericsError::new(E_NPY_FILE, format!("cannot write {}: {e}", path.display())))
}

/// Parse `.npy` bytes (`name` is used in messages) as a tensor of `dtype`. When `shape` is given
/// the file must have exactly that logical shape; otherwise the file's shape is taken (FP4: the
/// packed axis then holds an even extent, twice the file's). FP4 needs `packed_axis`.
pub fn from_npy_bytes(
    bytes: &[u8],
    name: &str,
    dtype: DType,
    shape: Option<&[usize]>,
    packed_axis: Option<usize>,
) -> Result<TensorBuf, NumericsError> {
    precheck_header_shape(bytes, name)?;
    let file = npyz::NpyFile::new(bytes)
        .map_err(|e| NumericsError::new(E_NPY_FILE, format!("{name}: not a readable .npy file: {e}")))?;
    let header = file.header().clone();
    let want_descr = npy_descr(dtype);
    let found_descr = match header.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => other.descr().to_string(),
    };
    // numpy writes single-byte types with '|', but '<'/'>' is equally valid for them.
    let norm = |s: &str| {
        if s.len() == 3 && s.ends_with('1') {
            s[1..].to_string()
        } else {
            s.to_string()
        }
    };
    if norm(&found_descr) != norm(want_descr) {
        return Err(NumericsError::new(
            E_NPY_DTYPE,
            format!(
                "{name}: a {dtype} tensor is stored as '{want_descr}', but the file holds '{found_descr}'"
            ),
        ));
    }
    if header.order() == npyz::Order::Fortran {
        return Err(NumericsError::new(
            E_NPY_FILE,
            format!("{name}: Fortran-ordered arrays are not supported; save C order"),
        ));
    }
    if dtype == DType::F4E2M1 && packed_axis.is_none() {
        return Err(NumericsError::new(
            E_NPY_FILE,
            format!("{name}: an f4e2m1 tensor needs its packed axis to be read"),
        ));
    }
    let file_shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    let logical: Vec<usize> = match shape {
        Some(s) => {
            let want_file = npy_shape(dtype, s, packed_axis);
            if want_file != file_shape {
                return Err(NumericsError::new(
                    E_SHAPE,
                    format!(
                        "{name}: expected shape {want_file:?}{}, found {file_shape:?}",
                        if dtype == DType::F4E2M1 { " (packed)" } else { "" }
                    ),
                ));
            }
            s.to_vec()
        }
        None => {
            let mut s = file_shape.clone();
            if let Some(a) = packed_axis.filter(|_| dtype == DType::F4E2M1) {
                match s.get_mut(a) {
                    Some(d) => {
                        *d = d.checked_mul(2).ok_or_else(|| {
                            NumericsError::new(E_SHAPE, format!("{name}: shape {file_shape:?} is too large"))
                        })?
                    }
                    None => {
                        return Err(NumericsError::new(
                            E_SHAPE,
                            format!("{name}: packed axis {a} is outside the file's shape {file_shape:?}"),
                        ));
                    }
                }
            }
            s
        }
    };
    let mut data = Vec::new();
    file.into_inner()
        .read_to_end(&mut data)
        .map_err(|e| NumericsError::new(E_NPY_FILE, format!("{name}: cannot read data: {e}")))?;
    let buf = TensorBuf {
        dtype,
        shape: logical,
        packed_axis: if dtype == DType::F4E2M1 { packed_axis } else { None },
        bytes: data,
    };
    check_len(&buf).map_err(|e| NumericsError::new(E_NPY_FILE, format!("{name}: {}", e.message)))?;
    crate::dtype_map::check_codes(&buf)
        .map_err(|e| NumericsError::new(e.code, format!("{name}: {}", e.message)))?;
    Ok(buf)
}

/// Refuses a header whose shape has more elements than a host buffer can address, before npyz
/// multiplies the dims unchecked (an overflow panic in builds with overflow checks). Anything this
/// light scan does not understand is left to npyz to report.
fn precheck_header_shape(bytes: &[u8], name: &str) -> Result<(), NumericsError> {
    // The header dict is ASCII near the start (npy v1-v3); the scan stops at its first ')'.
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let Some(tuple) = text
        .split_once("'shape'")
        .and_then(|(_, rest)| rest.split_once('('))
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(t, _)| t)
    else {
        return Ok(());
    };
    let mut shape = Vec::new();
    for d in tuple.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match d.trim_end_matches('L').parse::<u128>() {
            Ok(v) => shape.push(usize::try_from(v).unwrap_or(usize::MAX)),
            Err(_) => return Ok(()),
        }
    }
    checked_numel(&shape)
        .map(|_| ())
        .map_err(|e| NumericsError::new(E_NPY_FILE, format!("{name}: {}", e.message)))
}

/// Read `path` as a tensor of `dtype` (see [`from_npy_bytes`]).
pub fn read_npy(
    path: &Path,
    dtype: DType,
    shape: Option<&[usize]>,
    packed_axis: Option<usize>,
) -> Result<TensorBuf, NumericsError> {
    let bytes = read_bounded(path)?;
    from_npy_bytes(&bytes, &path.display().to_string(), dtype, shape, packed_axis)
}

/// The largest `.npy` file [`read_npy`] reads: 16 GiB of data plus the header. A tensor larger
/// than this is not a test input; a path that reports more is refused before it is read.
pub const MAX_NPY_BYTES: u64 = (16 << 30) + (1 << 20);

/// The bytes of `path`, which must be a regular file (after symlinks) of at most
/// [`MAX_NPY_BYTES`]: a device (/dev/zero, /dev/urandom), a FIFO or a directory is refused at once
/// (`E0509`) instead of being read until memory runs out (F07), and the read stops at the size the
/// file had when it was checked, so a file that grows meanwhile cannot make it unbounded either.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, NumericsError> {
    let cannot =
        |e: std::io::Error| NumericsError::new(E_NPY_FILE, format!("cannot read {}: {e}", path.display()));
    // stat before open: opening a FIFO with no writer would block.
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        let ft = meta.file_type();
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_symlink() {
            "a symbolic link"
        } else {
            "not a regular file (a device, FIFO or socket: a stream with no end)"
        };
        return Err(NumericsError::new(
            E_NPY_SOURCE,
            format!(
                "{} is {what}; a .npy input must be a regular file",
                path.display()
            ),
        ));
    }
    if meta.len() > MAX_NPY_BYTES {
        return Err(NumericsError::new(
            E_NPY_SOURCE,
            format!(
                "{} holds {} bytes, more than the {} bytes a .npy input may have",
                path.display(),
                meta.len(),
                MAX_NPY_BYTES
            ),
        ));
    }
    let f = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    f.take(meta.len()).read_to_end(&mut bytes).map_err(cannot)?;
    Ok(bytes)
}
