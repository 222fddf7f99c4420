//! The runner's error: a message with the exit status it maps to, so scripts can tell "no GPU here"
//! (3) from a bad invocation or bundle (2) and from a failed validation (1).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad arguments, unreadable bundle, unsupported kernel shape: exit 2.
    Usage,
    /// No CUDA/HIP device or runtime on this machine: exit 3.
    NoDevice,
    /// A device or runtime failure during a launch: exit 4.
    Device,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerError {
    pub kind: ErrorKind,
    pub message: String,
}

impl RunnerError {
    pub fn usage(m: impl Into<String>) -> RunnerError {
        RunnerError {
            kind: ErrorKind::Usage,
            message: m.into(),
        }
    }

    pub fn device(m: impl Into<String>) -> RunnerError {
        RunnerError {
            kind: ErrorKind::Device,
            message: m.into(),
        }
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Usage => 2,
            ErrorKind::NoDevice => 3,
            ErrorKind::Device => 4,
        }
    }
}

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RunnerError {}

impl From<tessera_cuda::CudaError> for RunnerError {
    fn from(e: tessera_cuda::CudaError) -> Self {
        let kind = match e {
            tessera_cuda::CudaError::NoDevice { .. } => ErrorKind::NoDevice,
            tessera_cuda::CudaError::Bundle(_) => ErrorKind::Usage,
            _ => ErrorKind::Device,
        };
        RunnerError {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<tessera_hip::HipError> for RunnerError {
    fn from(e: tessera_hip::HipError) -> Self {
        let kind = match e {
            tessera_hip::HipError::NoRuntime { .. } | tessera_hip::HipError::NoDevice { .. } => {
                ErrorKind::NoDevice
            }
            tessera_hip::HipError::Bundle(_) => ErrorKind::Usage,
            _ => ErrorKind::Device,
        };
        RunnerError {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<tessera_bundle::BundleError> for RunnerError {
    fn from(e: tessera_bundle::BundleError) -> Self {
        RunnerError::usage(e.to_string())
    }
}

impl From<tessera_numerics::NumericsError> for RunnerError {
    fn from(e: tessera_numerics::NumericsError) -> Self {
        RunnerError::usage(e.to_string())
    }
}
