//! TMA tensor maps encoded on the host. [`TensorMapPlan::new`] is a pure function from the bundle's
//! `TmaSpec` and the actual buffer to the arguments of `cuTensorMapEncodeTiled` (checked against the
//! driver's documented limits, so a bad spec is a clear error, not CUDA_ERROR_INVALID_VALUE);
//! [`encode`] calls the driver and returns the 128-byte map the kernel reads from device memory.

use crate::error::{CudaError, check};
use cudarc::driver::sys::{self, CUtensorMapDataType as T};
use tessera_bundle::TmaSpec;
use tessera_ir::DType;
use tessera_numerics::TensorBuf;

/// Element type as the copy engine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TmaElem {
    U8,
    U16,
    U32,
    I32,
    F16,
    BF16,
    F32,
}

impl TmaElem {
    pub fn parse(s: &str) -> Option<TmaElem> {
        Some(match s {
            "u8" => TmaElem::U8,
            "u16" => TmaElem::U16,
            "u32" => TmaElem::U32,
            "i32" => TmaElem::I32,
            "f16" => TmaElem::F16,
            "bf16" => TmaElem::BF16,
            "f32" => TmaElem::F32,
            _ => return None,
        })
    }

    pub fn bytes(self) -> u64 {
        match self {
            TmaElem::U8 => 1,
            TmaElem::U16 | TmaElem::F16 | TmaElem::BF16 => 2,
            TmaElem::U32 | TmaElem::I32 | TmaElem::F32 => 4,
        }
    }

    fn driver(self) -> T {
        match self {
            TmaElem::U8 => T::CU_TENSOR_MAP_DATA_TYPE_UINT8,
            TmaElem::U16 => T::CU_TENSOR_MAP_DATA_TYPE_UINT16,
            TmaElem::U32 => T::CU_TENSOR_MAP_DATA_TYPE_UINT32,
            TmaElem::I32 => T::CU_TENSOR_MAP_DATA_TYPE_INT32,
            TmaElem::F16 => T::CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
            TmaElem::BF16 => T::CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
            TmaElem::F32 => T::CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
        }
    }
}

/// The arguments of one `cuTensorMapEncodeTiled` call, innermost dimension first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMapPlan {
    pub elem: TmaElem,
    pub global_dim: Vec<u64>,
    /// Byte strides of dims 1.. (dim 0 is contiguous), as the driver wants them.
    pub global_strides: Vec<u64>,
    pub box_dim: Vec<u32>,
    pub swizzle: u32,
}

impl TensorMapPlan {
    /// Plan a map over `buf` (row-major, device storage format). FP4 buffers are seen as bytes: the
    /// packed axis has half the extent. `what` names the tensor in errors.
    pub fn new(tma: &TmaSpec, buf: &TensorBuf, what: &str) -> Result<TensorMapPlan, CudaError> {
        let bad = |why: String| CudaError::TensorMap {
            what: what.to_string(),
            why,
        };
        let elem = TmaElem::parse(&tma.elem).ok_or_else(|| {
            bad(format!(
                "element type {:?} is not one of u8 u16 u32 i32 f16 bf16 f32",
                tma.elem
            ))
        })?;
        let (global_dim, buf_elem_bytes) = walked(buf).map_err(bad)?;
        if buf_elem_bytes != elem.bytes() {
            return Err(bad(format!(
                "TMA element {:?} is {} bytes but the buffer holds {} ({} bytes per element)",
                tma.elem,
                elem.bytes(),
                buf.dtype,
                buf_elem_bytes
            )));
        }
        let rank = global_dim.len();
        if !(1..=5).contains(&rank) {
            return Err(bad(format!("rank {rank}; TMA tiled maps take rank 1 to 5")));
        }
        if tma.box_dims.len() != rank {
            return Err(bad(format!(
                "box has {} dims for a rank-{rank} tensor",
                tma.box_dims.len()
            )));
        }
        if let Some(d) = global_dim.iter().find(|d| !extent_ok(**d)) {
            return Err(bad(format!("extent {d} outside 1..=2^32")));
        }
        let global_strides = byte_strides(&global_dim, elem.bytes());
        // The driver requires 16-byte multiples: a row pitch of, say, 100 fp8 elements cannot be
        // described, and the compiler must not have chosen TMA for such a tensor.
        if let Some(stride) = global_strides.iter().find(|s| !stride_ok(**s)) {
            return Err(bad(format!(
                "row pitch {stride} bytes is not a multiple of 16 (or >= 2^40): TMA cannot address this shape \
                 (global dims innermost first {global_dim:?})"
            )));
        }
        if let Some(b) = tma.box_dims.iter().find(|b| **b == 0 || **b > 256) {
            return Err(bad(format!("box extent {b} outside 1..=256")));
        }
        let inner_bytes = u64::from(tma.box_dims[0]) * elem.bytes();
        match tma.swizzle {
            0 => {
                if !inner_bytes.is_multiple_of(16) {
                    return Err(bad(format!(
                        "inner box of {inner_bytes} bytes is not a multiple of 16"
                    )));
                }
            }
            32 | 64 | 128 => {
                if inner_bytes > u64::from(tma.swizzle) {
                    return Err(bad(format!(
                        "inner box of {inner_bytes} bytes exceeds the {}-byte swizzle span",
                        tma.swizzle
                    )));
                }
            }
            s => return Err(bad(format!("swizzle {s}; expected 0, 32, 64 or 128"))),
        }
        Ok(TensorMapPlan {
            elem,
            global_dim,
            global_strides,
            box_dim: tma.box_dims.clone(),
            swizzle: tma.swizzle,
        })
    }
}

/// The buffer as the copy engine walks it: its extents innermost first (FP4 packs two codes per
/// byte along its packed axis) and its element bytes.
fn walked(buf: &TensorBuf) -> Result<(Vec<u64>, u64), String> {
    let mut shape: Vec<u64> = buf.shape.iter().map(|d| *d as u64).collect();
    let eb = match (buf.dtype, buf.packed_axis) {
        (DType::F4E2M1, Some(ax)) if ax < shape.len() => {
            shape[ax] = shape[ax].div_ceil(2);
            1
        }
        (DType::F4E2M1, _) => return Err("an FP4 buffer without a packed axis cannot be mapped".into()),
        (d, _) => d.byte_size().unwrap_or(1) as u64,
    };
    shape.reverse();
    Ok((shape, eb))
}

/// Byte strides of dims 1.. of extents `dims` (innermost first) of `eb`-byte elements.
fn byte_strides(dims: &[u64], eb: u64) -> Vec<u64> {
    dims.iter()
        .take(dims.len().saturating_sub(1))
        .scan(eb, |stride, d| {
            *stride = stride.saturating_mul(*d);
            Some(*stride)
        })
        .collect()
}

/// An extent the driver accepts.
fn extent_ok(d: u64) -> bool {
    (1..=1u64 << 32).contains(&d)
}

/// A stride the driver accepts.
fn stride_ok(s: u64) -> bool {
    s.is_multiple_of(16) && s < (1u64 << 40)
}

/// Whether TMA can describe `buf` at device address `addr` at all: every extent in 1..=2^32,
/// every row pitch a multiple of 16 bytes below 2^40 and the address 16-byte aligned (the
/// driver's limits that depend on the buffer rather than on the compiler's spec). A kernel given
/// a map slot with `or_null` copies another way when this is false.
pub fn describable(buf: &TensorBuf, addr: u64) -> bool {
    let Ok((dims, eb)) = walked(buf) else {
        return false;
    };
    addr.is_multiple_of(16)
        && dims.iter().all(|d| extent_ok(*d))
        && byte_strides(&dims, eb).iter().all(|s| stride_ok(*s))
}

/// The map of one ABI slot over `buf` at `addr`: encoded, or (`or_null`, and TMA cannot describe
/// this buffer: [`describable`]) `None`, which the kernel receives as a null pointer and answers
/// by copying another way. Every other problem is an error.
pub fn encode_slot(
    tma: &TmaSpec,
    buf: &TensorBuf,
    addr: u64,
    or_null: bool,
    what: &str,
) -> Result<Option<TensorMapBytes>, CudaError> {
    if or_null && !describable(buf, addr) {
        return Ok(None);
    }
    let plan = TensorMapPlan::new(tma, buf, what)?;
    encode(&plan, addr, what).map(Some)
}

/// The opaque 128-byte CUtensorMap, as bytes ready to copy to device memory.
pub type TensorMapBytes = [u8; 128];

/// Encode `plan` over the device buffer at `addr` (out-of-bounds boxes fill with zeros, which is how
/// partial tiles at the M/N/K edges read as zeros).
pub fn encode(plan: &TensorMapPlan, addr: u64, what: &str) -> Result<TensorMapBytes, CudaError> {
    if !addr.is_multiple_of(16) {
        return Err(CudaError::TensorMap {
            what: what.into(),
            why: format!("address {addr:#x} is not 16-byte aligned"),
        });
    }
    let swizzle = match plan.swizzle {
        32 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_32B,
        64 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_64B,
        128 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
        _ => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_NONE,
    };
    let elem_strides = vec![1u32; plan.box_dim.len()];
    let mut map = sys::CUtensorMap { opaque: [0; 16] };
    // SAFETY: every array has `rank` (strides: rank-1) entries as the plan checked; `map` is a
    // properly aligned CUtensorMap; the address is a live device allocation.
    let r = unsafe {
        sys::cuTensorMapEncodeTiled(
            &mut map,
            plan.elem.driver(),
            plan.box_dim.len() as u32,
            addr as *mut std::ffi::c_void,
            plan.global_dim.as_ptr(),
            plan.global_strides.as_ptr(),
            plan.box_dim.as_ptr(),
            elem_strides.as_ptr(),
            sys::CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
            swizzle,
            sys::CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
            sys::CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
        )
    };
    check("cuTensorMapEncodeTiled", r).map_err(|e| CudaError::TensorMap {
        what: what.into(),
        why: format!("{e} (plan: {plan:?})"),
    })?;
    let mut out = [0u8; 128];
    for (i, w) in map.opaque.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    Ok(out)
}
