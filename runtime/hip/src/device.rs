//! A HIP device, its memory and loaded code objects. Resources free themselves on drop through the
//! shared, run-time-loaded API.

use crate::api::{self, HIP_ERROR_INSUFFICIENT_DRIVER, HIP_ERROR_NO_DEVICE, HipApi, MEMCPY_D2H, MEMCPY_H2D};
use crate::error::HipError;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;
use tessera_bundle::Bundle;

/// An opened AMD GPU.
#[derive(Debug)]
pub struct Device {
    pub(crate) api: Arc<HipApi>,
    pub ordinal: usize,
    pub name: String,
}

/// Whether an AMD GPU can be opened here.
pub fn device_available() -> bool {
    Device::open(0).is_ok()
}

impl Device {
    /// Open device `ordinal`, looking for the HIP runtime in [`api::candidates`].
    pub fn open(ordinal: usize) -> Result<Device, HipError> {
        Device::open_with(&api::candidates(), ordinal)
    }

    /// Open device `ordinal` with the HIP runtime found among `libs` (tests name libraries here).
    pub fn open_with(libs: &[std::path::PathBuf], ordinal: usize) -> Result<Device, HipError> {
        let api = Arc::new(HipApi::load(libs)?);
        // SAFETY: hipInit takes flags 0.
        let r = unsafe { (api.init)(0) };
        if r == HIP_ERROR_NO_DEVICE || r == HIP_ERROR_INSUFFICIENT_DRIVER {
            return Err(HipError::NoDevice {
                why: format!("hipInit reports no usable AMD GPU (code {r})"),
            });
        }
        api.check("hipInit", r)?;
        let mut count: c_int = 0;
        // SAFETY: out-pointer to a local.
        let r = unsafe { (api.get_device_count)(&mut count) };
        if r == HIP_ERROR_NO_DEVICE || count <= 0 {
            return Err(HipError::NoDevice {
                why: "the HIP runtime reports 0 devices".into(),
            });
        }
        api.check("hipGetDeviceCount", r)?;
        let ord = c_int::try_from(ordinal)
            .ok()
            .filter(|o| *o < count)
            .ok_or_else(|| HipError::NoDevice {
                why: format!("device {ordinal} requested, {count} present"),
            })?;
        // SAFETY: ordinal in range.
        api.check("hipSetDevice", unsafe { (api.set_device)(ord) })?;
        let mut name = [0 as c_char; 256];
        // SAFETY: the buffer length is passed.
        api.check("hipDeviceGetName", unsafe {
            (api.device_get_name)(name.as_mut_ptr(), 256, ord)
        })?;
        // SAFETY: NUL-terminated within the buffer.
        let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        Ok(Device { api, ordinal, name })
    }

    pub fn synchronize(&self) -> Result<(), HipError> {
        // SAFETY: no arguments.
        self.api
            .check("hipDeviceSynchronize", unsafe { (self.api.device_synchronize)() })
    }

    pub fn mem_info(&self) -> Result<(u64, u64), HipError> {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: out-pointers to locals.
        self.api.check("hipMemGetInfo", unsafe {
            (self.api.mem_get_info)(&mut free, &mut total)
        })?;
        Ok((free as u64, total as u64))
    }
}

/// A device allocation.
#[derive(Debug)]
pub struct DeviceBuffer {
    api: Arc<HipApi>,
    ptr: *mut c_void,
    len: usize,
}

impl DeviceBuffer {
    pub fn from_host(dev: &Device, bytes: &[u8]) -> Result<DeviceBuffer, HipError> {
        let mut ptr: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-pointer to a local.
        dev.api.check("hipMalloc", unsafe {
            (dev.api.malloc)(&mut ptr, bytes.len().max(1))
        })?;
        let b = DeviceBuffer {
            api: dev.api.clone(),
            ptr,
            len: bytes.len(),
        };
        if !bytes.is_empty() {
            // SAFETY: both sides hold `len` bytes.
            b.api.check("hipMemcpy(H2D)", unsafe {
                (b.api.memcpy)(b.ptr, bytes.as_ptr().cast(), bytes.len(), MEMCPY_H2D)
            })?;
        }
        Ok(b)
    }

    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    pub fn download(&self, out: &mut [u8]) -> Result<(), HipError> {
        if out.len() != self.len {
            return Err(HipError::Invalid(format!(
                "download of {} bytes into {}",
                self.len,
                out.len()
            )));
        }
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: both sides hold `len` bytes.
        self.api.check("hipMemcpy(D2H)", unsafe {
            (self.api.memcpy)(out.as_mut_ptr().cast(), self.ptr, out.len(), MEMCPY_D2H)
        })
    }
}

/// Lets the shared launch bookkeeping of `tessera_bundle` address and read back this buffer.
impl tessera_bundle::DeviceMemory for DeviceBuffer {
    type Error = HipError;

    fn device_addr(&self) -> u64 {
        self.addr()
    }

    fn download_into(&self, out: &mut [u8]) -> Result<(), HipError> {
        self.download(out)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated once by hipMalloc, freed once.
        let _ = unsafe { (self.api.free)(self.ptr) };
    }
}

/// A loaded HSACO code object and its entry point.
#[derive(Debug)]
pub struct Kernel {
    api: Arc<HipApi>,
    module: api::Module,
    pub(crate) func: api::Function,
    pub entry: String,
}

impl Kernel {
    pub fn load(dev: &Device, bundle: &Bundle) -> Result<Kernel, HipError> {
        let hsaco = bundle.hsaco.as_ref().ok_or_else(|| {
            HipError::Invalid(format!(
                "bundle for target {} has no HSACO code object",
                bundle.meta.target
            ))
        })?;
        let mut module: api::Module = std::ptr::null_mut();
        // SAFETY: the image outlives the call (HIP copies it).
        dev.api.check("hipModuleLoadData", unsafe {
            (dev.api.module_load_data)(&mut module, hsaco.as_ptr().cast())
        })?;
        let entry = bundle.meta.entry.clone();
        let mut k = Kernel {
            api: dev.api.clone(),
            module,
            func: std::ptr::null_mut(),
            entry: entry.clone(),
        };
        let cname = CString::new(entry.clone())
            .map_err(|_| HipError::Invalid(format!("entry point name {entry:?} contains a NUL byte")))?;
        // SAFETY: module just loaded; out-pointer into `k`.
        dev.api.check("hipModuleGetFunction", unsafe {
            (dev.api.module_get_function)(&mut k.func, module, cname.as_ptr())
        })?;
        Ok(k)
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        // SAFETY: loaded once, unloaded once.
        let _ = unsafe { (self.api.module_unload)(self.module) };
    }
}
