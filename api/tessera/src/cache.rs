//! The on-disk cache of compiled bundles: one bundle directory per key, the key the SHA-256 of
//! (source, kernel name, target, options, compiler version), so a second process (or a second
//! `compile` of the same kernel) loads the bundle instead of compiling. Location: an explicit
//! directory, else `$TESSERA_CACHE_DIR`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`.
//! Entries are written to a temporary directory and renamed into place, so a reader never sees a
//! half-written bundle; a corrupt entry is treated as a miss and rebuilt.

use std::path::{Path, PathBuf};

/// The compiler version that keys the cache (the crate version plus the bundle format version).
pub fn compiler_version() -> String {
    format!(
        "tessera {} bundle-format {}",
        env!("CARGO_PKG_VERSION"),
        tessera_bundle::BUNDLE_FORMAT_VERSION
    )
}

/// The default cache directory (see the module docs); `None` when no home is known.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TESSERA_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("tessera"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("tessera"))
}

/// The cache key of one compile.
pub fn key(source: &[u8], kernel: Option<&str>, target: &str, options: &str) -> String {
    let mut text = Vec::new();
    for part in [
        compiler_version().as_bytes(),
        kernel.unwrap_or("").as_bytes(),
        target.as_bytes(),
        options.as_bytes(),
        source,
    ] {
        // Length-prefixed, so no two different tuples hash the same bytes.
        text.extend_from_slice(&(part.len() as u64).to_le_bytes());
        text.extend_from_slice(part);
    }
    tessera_bundle::sha256_hex(&text)
}

/// The entry directory of `key` under `dir`.
pub fn entry(dir: &Path, key: &str) -> PathBuf {
    dir.join(key)
}

/// Store `bundle` as the entry `key` (write to a temporary sibling, then rename).
pub fn store(dir: &Path, key: &str, bundle: &tessera_bundle::Bundle) -> Result<(), crate::Error> {
    let io = |e: std::io::Error| {
        crate::Error::new(
            crate::ErrorKind::Bundle,
            crate::error::E_BUNDLE,
            format!("cache {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    bundle.write(&tmp)?;
    let dest = entry(dir, key);
    let _ = std::fs::remove_dir_all(&dest);
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => Ok(()),
        // Another process stored the same key first: theirs is as good as ours.
        Err(_) if dest.join(tessera_bundle::META_FILE).is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => Err(io(e)),
    }
}
