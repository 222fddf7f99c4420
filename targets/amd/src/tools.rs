//! Locating and running the LLVM command-line tools this backend needs (`ld.lld`,
//! `llvm-objdump`, `llvm-readelf`): `$TESSERA_LLVM_BIN`, then `llvm-config-22 --bindir`, then the
//! Debian default. Scratch files go to a per-call directory under the system temp dir.

use crate::error::AmdError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

pub fn llvm_bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TESSERA_LLVM_BIN") {
        return PathBuf::from(d);
    }
    if let Ok(out) = Command::new("llvm-config-22").arg("--bindir").output()
        && out.status.success()
    {
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !s.is_empty() {
            return PathBuf::from(s);
        }
    }
    PathBuf::from("/usr/lib/llvm-22/bin")
}

/// Path of LLVM tool `name`, or an error saying where it was looked for.
pub fn llvm_tool(name: &str) -> Result<PathBuf, AmdError> {
    let p = llvm_bin_dir().join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(AmdError::Tool {
            tool: name.into(),
            message: format!("not found at {} (set TESSERA_LLVM_BIN)", p.display()),
        })
    }
}

/// Run `tool args...`; stdout on success, the tool's stderr in the error otherwise.
pub fn run(tool: &Path, args: &[&std::ffi::OsStr]) -> Result<String, AmdError> {
    let name = tool
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| AmdError::Tool {
            tool: name.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(AmdError::Tool {
            tool: name,
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A fresh scratch directory (removed by the caller when done).
pub fn scratch_dir(tag: &str) -> Result<PathBuf, AmdError> {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "tessera-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).map_err(|e| AmdError::Tool {
        tool: "mkdir".into(),
        message: format!("{}: {e}", d.display()),
    })?;
    Ok(d)
}
