//! Device memory owned by Rust values: allocated on creation, freed on drop, copied to and from host
//! byte slices with the failing call named.

use crate::device::Device;
use crate::error::{CudaError, check};
use cudarc::driver::sys;

/// A device allocation of `len` bytes (256-byte aligned by the driver, which also satisfies the
/// 64/128-byte alignment of a CUtensorMap).
#[derive(Debug)]
pub struct DeviceBuffer {
    ptr: sys::CUdeviceptr,
    len: usize,
}

impl DeviceBuffer {
    /// Allocate `len` bytes (at least 1: a zero-size tensor still needs a valid address to pass).
    pub fn alloc(_dev: &Device, len: usize) -> Result<DeviceBuffer, CudaError> {
        let mut ptr: sys::CUdeviceptr = 0;
        // SAFETY: out-pointer to a local; the device's context is current (`_dev` proves it is open).
        check("cuMemAlloc", unsafe { sys::cuMemAlloc_v2(&mut ptr, len.max(1)) })?;
        Ok(DeviceBuffer { ptr, len })
    }

    /// Allocate and fill with `bytes`.
    pub fn from_host(dev: &Device, bytes: &[u8]) -> Result<DeviceBuffer, CudaError> {
        let b = DeviceBuffer::alloc(dev, bytes.len())?;
        b.upload(bytes)?;
        Ok(b)
    }

    pub fn addr(&self) -> u64 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copy `bytes` (exactly `len` bytes) into the buffer.
    pub fn upload(&self, bytes: &[u8]) -> Result<(), CudaError> {
        if bytes.len() != self.len {
            return Err(CudaError::Invalid(format!(
                "upload of {} bytes into a {}-byte buffer",
                bytes.len(),
                self.len
            )));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        // SAFETY: the destination holds `len` bytes and the source slice is `len` bytes.
        check("cuMemcpyHtoD", unsafe {
            sys::cuMemcpyHtoD_v2(self.ptr, bytes.as_ptr().cast(), bytes.len())
        })
    }

    /// Copy the whole buffer into `out` (exactly `len` bytes).
    pub fn download(&self, out: &mut [u8]) -> Result<(), CudaError> {
        if out.len() != self.len {
            return Err(CudaError::Invalid(format!(
                "download of a {}-byte buffer into {} bytes",
                self.len,
                out.len()
            )));
        }
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: both sides hold `len` bytes; synchronous copy after prior work on the null stream.
        check("cuMemcpyDtoH", unsafe {
            sys::cuMemcpyDtoH_v2(out.as_mut_ptr().cast(), self.ptr, out.len())
        })
    }
}

/// Lets the shared launch bookkeeping of `tessera_bundle` address and read back this buffer.
impl tessera_bundle::DeviceMemory for DeviceBuffer {
    type Error = CudaError;

    fn device_addr(&self) -> u64 {
        self.addr()
    }

    fn download_into(&self, out: &mut [u8]) -> Result<(), CudaError> {
        self.download(out)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from cuMemAlloc and is freed once; a failure at teardown (e.g. after a
        // kernel fault poisoned the context) has no one to report to.
        let _ = unsafe { sys::cuMemFree_v2(self.ptr) };
    }
}
