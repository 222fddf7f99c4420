//! The library's error: a stable diagnostics code (`E05xx` arguments, `E08xx` launch planning,
//! `E09xx` tools, the checker's `E0xxx` for a kernel that does not compile) plus the rendered
//! message, and what kind of failure it is.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source does not check, or the target cannot express the kernel (rendered diagnostics).
    Compile,
    /// A compiler bug (an internal compiler error, `E0920`).
    Internal,
    /// Arguments that do not fit the kernel's signature.
    Signature,
    /// An unreadable, inconsistent or corrupt bundle, or a cache that cannot be written.
    Bundle,
    /// No GPU / driver here.
    NoDevice,
    /// The device or driver refused the launch.
    Device,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// The first diagnostics code of the failure (`tessera explain CODE`), e.g. "E0511".
    pub code: String,
    /// The whole message; for compile errors the rendered diagnostics (several codes, with spans).
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Error {
        Error {
            kind,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// An error whose message already carries `error[CODE]` markers (rendered diagnostics, runner
    /// and numerics errors): the code is the first one found (`fallback` when there is none).
    pub fn from_rendered(kind: ErrorKind, fallback: &str, message: impl Into<String>) -> Error {
        let message = message.into();
        let code = codes_in(&message)
            .into_iter()
            .next()
            .unwrap_or_else(|| fallback.to_string());
        let message = strip_prefix(&message, &code);
        Error { kind, code, message }
    }

    /// Every `error[CODE]` in the message, in order (a compile error can carry several).
    pub fn codes(&self) -> Vec<String> {
        let mut c = codes_in(&self.message);
        if !c.contains(&self.code) {
            c.insert(0, self.code.clone());
        }
        c
    }
}

fn strip_prefix(m: &str, code: &str) -> String {
    m.strip_prefix(&format!("error[{code}]: "))
        .unwrap_or(m)
        .trim_end()
        .to_string()
}

fn codes_in(m: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = m;
    while let Some(i) = rest.find("error[") {
        let tail = &rest[i + 6..];
        if let Some(j) = tail.find(']') {
            let c = &tail[..j];
            if c.len() == 5 && !out.iter().any(|o: &String| o == c) {
                out.push(c.to_string());
            }
        }
        rest = &rest[i + 6..];
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.contains(&format!("error[{}]", self.code)) {
            f.write_str(&self.message)
        } else {
            write!(f, "error[{}]: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Error {}

impl From<tessera_numerics::NumericsError> for Error {
    fn from(e: tessera_numerics::NumericsError) -> Self {
        Error::new(ErrorKind::Signature, e.code, e.message)
    }
}

/// Code of a bundle or cache entry that cannot be read or written (tessera-bundle's `E0861`).
pub const E_BUNDLE: &str = "E0861";

impl From<tessera_bundle::BundleError> for Error {
    fn from(e: tessera_bundle::BundleError) -> Self {
        Error::from_rendered(ErrorKind::Bundle, E_BUNDLE, e.to_string())
    }
}

/// Code of a launch that cannot be planned (grid, ABI slots): tessera-bundle's `E0866`.
pub const E_LAUNCH: &str = "E0866";

#[cfg(feature = "cuda")]
impl From<tessera_cuda::CudaError> for Error {
    fn from(e: tessera_cuda::CudaError) -> Self {
        let kind = match e {
            tessera_cuda::CudaError::NoDevice { .. } => ErrorKind::NoDevice,
            _ => ErrorKind::Device,
        };
        Error::from_rendered(kind, E_DEVICE, e.to_string())
    }
}

/// Code of a device-side failure (driver refused the image or the launch).
#[cfg(feature = "cuda")]
pub const E_DEVICE: &str = "E0866";
