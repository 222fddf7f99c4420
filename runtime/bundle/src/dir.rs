//! A bundle directory on disk: write it (the compiler), read and check it (runtimes, the runner).
//!
//! Layout (file names are recorded in `meta.json`, these are the names `write` uses):
//! `meta.json`, `kernel.ptx`, `kernel.cubin` (when ptxas was found), `kernel.hsaco` (AMD),
//! `kernel.tir` (the checked tile IR text), `report.txt` and `report.json` (the build report).

use crate::{AbiArg, BUNDLE_FORMAT_VERSION, BundleError, BundleMeta, TensorPart};
use std::path::{Path, PathBuf};

pub const META_FILE: &str = "meta.json";
pub const PTX_FILE: &str = "kernel.ptx";
pub const CUBIN_FILE: &str = "kernel.cubin";
pub const HSACO_FILE: &str = "kernel.hsaco";
pub const TIR_FILE: &str = "kernel.tir";
pub const REPORT_TXT_FILE: &str = "report.txt";
pub const REPORT_JSON_FILE: &str = "report.json";

/// CUDA's (and HIP's, which allows as much or more) per-dimension limits on a block and a grid.
pub const MAX_BLOCK_X: u32 = 1024;
pub const MAX_BLOCK_Y: u32 = 1024;
pub const MAX_BLOCK_Z: u32 = 64;
/// Grid x is limited to 2^31 - 1, y and z to 65535.
pub const MAX_GRID_X: u32 = (1 << 31) - 1;
pub const MAX_GRID_YZ: u32 = 65535;

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
        let limits = [MAX_BLOCK_X, MAX_BLOCK_Y, MAX_BLOCK_Z];
        if let Some(axis) = (0..3).find(|&i| self.meta.block[i] > limits[i]) {
            return bad(format!(
                "block {:?}: dim {axis} exceeds the device limit {limits:?}",
                self.meta.block
            ));
        }
        if self.tile_ir.trim().is_empty() {
            return bad(format!("{} is empty", self.meta.tile_ir));
        }
        self.check_device_code(dir)
    }

    /// `meta.json` against the device code, so that a corrupt or hand-edited meta.json is refused
    /// before a launch instead of passing the wrong arguments (F12): the entry symbol is in the
    /// image; for PTX, the module's `.target` is the bundle's target and the entry has exactly one
    /// parameter per ABI slot, each of the slot's kind (64-bit for buffers and tensor maps, f32
    /// or i32 for scalars).
    pub fn check_device_code(&self, dir: &Path) -> Result<(), BundleError> {
        let bad = |what: String| {
            Err(BundleError::Mismatch {
                dir: dir.to_path_buf(),
                what,
            })
        };
        let m = &self.meta;
        let has_symbol = |img: &[u8]| {
            let mut sym = m.entry.as_bytes().to_vec();
            sym.push(0);
            img.windows(sym.len()).any(|w| w == sym.as_slice())
        };
        if let Some(c) = &self.cubin
            && !has_symbol(c)
        {
            return bad(format!("entry `{}` is not a symbol of the cubin", m.entry));
        }
        if let Some(h) = &self.hsaco
            && !has_symbol(h)
        {
            return bad(format!(
                "entry `{}` is not a symbol of the HSACO code object",
                m.entry
            ));
        }
        let Some(ptx) = &self.ptx else {
            return Ok(());
        };
        match crate::ptx::target(ptx) {
            Some(t) if t == m.target => {}
            Some(t) => {
                return bad(format!(
                    "the PTX is for `.target {t}`, meta.json says `{}`",
                    m.target
                ));
            }
            None => return bad("the PTX has no `.target` line".into()),
        }
        let Some(params) = crate::ptx::entry_params(ptx, &m.entry) else {
            return bad(format!(
                "entry `{}` is not an `.entry` of the PTX (entries: {})",
                m.entry,
                crate::ptx::entries(ptx).join(", ")
            ));
        };
        if params.len() != m.abi.len() {
            return bad(format!(
                "the PTX entry `{}` takes {} parameters, meta.json's ABI has {} slots",
                m.entry,
                params.len(),
                m.abi.len()
            ));
        }
        use crate::ptx::PtxParamKind as P;
        for (i, (slot, p)) in m.abi.iter().zip(&params).enumerate() {
            let (want, ok) = match slot {
                AbiArg::Ptr { .. } | AbiArg::TensorMap { .. } => ("a 64-bit pointer", p.kind == P::Bits64),
                AbiArg::SymI32 { .. } | AbiArg::ScalarI32 { .. } => {
                    ("a 32-bit integer", matches!(p.kind, P::I32 | P::Bits32))
                }
                AbiArg::ScalarF32 { .. } | AbiArg::GlobalScaleF32 { .. } => {
                    ("an f32", matches!(p.kind, P::F32 | P::Bits32))
                }
            };
            if !ok {
                return bad(format!(
                    "ABI slot {i} ({slot:?}) needs {want}, but PTX parameter `{}` is {:?}",
                    p.name, p.kind
                ));
            }
        }
        Ok(())
    }

    /// `meta.json`'s ABI against the kernel of the bundle's tile IR: every slot names a parameter
    /// of the kernel, no slot is repeated, and every `out` tensor is passed (a kernel cannot write
    /// an output whose address it never gets: an ABI that passes an input in its place is corrupt).
    pub fn check_kernel(&self, dir: &Path, k: &tessera_ir::Kernel) -> Result<(), BundleError> {
        let bad = |what: String| {
            Err(BundleError::Mismatch {
                dir: dir.to_path_buf(),
                what,
            })
        };
        let name_of = |a: &AbiArg| -> Option<String> {
            match a {
                AbiArg::Ptr { param, .. }
                | AbiArg::TensorMap { param, .. }
                | AbiArg::ScalarI32 { param }
                | AbiArg::ScalarF32 { param }
                | AbiArg::GlobalScaleF32 { param } => Some(param.clone()),
                AbiArg::SymI32 { .. } => None,
            }
        };
        for (i, a) in self.meta.abi.iter().enumerate() {
            if let Some(n) = name_of(a)
                && !k.params.iter().any(|p| p.name == n)
            {
                return bad(format!(
                    "ABI slot {i} names `{n}`, which kernel `{}` does not have",
                    k.name
                ));
            }
            if let AbiArg::SymI32 { sym } = a
                && !k.syms.contains(sym)
            {
                return bad(format!(
                    "ABI slot {i} names dim `{sym}`, which kernel `{}` does not have",
                    k.name
                ));
            }
            if self.meta.abi[..i].contains(a) {
                return bad(format!("ABI slot {i} repeats an earlier slot: {a:?}"));
            }
        }
        for p in &k.params {
            if let tessera_ir::ParamKind::Tensor { is_out: true, .. } = p.kind {
                let passed = self.meta.abi.iter().any(|a| {
                    matches!(a, AbiArg::Ptr { param, part: TensorPart::Data } | AbiArg::TensorMap { param, part: TensorPart::Data, .. } if *param == p.name)
                });
                if !passed {
                    return bad(format!(
                        "output `{}` of kernel `{}` is passed in no ABI slot",
                        p.name, k.name
                    ));
                }
            }
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
