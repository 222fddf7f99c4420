//! `NumericsError`: a stable code plus a message naming what was expected and what was found.
//! Codes (E05xx, the numerics range):
//! - E0501 `.npy` dtype does not match the tensor's dtype
//! - E0502 `.npy` (or buffer) shape does not match the expected shape
//! - E0503 `.npy` file unreadable, malformed, or in an unsupported layout (Fortran order)
//! - E0504 buffer byte length does not match its dtype/shape/packing
//! - E0505 dtype not supported by this operation
//! - E0506 tensor type cannot be generated for (unsupported scale layout, missing packed axis)
//! - E0507 concrete shape does not fit the tensor type (rank, constant dims, packed axis)
//! - E0508 block or global scale missing, or given to a tensor whose contract has none
//! - E0509 `.npy` input is not a regular file (a device such as /dev/zero, a FIFO, a directory)
//!   or is larger than `npy::MAX_NPY_BYTES`
//! - E0510 a byte that is not a code of the dtype (fp6 with bits 6-7 set, i1 other than 0/1)
//! - E0511 an argument that does not fit the kernel's signature: an unknown name, an `out`
//!   parameter given as input, a name given twice, a missing argument (a scalar with no value)

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumericsError {
    /// Stable code, e.g. "E0501".
    pub code: &'static str,
    pub message: String,
}

impl NumericsError {
    pub fn new(code: &'static str, message: impl Into<String>) -> NumericsError {
        NumericsError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for NumericsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for NumericsError {}

pub const E_NPY_DTYPE: &str = "E0501";
pub const E_SHAPE: &str = "E0502";
pub const E_NPY_FILE: &str = "E0503";
pub const E_BUF_LEN: &str = "E0504";
pub const E_DTYPE: &str = "E0505";
pub const E_GEN: &str = "E0506";
pub const E_TYPE_SHAPE: &str = "E0507";
pub const E_SCALE: &str = "E0508";
pub const E_NPY_SOURCE: &str = "E0509";
pub const E_BAD_CODE: &str = "E0510";
pub const E_ARG: &str = "E0511";
