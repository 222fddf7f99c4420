//! Errors of reading, writing and checking a bundle directory. Each names the file and what is wrong,
//! because a bundle travels to another machine where the compiler that wrote it is not at hand.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {dir}: not a directory (build one with `tessera build FILE.tsr --target sm_90a -o DIR`)")]
    NotADir { dir: PathBuf },
    #[error("bundle {dir}: missing {file} ({why})")]
    Missing {
        dir: PathBuf,
        file: String,
        why: &'static str,
    },
    #[error("bundle file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("bundle file {path}: invalid meta.json: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "bundle {dir}: format version {found}, this runtime reads version {expected} (rebuild the bundle with a matching `tessera build`)"
    )]
    Version { dir: PathBuf, found: u32, expected: u32 },
    #[error("bundle {dir}: {what}")]
    Invalid { dir: PathBuf, what: String },
    #[error("launch: {0}")]
    Launch(String),
}
