//! The HIP runtime API, loaded at run time from `libamdhip64.so` with libloading: only the entry points
//! Tessera uses, each resolved once. Loading fails with a clear error when the library (ROCm) or a
//! symbol is missing, so this crate builds and its binaries start on machines without ROCm.

use crate::error::HipError;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::path::PathBuf;

pub type HipResult = c_int;
pub const HIP_SUCCESS: HipResult = 0;
/// `hipErrorNoDevice`.
pub const HIP_ERROR_NO_DEVICE: HipResult = 100;
/// `hipErrorInsufficientDriver`.
pub const HIP_ERROR_INSUFFICIENT_DRIVER: HipResult = 35;
/// `hipMemcpyHostToDevice` / `hipMemcpyDeviceToHost`.
pub const MEMCPY_H2D: c_int = 1;
pub const MEMCPY_D2H: c_int = 2;

pub type Module = *mut c_void;
pub type Function = *mut c_void;
pub type Event = *mut c_void;
pub type Stream = *mut c_void;

/// Resolved entry points. The `Library` is kept alive as long as the pointers are used.
#[derive(Debug)]
pub struct HipApi {
    _lib: libloading::Library,
    pub path: String,
    pub init: unsafe extern "C" fn(c_uint) -> HipResult,
    pub get_device_count: unsafe extern "C" fn(*mut c_int) -> HipResult,
    pub set_device: unsafe extern "C" fn(c_int) -> HipResult,
    pub device_get_name: unsafe extern "C" fn(*mut c_char, c_int, c_int) -> HipResult,
    pub module_load_data: unsafe extern "C" fn(*mut Module, *const c_void) -> HipResult,
    pub module_unload: unsafe extern "C" fn(Module) -> HipResult,
    pub module_get_function: unsafe extern "C" fn(*mut Function, Module, *const c_char) -> HipResult,
    #[allow(clippy::type_complexity)]
    pub module_launch_kernel: unsafe extern "C" fn(
        Function,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        Stream,
        *mut *mut c_void,
        *mut *mut c_void,
    ) -> HipResult,
    pub malloc: unsafe extern "C" fn(*mut *mut c_void, usize) -> HipResult,
    pub free: unsafe extern "C" fn(*mut c_void) -> HipResult,
    pub memcpy: unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int) -> HipResult,
    pub mem_get_info: unsafe extern "C" fn(*mut usize, *mut usize) -> HipResult,
    pub device_synchronize: unsafe extern "C" fn() -> HipResult,
    pub event_create: unsafe extern "C" fn(*mut Event) -> HipResult,
    pub event_record: unsafe extern "C" fn(Event, Stream) -> HipResult,
    pub event_elapsed_time: unsafe extern "C" fn(*mut f32, Event, Event) -> HipResult,
    pub event_destroy: unsafe extern "C" fn(Event) -> HipResult,
    pub get_error_name: unsafe extern "C" fn(HipResult) -> *const c_char,
    pub get_error_string: unsafe extern "C" fn(HipResult) -> *const c_char,
}

/// Where to look for the HIP runtime, in order: `$TESSERA_HIP_LIB`, the loader path, `$ROCM_PATH/lib`,
/// `/opt/rocm/lib`.
pub fn candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("TESSERA_HIP_LIB") {
        v.push(PathBuf::from(p));
    }
    for name in ["libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6"] {
        v.push(PathBuf::from(name));
    }
    if let Some(r) = std::env::var_os("ROCM_PATH") {
        v.push(PathBuf::from(r).join("lib/libamdhip64.so"));
    }
    v.push(PathBuf::from("/opt/rocm/lib/libamdhip64.so"));
    v
}

impl HipApi {
    /// Load from the first candidate that opens; none → [`HipError::NoRuntime`].
    pub fn load(candidates: &[PathBuf]) -> Result<HipApi, HipError> {
        let mut tried = Vec::new();
        for c in candidates {
            // SAFETY: loading a shared library runs its initialisers; these are the HIP runtime's
            // (or a library the user named in TESSERA_HIP_LIB).
            match unsafe { libloading::Library::new(c) } {
                Ok(lib) => return HipApi::resolve(lib, c.display().to_string()),
                Err(_) => tried.push(c.display().to_string()),
            }
        }
        Err(HipError::NoRuntime {
            tried: tried.join(", "),
        })
    }

    fn resolve(lib: libloading::Library, path: String) -> Result<HipApi, HipError> {
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: the symbol's type is the HIP runtime's documented C signature for `$name`.
                let s = unsafe { lib.get($name.as_bytes()) }.map_err(|_| HipError::MissingSymbol {
                    lib: path.clone(),
                    symbol: $name,
                })?;
                *s
            }};
        }
        Ok(HipApi {
            init: sym!("hipInit"),
            get_device_count: sym!("hipGetDeviceCount"),
            set_device: sym!("hipSetDevice"),
            device_get_name: sym!("hipDeviceGetName"),
            module_load_data: sym!("hipModuleLoadData"),
            module_unload: sym!("hipModuleUnload"),
            module_get_function: sym!("hipModuleGetFunction"),
            module_launch_kernel: sym!("hipModuleLaunchKernel"),
            malloc: sym!("hipMalloc"),
            free: sym!("hipFree"),
            memcpy: sym!("hipMemcpy"),
            mem_get_info: sym!("hipMemGetInfo"),
            device_synchronize: sym!("hipDeviceSynchronize"),
            event_create: sym!("hipEventCreate"),
            event_record: sym!("hipEventRecord"),
            event_elapsed_time: sym!("hipEventElapsedTime"),
            event_destroy: sym!("hipEventDestroy"),
            get_error_name: sym!("hipGetErrorName"),
            get_error_string: sym!("hipGetErrorString"),
            path,
            _lib: lib,
        })
    }

    /// `Ok` for hipSuccess, else a [`HipError::Call`] with the runtime's name and text of the code.
    pub fn check(&self, call: &'static str, r: HipResult) -> Result<(), HipError> {
        if r == HIP_SUCCESS {
            return Ok(());
        }
        let text = |p: *const c_char| {
            if p.is_null() {
                format!("hipError {r}")
            } else {
                // SAFETY: HIP returns static NUL-terminated strings.
                unsafe { std::ffi::CStr::from_ptr(p) }
                    .to_string_lossy()
                    .into_owned()
            }
        };
        // SAFETY: both functions accept any code.
        let (name, desc) = unsafe { (text((self.get_error_name)(r)), text((self.get_error_string)(r))) };
        Err(HipError::Call {
            call,
            code: r,
            name,
            text: desc,
        })
    }
}
