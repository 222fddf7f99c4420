//! A bundle directory on disk: write it (the compiler), read and check it (runtimes, the runner).
//!
//! Layout (file names are recorded in `meta.json`, these are the names `write` uses):
//! `meta.json`, `kernel.ptx`, `kernel.cubin` (when ptxas was found), `kernel.hsaco` (AMD),
//! `kernel.tir` (the checked tile IR text), `report.txt` and `report.json` (the build report).

use crate::{BUNDLE_FORMAT_VERSION, BundleError, BundleMeta};
use std::path::{Path, PathBuf};

pub const META_FILE: &str = "meta.json";
pub const PTX_FILE: &str = "kernel.ptx";
pub const CUBIN_FILE: &str = "kernel.cubin";
pub const HSACO_FILE: &str = "kernel.hsaco";
pub const TIR_FILE: &str = "kernel.tir";
pub const REPORT_TXT_FILE: &str = "report.txt";
pub const REPORT_JSON_FILE: &str = "report.json";

/// Everything a bundle holds, in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    pub meta: BundleMeta,
    pub ptx: Option<String>,
    pub cubin: Option<Vec<u8>>,
    pub hsaco: Option<Vec<u8>>,
    /// The checked tile IR text (the `tessera_ir` text form).
    pub tile_ir: String,
    pub report_txt: Option<String>,
    pub report_json: Option<String>,
}

/// The device code a runtime should load, in order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image<'a> {
    /// A cubin assembled here by the pinned ptxas: preferred, it skips the driver's (older) JIT.
    Cubin(&'a [u8]),
    /// PTX text, JIT-compiled by the driver.
    Ptx(&'a str),
    /// An AMD code object.
    Hsaco(&'a [u8]),
}

impl Bundle {
    /// Write the bundle into `dir` (created if needed). The file-name fields of `meta` are set to the
    /// files actually written, so `meta.json` never names a file that is not there.
    pub fn write(&self, dir: &Path) -> Result<(), BundleError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut meta = self.meta.clone();
        meta.ptx = self.ptx.as_ref().map(|_| PTX_FILE.to_string());
        meta.cubin = self.cubin.as_ref().map(|_| CUBIN_FILE.to_string());
        meta.hsaco = self.hsaco.as_ref().map(|_| HSACO_FILE.to_string());
        meta.tile_ir = TIR_FILE.to_string();
        put(dir, TIR_FILE, self.tile_ir.as_bytes())?;
        if let Some(p) = &self.ptx {
            put(dir, PTX_FILE, p.as_bytes())?;
        }
        if let Some(c) = &self.cubin {
            put(dir, CUBIN_FILE, c)?;
        }
        if let Some(h) = &self.hsaco {
            put(dir, HSACO_FILE, h)?;
        }
        if let Some(r) = &self.report_txt {
            put(dir, REPORT_TXT_FILE, r.as_bytes())?;
        }
        if let Some(r) = &self.report_json {
            put(dir, REPORT_JSON_FILE, r.as_bytes())?;
        }
        let path = dir.join(META_FILE);
        let json = serde_json::to_string_pretty(&meta).map_err(|e| BundleError::Json {
            path: path.clone(),
            source: e,
        })?;
        // meta.json last: a bundle whose write was interrupted has no meta.json and is rejected as such.
        put(dir, META_FILE, json.as_bytes())
    }

    /// Read and check a bundle directory (see [`Bundle::check`]).
    pub fn read(dir: &Path) -> Result<Bundle, BundleError> {
        if !dir.is_dir() {
            return Err(BundleError::NotADir {
                dir: dir.to_path_buf(),
            });
        }
        let meta_path = dir.join(META_FILE);
        if !meta_path.is_file() {
            return Err(missing(
                dir,
                META_FILE,
                "every bundle has one; was the build interrupted?",
            ));
        }
        let text = std::fs::read_to_string(&meta_path).map_err(|e| io(&meta_path, e))?;
        // The version is checked before the full schema, so an old or new bundle gets the version
        // message instead of a confusing field error.
        let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| BundleError::Json {
            path: meta_path.clone(),
            source: e,
        })?;
        let found = raw.get("format_version").and_then(|v| v.as_u64());
        match found {
            Some(v) if v == u64::from(BUNDLE_FORMAT_VERSION) => {}
            Some(v) => {
                return Err(BundleError::Version {
                    dir: dir.to_path_buf(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                    expected: BUNDLE_FORMAT_VERSION,
                });
            }
            None => {
                return Err(BundleError::Invalid {
                    dir: dir.to_path_buf(),
                    what: "meta.json has no integer `format_version`".into(),
                });
            }
        }
        let meta: BundleMeta = serde_json::from_value(raw).map_err(|e| BundleError::Json {
            path: meta_path.clone(),
            source: e,
        })?;
        let text_file = |name: &str, why| -> Result<String, BundleError> {
            let p = named(dir, name, why)?;
            std::fs::read_to_string(&p).map_err(|e| io(&p, e))
        };
        let bin_file = |name: &str, why| -> Result<Vec<u8>, BundleError> {
            let p = named(dir, name, why)?;
            std::fs::read(&p).map_err(|e| io(&p, e))
        };
        let tile_ir = text_file(
            &meta.tile_ir,
            "the runner re-runs the kernel's tile IR on the interpreter",
        )?;
        let ptx = meta
            .ptx
            .as_deref()
            .map(|f| text_file(f, "meta.json names it"))
            .transpose()?;
        let cubin = meta
            .cubin
            .as_deref()
            .map(|f| bin_file(f, "meta.json names it"))
            .transpose()?;
        let hsaco = meta
            .hsaco
            .as_deref()
            .map(|f| bin_file(f, "meta.json names it"))
            .transpose()?;
        let optional = |name: &str| -> Result<Option<String>, BundleError> {
            let p = dir.join(name);
            if p.is_file() {
                std::fs::read_to_string(&p).map(Some).map_err(|e| io(&p, e))
            } else {
                Ok(None)
            }
        };
        let bundle = Bundle {
            meta,
            ptx,
            cubin,
            hsaco,
            tile_ir,
            report_txt: optional(REPORT_TXT_FILE)?,
            report_json: optional(REPORT_JSON_FILE)?,
        };
        bundle.check(dir)?;
        Ok(bundle)
    }

    /// Consistency of the contents: some device code, a sane launch shape, at most 3 grid dims.
    pub fn check(&self, dir: &Path) -> Result<(), BundleError> {
        let bad = |what: String| {
            Err(BundleError::Invalid {
                dir: dir.to_path_buf(),
                what,
            })
        };
        if self.ptx.is_none() && self.cubin.is_none() && self.hsaco.is_none() {
            return bad("no device code: meta.json names neither `ptx`, `cubin` nor `hsaco`".into());
        }
        if self.meta.entry.is_empty() {
            return bad("meta.json has an empty `entry` (the device entry-point symbol)".into());
        }
        if self.meta.grid.is_empty() || self.meta.grid.len() > 3 {
            return bad(format!(
                "launch grid has {} dims; 1 to 3 expected",
                self.meta.grid.len()
            ));
        }
        let threads: u64 = self.meta.block.iter().map(|b| u64::from(*b)).product();
        if threads == 0 || threads > 1024 {
            return bad(format!(
                "block {:?} has {threads} threads; 1 to 1024 expected",
                self.meta.block
            ));
        }
        if self.tile_ir.trim().is_empty() {
            return bad(format!("{} is empty", self.meta.tile_ir));
        }
        Ok(())
    }

    /// The image to load on an NVIDIA device: cubin when present, else PTX.
    pub fn nvidia_image(&self) -> Option<Image<'_>> {
        match (&self.cubin, &self.ptx) {
            (Some(c), _) => Some(Image::Cubin(c)),
            (None, Some(p)) => Some(Image::Ptx(p)),
            (None, None) => None,
        }
    }
}

fn named(dir: &Path, name: &str, why: &'static str) -> Result<PathBuf, BundleError> {
    // File names in meta.json are plain names inside the bundle; anything else could read outside it.
    if name.is_empty() || name.contains('/') || name.contains('\\') || name == "." || name == ".." {
        return Err(BundleError::Invalid {
            dir: dir.to_path_buf(),
            what: format!("meta.json names file {name:?}, which is not a plain file name inside the bundle"),
        });
    }
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(missing(dir, name, why))
    }
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).map_err(|e| io(&p, e))
}

fn io(path: &Path, source: std::io::Error) -> BundleError {
    BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn missing(dir: &Path, file: &str, why: &'static str) -> BundleError {
    BundleError::Missing {
        dir: dir.to_path_buf(),
        file: file.to_string(),
        why,
    }
}
