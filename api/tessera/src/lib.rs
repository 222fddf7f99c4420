//! Tessera as a library.
//!
//! ```no_run
//! # #[cfg(feature = "compile")] fn main() -> Result<(), tessera::Error> {
//! let src = "kernel scale(x: f32[N], a: f32, y: out f32[N]) tiles(B = 256) grid(cdiv(N, B)) {
//!     let i = program_id(0) * B;
//!     store(y[i .. +B], load(x[i .. +B]) * a);
//! }";
//! let k = tessera::compile(src, None, "sm_90a", &tessera::Options::default())?; // cached on disk
//! println!("{}", k.signature().display());
//! // on a GPU: k.launch(&stream, &[x.into(), 2.0f32.into(), y.into()])?
//! # Ok(()) }
//! # #[cfg(not(feature = "compile"))] fn main() {}
//! ```
//!
//! - [`compile`] (feature `compile`, default): front end + the target's pass pipeline + lowering,
//!   through the on-disk [`cache`] so a second process pays no compile.
//! - [`Kernel::load_bundle`] / [`Kernel::from_parts`]: prebuilt bundles; needs no LLVM
//!   (`default-features = false` gives a runtime-only build).
//! - [`Kernel::bind`]: arguments checked against the typed [`Signature`], symbolic dims inferred
//!   from their shapes, the launch planned; [`Kernel::launch`] (feature `cuda`, default) launches
//!   on the caller's buffers and stream.
//! - Errors ([`Error`]) carry the diagnostics code (`tessera explain CODE`).
//!
//! docs/EMBEDDING.md is the guide (signatures, dtypes, FP4 packing, scales, streams, caching).

pub mod cache;
#[cfg(feature = "compile")]
pub mod compiler;
mod error;
mod kernel;
#[cfg(feature = "cuda")]
mod launch;
mod signature;

#[cfg(feature = "compile")]
pub mod build;

pub use error::{Error, ErrorKind};
pub use kernel::{Arg, Bound, DeviceScale, DeviceTensor, Kernel};
#[cfg(feature = "cuda")]
pub use launch::{RawStream, device_tensor};
pub use signature::{ParamSig, ParamSigKind, Signature, TensorSig};
pub use tessera_bundle::{Bundle, TensorPart};
#[cfg(feature = "cuda")]
pub use tessera_cuda::cudarc;
pub use tessera_ir::{DType, Dim};
/// `tessera::kernel! { kernel ... }` / `kernel!(path = "k.tsr")`: see the `tessera-macros` crate.
pub use tessera_macros::kernel;
/// Host-side prepacking of scale tensors into a target's swizzled layout.
pub use tessera_prepack as prepack;

/// Whether a CUDA device can be opened here (for examples and tests that skip without one).
#[cfg(feature = "cuda")]
pub fn cuda_available() -> bool {
    tessera_cuda::device_available()
}

/// Compile options (each one is part of the cache key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// sm_90a: shared-memory pipeline stages (at least 2); `None` lets the compiler choose.
    pub stages: Option<u32>,
    /// sm_90a fp8: accumulate the whole K loop inside wgmma.
    pub fp8_fast_accum: bool,
    /// NVIDIA: assemble a cubin with ptxas when it is found (else PTX only, JIT by the driver).
    pub ptxas: bool,
    /// Run the IR verifier after every pass.
    pub verify_each: bool,
    /// The cache: `Some(dir)` an explicit directory, `None` the default (see [`cache`]).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Skip the cache entirely (neither read nor written).
    pub no_cache: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stages: None,
            fp8_fast_accum: false,
            ptxas: true,
            verify_each: false,
            cache_dir: None,
            no_cache: false,
        }
    }
}

impl Options {
    /// The part of the options that changes the compiled code (the cache key's).
    pub fn key_text(&self) -> String {
        format!(
            "stages={} fp8_fast_accum={} ptxas={} verify_each={}",
            self.stages.map_or("auto".to_string(), |s| s.to_string()),
            self.fp8_fast_accum,
            self.ptxas,
            self.verify_each
        )
    }
}

/// Compile kernel `kernel` (or the source's only kernel) of `source` for `target` (`sm_90a`,
/// `sm_100a`, `sm_120a`, `sm_121a`, `gfx950`), or load it from the on-disk cache when this exact
/// (source, kernel, target, options, compiler version) was compiled before.
#[cfg(feature = "compile")]
pub fn compile(source: &str, kernel: Option<&str>, target: &str, options: &Options) -> Result<Kernel, Error> {
    compile_named("<source>.tsr", source, kernel, target, options)
}

/// [`compile`] a `.tsr` file (its name appears in diagnostics).
#[cfg(feature = "compile")]
pub fn compile_file(
    path: impl AsRef<std::path::Path>,
    kernel: Option<&str>,
    target: &str,
    options: &Options,
) -> Result<Kernel, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::Compile,
            compiler::E_UNREADABLE,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    compile_named(&name, &text, kernel, target, options)
}

/// [`compile`] with the source's file name for diagnostics.
#[cfg(feature = "compile")]
pub fn compile_named(
    name: &str,
    source: &str,
    kernel: Option<&str>,
    target: &str,
    options: &Options,
) -> Result<Kernel, Error> {
    let dir = if options.no_cache {
        None
    } else {
        options.cache_dir.clone().or_else(cache::default_dir)
    };
    let key = cache::key(source.as_bytes(), kernel, target, &options.key_text());
    if let Some(d) = &dir
        && let Ok(mut k) = Kernel::load_bundle(cache::entry(d, &key))
    {
        k.cache_hit = true;
        return Ok(k);
    }
    let req = compiler::Request {
        file: std::path::Path::new(name),
        kernel,
        target,
        pipeline: tessera_passes::PipelineOptions {
            verify_each: options.verify_each,
            ..tessera_passes::PipelineOptions::default()
        },
        knobs: compiler::Knobs {
            stages: options.stages.map(|s| s.max(2)),
            fp8_fast_accum: options.fp8_fast_accum,
            ptxas: options.ptxas,
            emit: None,
            ..compiler::Knobs::default()
        },
    };
    let built = compiler::build_source(name, source.as_bytes(), &req).map_err(|f| {
        let kind = match f.exit {
            3 => ErrorKind::Internal,
            _ => ErrorKind::Compile,
        };
        Error::from_rendered(kind, compiler::E_UNREADABLE, f.message)
    })?;
    if let Some(d) = &dir {
        cache::store(d, &key, &built.bundle)?;
    }
    Kernel::from_bundle(built.bundle)
}

/// What `tessera::kernel!` calls for a kernel it did not find embedded by build.rs: with the
/// `compile` feature, [`compile_named`] (through the cache); in a runtime-only build, the bundle a
/// compiling build of the same source left in the cache (`$TESSERA_CACHE_DIR`, ...), else an
/// error that says how to get one.
#[doc(hidden)]
pub fn kernel_for_source(
    name: &str,
    source: &str,
    kernel: Option<&str>,
    target: &str,
) -> Result<Kernel, Error> {
    #[cfg(feature = "compile")]
    {
        compile_named(name, source, kernel, target, &Options::default())
    }
    #[cfg(not(feature = "compile"))]
    {
        let _ = name;
        let options = Options::default();
        let key = cache::key(source.as_bytes(), kernel, target, &options.key_text());
        let dir = cache::default_dir().ok_or_else(|| {
            Error::new(
                ErrorKind::Bundle,
                error::E_BUNDLE,
                "no cache directory (set TESSERA_CACHE_DIR)",
            )
        })?;
        let mut k = Kernel::load_bundle(cache::entry(&dir, &key)).map_err(|e| {
            Error::new(
                ErrorKind::Bundle,
                error::E_BUNDLE,
                format!(
                    "this build of tessera has no compiler (default-features = false) and the cache {} has no \\
                     bundle of kernel `{}` for {target} ({e}); compile it once with the `compile` feature, \\
                     or embed it with tessera::build::compile_kernels in build.rs",
                    dir.display(),
                    kernel.unwrap_or("?")
                ),
            )
        })?;
        k.cache_hit = true;
        Ok(k)
    }
}
