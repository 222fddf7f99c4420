//! Every CUDA failure as a typed error with a message a person can act on: which driver call failed,
//! the driver's error name and text, and for rejected PTX/cubin the driver's JIT log.

use cudarc::driver::sys::{CUresult, cudaError_enum};

#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    /// No usable NVIDIA driver or GPU. The message always starts "no CUDA device found" so scripts
    /// and tests can tell "no GPU here" from a real failure.
    #[error("no CUDA device found: {why}")]
    NoDevice { why: String },
    #[error("CUDA driver call {call} failed: {name} ({text})")]
    Driver {
        call: &'static str,
        name: String,
        text: String,
    },
    #[error("the CUDA driver rejected the {what} of `{entry}`: {name}\n--- driver JIT log ---\n{log}")]
    ImageRejected {
        what: &'static str,
        entry: String,
        name: String,
        log: String,
    },
    #[error(
        "kernel `{entry}` asks for {want} bytes of dynamic shared memory; this device allows {max} per block"
    )]
    SharedMemory { entry: String, want: u32, max: i32 },
    /// The kernel did not finish in time. The device is unusable for this process: freeing memory
    /// would wait for the hung kernel, so callers should exit without cleaning up.
    #[error(
        "kernel `{entry}` did not finish within {secs} s (a deadlock, e.g. an mbarrier wait that never completes?); raise TESSERA_KERNEL_TIMEOUT_S if it is merely slow"
    )]
    Hung { entry: String, secs: u64 },
    #[error("TMA tensor map for {what}: {why}")]
    TensorMap { what: String, why: String },
    #[error(transparent)]
    Bundle(#[from] tessera_bundle::BundleError),
    #[error("{0}")]
    Invalid(String),
}

/// The driver's name and description of a result code (both need the driver library, which is
/// loaded whenever a CUresult exists).
pub(crate) fn describe(r: CUresult) -> (String, String) {
    let e = cudarc::driver::DriverError(r);
    let name = e
        .error_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{r:?}"));
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "no description".into());
    (name, text)
}

/// `Ok` for CUDA_SUCCESS, else a [`CudaError::Driver`] naming `call`.
pub(crate) fn check(call: &'static str, r: CUresult) -> Result<(), CudaError> {
    if r == cudaError_enum::CUDA_SUCCESS {
        return Ok(());
    }
    let (name, text) = describe(r);
    Err(CudaError::Driver { call, name, text })
}

/// How `cuInit`/`cuDeviceGetCount` results map to errors: the codes that mean "this machine has no
/// usable GPU" become [`CudaError::NoDevice`]; anything else stays a driver error.
pub fn classify_init(call: &'static str, r: CUresult) -> Result<(), CudaError> {
    use cudaError_enum as E;
    match r {
        E::CUDA_SUCCESS => Ok(()),
        E::CUDA_ERROR_NO_DEVICE => Err(CudaError::NoDevice {
            why: "the driver reports no CUDA-capable device".into(),
        }),
        E::CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE => Err(CudaError::NoDevice {
            why: format!("{call}: the installed NVIDIA driver does not support this device ({r:?})"),
        }),
        E::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH
        | E::CUDA_ERROR_SYSTEM_NOT_READY
        | E::CUDA_ERROR_DEVICE_UNAVAILABLE => Err(CudaError::NoDevice {
            why: format!("{call}: the GPU is not usable ({r:?})"),
        }),
        other => check(call, other),
    }
}
