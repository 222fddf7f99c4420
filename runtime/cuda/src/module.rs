//! Loading device code: a cubin (preferred: assembled here by the pinned ptxas) or PTX (JIT-compiled by
//! the driver). On rejection the driver's JIT error log is part of the error, because "invalid PTX"
//! without the log is useless. Also sets the dynamic shared memory opt-in above 48 KiB.

use crate::device::Device;
use crate::error::{CudaError, check, describe};
use cudarc::driver::sys::{self, CUjit_option as J};
use std::ffi::{CString, c_void};
use tessera_bundle::Bundle;

/// A loaded module and its entry point.
#[derive(Debug)]
pub struct Kernel {
    module: sys::CUmodule,
    pub(crate) func: sys::CUfunction,
    pub entry: String,
    /// What was loaded: "cubin", "PTX", or "PTX (cubin rejected: REASON)".
    pub loaded_from: String,
}

const LOG_BYTES: usize = 16 * 1024;

/// Default dynamic shared memory limit without opting in.
const SMEM_DEFAULT_LIMIT: u32 = 48 * 1024;

impl Kernel {
    /// Load the bundle's NVIDIA image and look up its entry point; prepare its shared memory opt-in.
    pub fn load(dev: &Device, bundle: &Bundle) -> Result<Kernel, CudaError> {
        let entry = bundle.meta.entry.clone();
        let ptx_image = |p: &str| {
            // The driver reads PTX as a NUL-terminated string.
            let mut v = p.as_bytes().to_vec();
            v.push(0);
            v
        };
        let (module, what, loaded_from) = match (&bundle.cubin, &bundle.ptx) {
            (Some(c), ptx) => match load_with_log(c, "cubin", &entry) {
                Ok(m) => (m, "cubin", "cubin".to_string()),
                // A cubin the driver cannot take (e.g. built for another chip) still leaves the PTX,
                // which the driver can JIT for this one; the fallback is named in the run's device line.
                Err(CudaError::ImageRejected { name, .. }) if ptx.is_some() => {
                    let p = ptx_image(ptx.as_deref().unwrap_or_default());
                    (
                        load_with_log(&p, "PTX", &entry)?,
                        "PTX",
                        format!("PTX (cubin rejected: {name})"),
                    )
                }
                Err(e) => return Err(e),
            },
            (None, Some(p)) => (
                load_with_log(&ptx_image(p), "PTX", &entry)?,
                "PTX",
                "PTX".to_string(),
            ),
            (None, None) => {
                return Err(CudaError::Invalid(format!(
                    "bundle for target {} has no cubin or PTX to load on an NVIDIA GPU",
                    bundle.meta.target
                )));
            }
        };
        let cname = CString::new(entry.clone())
            .map_err(|_| CudaError::Invalid(format!("entry point name {entry:?} contains a NUL byte")))?;
        let mut func: sys::CUfunction = std::ptr::null_mut();
        // SAFETY: `module` was just loaded; out-pointer to a local.
        let r = unsafe { sys::cuModuleGetFunction(&mut func, module, cname.as_ptr()) };
        let kernel = Kernel {
            module,
            func,
            entry: entry.clone(),
            loaded_from,
        };
        if r != sys::cudaError_enum::CUDA_SUCCESS {
            let (name, text) = describe(r);
            return Err(CudaError::Invalid(format!(
                "the {what} has no entry point `{entry}` ({name}: {text}); meta.json and the image disagree"
            )));
        }
        let want = bundle.meta.dynamic_shared_bytes;
        if want > SMEM_DEFAULT_LIMIT {
            let max = dev.info().max_shared_optin;
            if i64::from(want) > i64::from(max) {
                return Err(CudaError::SharedMemory { entry, want, max });
            }
            // SAFETY: valid function handle; the value was checked against the device's limit.
            check("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", unsafe {
                sys::cuFuncSetAttribute(
                    kernel.func,
                    sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    want as i32,
                )
            })?;
        }
        Ok(kernel)
    }
}

fn load_with_log(image: &[u8], what: &'static str, entry: &str) -> Result<sys::CUmodule, CudaError> {
    let mut err_log = vec![0u8; LOG_BYTES];
    let mut info_log = vec![0u8; LOG_BYTES];
    let mut options = [
        J::CU_JIT_ERROR_LOG_BUFFER,
        J::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        J::CU_JIT_INFO_LOG_BUFFER,
        J::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
    ];
    // The driver reads sizes passed by value in the pointer slot (documented for these options).
    let mut values: [*mut c_void; 4] = [
        err_log.as_mut_ptr().cast(),
        LOG_BYTES as *mut c_void,
        info_log.as_mut_ptr().cast(),
        LOG_BYTES as *mut c_void,
    ];
    let mut module: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: the image outlives the call; the log buffers are LOG_BYTES long as declared.
    let r = unsafe {
        sys::cuModuleLoadDataEx(
            &mut module,
            image.as_ptr().cast(),
            options.len() as u32,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    if r == sys::cudaError_enum::CUDA_SUCCESS {
        return Ok(module);
    }
    let (name, text) = describe(r);
    let text_of = |b: &[u8]| {
        String::from_utf8_lossy(&b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())]).into_owned()
    };
    let mut log = text_of(&err_log);
    let info = text_of(&info_log);
    if !info.trim().is_empty() {
        log.push_str("\n(info) ");
        log.push_str(&info);
    }
    if log.trim().is_empty() {
        log = format!("(empty) {text}");
    }
    Err(CudaError::ImageRejected {
        what,
        entry: entry.to_string(),
        name,
        log,
    })
}

impl Drop for Kernel {
    fn drop(&mut self) {
        // SAFETY: the module was loaded once and is unloaded once.
        let _ = unsafe { sys::cuModuleUnload(self.module) };
    }
}
