//! Kernel parameter marshalling, as pure functions: resolved ABI slots plus the device addresses of
//! the uploaded buffers and tensor maps become the values `cuLaunchKernel` / `hipModuleLaunchKernel` read, each in its own
//! 8-byte aligned cell (the driver reads as many bytes as the entry point's parameter declares).

use crate::BundleError;
use crate::{SlotValue, TensorPart};

/// The value of one kernel parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KernelArg {
    /// A device address (buffer or tensor map).
    U64(u64),
    I32(i32),
    F32(f32),
}

impl KernelArg {
    /// The parameter's bytes as the device reads them (little-endian, its own width).
    pub fn bytes(self) -> Vec<u8> {
        match self {
            KernelArg::U64(v) => v.to_le_bytes().to_vec(),
            KernelArg::I32(v) => v.to_le_bytes().to_vec(),
            KernelArg::F32(v) => v.to_le_bytes().to_vec(),
        }
    }
}

/// Turn resolved slots into kernel arguments. `buffer(param, part)` gives the device address of an
/// uploaded buffer; `tensor_map(slot)` the device address of the map encoded for slot `slot`.
pub fn marshal(
    slots: &[SlotValue],
    buffer: &dyn Fn(usize, TensorPart) -> Option<u64>,
    tensor_map: &dyn Fn(usize) -> Option<u64>,
) -> Result<Vec<KernelArg>, BundleError> {
    slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(match s {
                SlotValue::Buffer { param, part } => {
                    KernelArg::U64(buffer(*param, *part).ok_or_else(|| {
                        BundleError::Launch(format!(
                            "slot {i}: no device buffer for parameter {param} ({part:?})"
                        ))
                    })?)
                }
                SlotValue::TensorMap { .. } => KernelArg::U64(
                    tensor_map(i)
                        .ok_or_else(|| BundleError::Launch(format!("slot {i}: no tensor map encoded")))?,
                ),
                SlotValue::I32(v) => KernelArg::I32(*v),
                SlotValue::F32(v) => KernelArg::F32(*v),
            })
        })
        .collect()
}

/// Storage for a launch's parameter values: one 8-byte cell each, so a pointer to cell `i` is what
/// `kernelParams[i]` must be.
#[derive(Debug)]
pub struct ParamBlock {
    cells: Vec<u64>,
}

impl ParamBlock {
    pub fn new(args: &[KernelArg]) -> ParamBlock {
        let cells = args
            .iter()
            .map(|a| {
                let mut cell = [0u8; 8];
                let b = a.bytes();
                cell[..b.len()].copy_from_slice(&b);
                // Cells are stored as native u64 so that the first bytes in memory are `b` on the
                // little-endian hosts CUDA supports.
                u64::from_le_bytes(cell)
            })
            .collect();
        ParamBlock { cells }
    }

    /// `kernelParams` for cuLaunchKernel; valid while `self` is alive and not moved.
    pub fn pointers(&mut self) -> Vec<*mut std::ffi::c_void> {
        self.cells.iter_mut().map(|c| (c as *mut u64).cast()).collect()
    }

    /// The raw bytes of cell `i` (for tests and for logging a launch).
    pub fn cell_bytes(&self, i: usize) -> Option<[u8; 8]> {
        self.cells.get(i).map(|c| c.to_le_bytes())
    }
}
