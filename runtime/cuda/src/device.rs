//! Opening a GPU: find the driver library at run time, initialise it, retain the device's primary
//! context, and read the facts launches and benchmarks need (name, compute capability, SMs, L2 size,
//! opt-in shared memory).

use crate::error::{CudaError, check, classify_init};
use cudarc::driver::sys::{self, CUdevice_attribute as A};
use std::ffi::c_int;

/// Facts about the opened device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub sm_count: i32,
    pub l2_bytes: u64,
    /// Largest dynamic shared memory a block may request after opting in.
    pub max_shared_optin: i32,
    pub total_mem_bytes: u64,
    pub driver_version: i32,
}

/// An opened CUDA device with its primary context current on this thread.
#[derive(Debug)]
pub struct Device {
    dev: sys::CUdevice,
    ctx: sys::CUcontext,
    info: DeviceInfo,
}

/// Whether the CUDA driver library can be loaded here (no device is touched).
pub fn driver_present() -> bool {
    // SAFETY: only tries `dlopen` on the driver library's candidate names.
    unsafe { sys::is_culib_present() }
}

/// Whether a CUDA device can be opened: for callers that only want to say "GPU: yes/no".
pub fn device_available() -> bool {
    Device::open(0).is_ok()
}

impl Device {
    /// Open device `ordinal`. No driver library or no device → [`CudaError::NoDevice`].
    pub fn open(ordinal: usize) -> Result<Device, CudaError> {
        if !driver_present() {
            // cudarc would panic on first use of a missing library: checking first keeps it an error.
            return Err(CudaError::NoDevice {
                why: "the NVIDIA driver library (libcuda.so) is not installed or not on the loader path"
                    .into(),
            });
        }
        // SAFETY: the library is present; cuInit is the first call of the driver API.
        classify_init("cuInit", unsafe { sys::cuInit(0) })?;
        let mut count: c_int = 0;
        // SAFETY: out-pointer to a local.
        classify_init("cuDeviceGetCount", unsafe { sys::cuDeviceGetCount(&mut count) })?;
        if count <= 0 {
            return Err(CudaError::NoDevice {
                why: "the driver reports 0 devices".into(),
            });
        }
        let ord = c_int::try_from(ordinal)
            .ok()
            .filter(|o| *o < count)
            .ok_or_else(|| CudaError::NoDevice {
                why: format!("device {ordinal} requested, the driver reports {count}"),
            })?;
        let mut dev: sys::CUdevice = 0;
        // SAFETY: out-pointer to a local; `ord` is in range.
        check("cuDeviceGet", unsafe { sys::cuDeviceGet(&mut dev, ord) })?;
        let mut ctx: sys::CUcontext = std::ptr::null_mut();
        // SAFETY: `dev` came from cuDeviceGet.
        check("cuDevicePrimaryCtxRetain", unsafe {
            sys::cuDevicePrimaryCtxRetain(&mut ctx, dev)
        })?;
        // SAFETY: `ctx` is the retained primary context.
        check("cuCtxSetCurrent", unsafe { sys::cuCtxSetCurrent(ctx) })?;
        let attr = |a: A| -> Result<i32, CudaError> {
            let mut v: c_int = 0;
            // SAFETY: valid device and out-pointer.
            check("cuDeviceGetAttribute", unsafe {
                sys::cuDeviceGetAttribute(&mut v, a, dev)
            })?;
            Ok(v)
        };
        let mut name = [0 as std::ffi::c_char; 256];
        // SAFETY: the buffer length is passed.
        check("cuDeviceGetName", unsafe {
            sys::cuDeviceGetName(name.as_mut_ptr(), 256, dev)
        })?;
        // SAFETY: the driver NUL-terminates within the given length.
        let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        let mut total: usize = 0;
        // SAFETY: valid device and out-pointer.
        check("cuDeviceTotalMem", unsafe {
            sys::cuDeviceTotalMem_v2(&mut total, dev)
        })?;
        let mut driver_version: c_int = 0;
        // SAFETY: out-pointer to a local.
        check("cuDriverGetVersion", unsafe {
            sys::cuDriverGetVersion(&mut driver_version)
        })?;
        let info = DeviceInfo {
            ordinal,
            name,
            compute_capability: (
                attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
                attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
            ),
            sm_count: attr(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
            l2_bytes: u64::try_from(attr(A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)?).unwrap_or(0),
            max_shared_optin: attr(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?,
            total_mem_bytes: total as u64,
            driver_version,
        };
        Ok(Device { dev, ctx, info })
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Make this device's context current on the calling thread (launches from another thread).
    pub fn bind_to_thread(&self) -> Result<(), CudaError> {
        // SAFETY: `ctx` stays retained for the life of `self`.
        check("cuCtxSetCurrent", unsafe { sys::cuCtxSetCurrent(self.ctx) })
    }

    /// Wait for all work on the device; asynchronous kernel faults surface here.
    pub fn synchronize(&self) -> Result<(), CudaError> {
        // SAFETY: a context is current (set in `open`).
        check("cuCtxSynchronize", unsafe { sys::cuCtxSynchronize() })
    }

    /// Free and total device memory in bytes.
    pub fn mem_info(&self) -> Result<(u64, u64), CudaError> {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: out-pointers to locals; a context is current.
        check("cuMemGetInfo", unsafe {
            sys::cuMemGetInfo_v2(&mut free, &mut total)
        })?;
        Ok((free as u64, total as u64))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: releases the reference taken in `open`; errors at teardown have no one to report to.
        let _ = unsafe { sys::cuDevicePrimaryCtxRelease_v2(self.dev) };
    }
}
