//! Errors of reading, writing and checking a bundle directory. Each names the file and what is wrong,
//! because a bundle travels to another machine where the compiler that wrote it is not at hand.
//!
//! Codes (E086x, the bundle range; `tessera explain` has each):
//! - E0860 the bundle directory or a file `meta.json` names is missing
//! - E0861 a bundle file cannot be read or written (I/O)
//! - E0862 `meta.json` is not valid JSON or does not fit the schema
//! - E0863 the bundle's format version is not the one this runtime reads
//! - E0864 the bundle's contents are inconsistent (no device code, empty entry, launch shape)
//! - E0865 `meta.json` does not match the device code (entry symbol, parameter count or kinds,
//!   target) or the kernel (an output the ABI never passes, a slot twice)
//! - E0866 a launch cannot be planned (grid outside the device limits, unbound dims, ABI slots
//!   that do not resolve against the bindings)

use std::path::PathBuf;

pub const E_BUNDLE_MISSING: &str = "E0860";
pub const E_BUNDLE_IO: &str = "E0861";
pub const E_BUNDLE_JSON: &str = "E0862";
pub const E_BUNDLE_VERSION: &str = "E0863";
pub const E_BUNDLE_INVALID: &str = "E0864";
pub const E_BUNDLE_MISMATCH: &str = "E0865";
pub const E_BUNDLE_LAUNCH: &str = "E0866";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(
        "error[E0860]: bundle {dir}: not a directory (build one with `tessera build FILE.tsr --target sm_90a -o DIR`)"
    )]
    NotADir { dir: PathBuf },
    #[error("error[E0860]: bundle {dir}: missing {file} ({why})")]
    Missing {
        dir: PathBuf,
        file: String,
        why: &'static str,
    },
    #[error("error[E0861]: bundle file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("error[E0862]: bundle file {path}: invalid meta.json: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "error[E0863]: bundle {dir}: format version {found}, this runtime reads version {expected} (rebuild the bundle with a matching `tessera build`)"
    )]
    Version { dir: PathBuf, found: u32, expected: u32 },
    #[error("error[E0864]: bundle {dir}: {what}")]
    Invalid { dir: PathBuf, what: String },
    #[error("error[E0865]: bundle {dir}: meta.json does not match the device code: {what}")]
    Mismatch { dir: PathBuf, what: String },
    #[error("error[E0866]: launch: {0}")]
    Launch(String),
}

impl BundleError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::NotADir { .. } | BundleError::Missing { .. } => E_BUNDLE_MISSING,
            BundleError::Io { .. } => E_BUNDLE_IO,
            BundleError::Json { .. } => E_BUNDLE_JSON,
            BundleError::Version { .. } => E_BUNDLE_VERSION,
            BundleError::Invalid { .. } => E_BUNDLE_INVALID,
            BundleError::Mismatch { .. } => E_BUNDLE_MISMATCH,
            BundleError::Launch(_) => E_BUNDLE_LAUNCH,
        }
    }
}
