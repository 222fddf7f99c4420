//! The compile flow of `tessera build`, as a library: check the source, run the target's pass
//! pipeline, lower the kernel for the target and assemble the artifact bundle (not written). The
//! `tessera` CLI's `build`, `run/validate --backend cuda|hip` and `demo` call this; so does
//! [`crate::compile`]. Only with the `compile` feature (it links LLVM/MLIR through the targets).
//!
//! Modules: `targets` (names, backends, `--list-targets`), `pipeline` (the pass pipeline and its
//! errors), `hopper` / `native` / `amd` (one backend each), `report`, `lowered` (backend result →
//! bundle).

mod amd;
mod hopper;
mod lowered;
mod native;
pub mod pipeline;
mod report;
pub mod targets;

use lowered::Source;
use pipeline::SourceText;
use std::io::Write;
use std::path::Path;
use targets::Backend;
use tessera_bundle::Bundle;
use tessera_ir::{Kernel, Module};
use tessera_passes::PipelineOptions;

/// Code of a source file that cannot be read (the CLI's `E0910`).
pub const E_UNREADABLE: &str = "E0910";

/// A failed build: the rendered message (coded diagnostics) and the CLI exit status it maps to
/// (1 = the program does not check or the target cannot express it, 2 = usage, 3 = internal).
#[derive(Clone, Debug)]
pub struct Failure {
    pub exit: u8,
    pub message: String,
}

/// Code of a usage error that has no more specific code (a bad flag value, a missing argument).
pub const E_USAGE: &str = "E0903";
/// Code of a kernel choice that does not name one kernel of the file (`--kernel`).
pub const E_KERNEL: &str = "E0904";

impl Failure {
    /// A usage error (exit 2). An uncoded `error: ...` message gets the usage code E0903.
    pub fn usage(message: impl Into<String>) -> Failure {
        let message: String = message.into();
        let message = match message.strip_prefix("error: ") {
            Some(rest) => format!("error[{E_USAGE}]: {rest}"),
            None => message,
        };
        Failure { exit: 2, message }
    }
}

/// Intermediate stages `tessera build --emit` prints to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// The generated MLIR (all targets).
    Mlir,
    /// LLVM IR after the MLIR conversion passes (sm_90a, gfx950).
    Llvm,
    /// The PTX (NVIDIA targets).
    Ptx,
}

/// Backend knobs (the `tessera build` flags `--stages`, `--fp8-fast-accum`, `--no-ptxas`, `--emit`).
#[derive(Clone, Debug)]
pub struct Knobs {
    /// `--stages`: `None` lets the lowering choose (tessera_lowering_mlir::LoweringOptions::stages).
    pub stages: Option<u32>,
    pub fp8_fast_accum: bool,
    /// sm_90a per-op dots: copy operand loads with `cp.async` through a multi-stage ring
    /// (on by default; `--no-async-copies` stages them from registers).
    pub async_copies: bool,
    /// sm_90a per-op NVFP4 dots on bf16 wgmma (on by default; `--no-nvfp4-wgmma` runs them on
    /// f32 FMAs).
    pub nvfp4_wgmma: bool,
    /// sm_90a per-op MXFP8 code operands copied with `cp.async` (on by default;
    /// `--no-async-scaled-copies` takes them through registers).
    pub async_scaled_copies: bool,
    /// sm_90a per-op packed FP4 dot operands staged from their bytes (on by default;
    /// `--no-packed-fp4-staging` takes their codes through registers).
    pub packed_fp4_staging: bool,
    /// sm_90a per-op rings filled by TMA where the tiles allow it (on by default;
    /// `--no-tma-rings` fills them with `cp.async`).
    pub tma_rings: bool,
    /// Run ptxas on NVIDIA PTX when it can be found.
    pub ptxas: bool,
    pub emit: Option<Emit>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            stages: None,
            fp8_fast_accum: false,
            async_copies: true,
            nvfp4_wgmma: true,
            async_scaled_copies: true,
            packed_fp4_staging: true,
            tma_rings: true,
            ptxas: true,
            emit: None,
        }
    }
}

/// One build: which kernel of which file, for which target, with which pipeline options.
pub struct Request<'a> {
    pub file: &'a Path,
    pub kernel: Option<&'a str>,
    pub target: &'a str,
    pub pipeline: PipelineOptions,
    pub knobs: Knobs,
}

/// What a successful build produced.
pub struct Built {
    pub kernel: String,
    /// The kernel after the pass pipeline (what kernel.tir holds and what was lowered).
    pub ir: Kernel,
    pub target: &'static str,
    pub bundle: Bundle,
    pub report_text: String,
}

/// Bytes of spills per thread past which a kernel laid out for fewer warps than the target allows
/// is built again with one more MMA warp group: on the H200, every per-op kernel that spilled at
/// least 164 bytes ran faster with the second group (gemm_mxfp8 692.2 -> 585.2 us, gemm_nvfp4
/// 23080 -> 4963 us, gemm_mxfp4_fp8 2957.6 -> 1643.0 us), and the one that spilled 4 bytes ran
/// slower (gemm_fp8_blockscale 602.8 -> 1114.2 us; docs/PERFORMANCE.md, session 7).
pub const SPILL_RETRY_BYTES: u64 = 64;

/// The kernel to build again with one more warp group, when the first build (`first`, laid out
/// from `picked`) spilled at least [`SPILL_RETRY_BYTES`] and the target allows more warps: `picked`
/// with [`MIN_WARP_BITS_ATTR`] set, through the pipeline again (printing nothing, verified and
/// diff-interpreted as the first run was). `None` when there is nothing to try, or the layout pass
/// would not add warps (the dots' rows leave a second group no work).
fn more_warps(
    picked: &Kernel,
    first: &Kernel,
    built: &lowered::Lowered,
    caps: &tessera_passes::TargetCaps,
    opts: &PipelineOptions,
    src: &SourceText,
) -> Result<Option<Kernel>, Failure> {
    use tessera_passes::passes::assign_layouts::MIN_WARP_BITS_ATTR;
    let (Some(cta), Some(spilled)) = (first.cta, built.spill_bytes) else {
        return Ok(None);
    };
    // Only a build laid out from the distributed level has the warps the layout pass chose (every
    // sm_90a build is; the check keeps a kernel whose warps the lowering chose otherwise from
    // being rebuilt unchanged).
    let per_op = built
        .tuning
        .iter()
        .any(|(key, v)| key == "warps" && *v == 1i64 << cta.warp_bits);
    if !per_op || spilled < SPILL_RETRY_BYTES || cta.warp_bits >= caps.max_warp_bits {
        return Ok(None);
    }
    let mut k = picked.clone();
    k.attrs.retain(|(key, _)| key != MIN_WARP_BITS_ATTR);
    k.attrs
        .push((MIN_WARP_BITS_ATTR.into(), (cta.warp_bits + 1).to_string()));
    let mut m = Module {
        source_name: src.name.to_string(),
        kernels: vec![k],
    };
    let quiet = PipelineOptions {
        verify_each: opts.verify_each,
        diff_interp: opts.diff_interp.clone(),
        passes: opts.passes.clone(),
        repro_dir: opts.repro_dir.clone(),
        ..PipelineOptions::default()
    };
    // A pass failing here (it accepted the same kernel without the attribute) is a compiler bug,
    // reported like any pipeline failure.
    pipeline::run(&mut m, caps, &quiet, src)?;
    Ok(m.kernels
        .pop()
        .filter(|again| again.cta.map(|c| c.warp_bits) > Some(cta.warp_bits)))
}

/// Check, run the pass pipeline, lower and assemble the bundle (not written). Pass-pipeline
/// printing goes to stderr, `--emit` stages to stdout; failures carry their rendered message.
pub fn build(req: &Request) -> Result<Built, Failure> {
    targets::resolve(req.target).map_err(Failure::usage)?;
    let bytes = std::fs::read(req.file).map_err(|e| {
        Failure::usage(format!(
            "error[{E_UNREADABLE}]: cannot read {}: {e}",
            req.file.display()
        ))
    })?;
    let name = req.file.file_name().map_or_else(
        || req.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    build_source(&name, &bytes, req)
}

/// [`build`] from source bytes in memory (`name` is used in diagnostics and meta.json); `req.file`
/// is not read.
pub fn build_source(name: &str, bytes: &[u8], req: &Request) -> Result<Built, Failure> {
    let target = targets::resolve(req.target).map_err(Failure::usage)?;
    let name = name.to_string();
    let bytes = bytes.to_vec();
    let src = SourceText {
        name: &name,
        bytes: &bytes,
    };
    let (module, diags) = tessera_check::check_source(&name, &bytes);
    let rendered = if diags.is_empty() {
        String::new()
    } else {
        tessera_check::render_diagnostics(&name, &bytes, &diags, false, false)
    };
    let module = match module {
        Some(m) if !diags.iter().any(|d| d.is_error()) => {
            // Warnings do not stop a build, but the user should still see them.
            eprint!("{rendered}");
            m
        }
        _ => {
            return Err(Failure {
                exit: 1,
                message: rendered,
            });
        }
    };
    let picked = pick(&module, req.kernel).map_err(|e| Failure::usage(format!("error[{E_KERNEL}]: {e}")))?;
    // Only the chosen kernel goes through the pipeline (and diff-interp); kernel.tir holds it alone.
    let mut one = Module {
        source_name: module.source_name.clone(),
        kernels: vec![picked.clone()],
    };
    let pipe = pipeline::run(&mut one, target.caps, &req.pipeline, &src)?;
    let Some(first) = one.kernels.pop() else {
        return Err(Failure {
            exit: pipeline::EXIT_INTERNAL,
            message: format!(
                "error[{}]: internal: the pass pipeline dropped kernel `{}`",
                pipeline::E_INTERNAL,
                picked.name
            ),
        });
    };
    // `--emit` prints the stages of the build that is kept, after the choice below.
    let quiet = Knobs {
        emit: None,
        ..req.knobs.clone()
    };
    let backend = |k: &Kernel, knobs: &Knobs| match target.backend {
        Backend::Hopper(t) => hopper::build(k, t, knobs, &src),
        Backend::NvNative(t) => native::build(k, t, knobs, &src),
        Backend::Gfx950 => amd::build(k, knobs, &src),
    };
    let first_built = backend(&first, &quiet).inspect_err(|_| {
        if req.knobs.emit.is_some() {
            // The stages up to the failure (`--emit=mlir` is printed even when ptxas fails).
            let _ = backend(&first, &req.knobs);
        }
    })?;
    let warps = |k: &Kernel| k.cta.map_or(0, |c| 1u32 << c.warp_bits);
    let (kernel, mut lowered, note) =
        match more_warps(picked, &first, &first_built, target.caps, &req.pipeline, &src)? {
            None => (first, first_built, None),
            Some(again) => {
                let spilled = first_built.spill_bytes.unwrap_or(0);
                let w = warps(&again);
                // The second build is kept only when it spills less; the report says either way.
                let (kept, outcome) = match backend(&again, &quiet) {
                    Ok(l) => {
                        let s = l.spill_bytes.unwrap_or(u64::MAX);
                        if s < spilled {
                            (Some(l), format!("rebuilt with {w} warps ({s} bytes)"))
                        } else {
                            (None, format!("kept: with {w} warps it spilled {s} bytes"))
                        }
                    }
                    Err(f) => {
                        let why = f.message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                        (None, format!("kept: the build with {w} warps failed: {why}"))
                    }
                };
                let note = format!(
                    "note: ptxas spilled {spilled} bytes per thread with {} warps; {outcome}\n",
                    warps(&first)
                );
                match kept {
                    Some(l) => (again, l, Some(note)),
                    None => (first, first_built, Some(note)),
                }
            }
        };
    if req.knobs.emit.is_some() {
        lowered = backend(&kernel, &req.knobs)?;
    }
    if let Some(n) = note {
        lowered.audit_text.push_str(&n);
    }
    let tir = tessera_ir::print_module(&Module {
        source_name: module.source_name.clone(),
        kernels: vec![kernel.clone()],
    });
    let kernel = &kernel;
    let rep = report::compose(&kernel.name, &name, &bytes, target.name, &pipe, &lowered);
    let bundle = lowered::to_bundle(
        kernel,
        target.name,
        lowered,
        &Source {
            file_name: &name,
            bytes: &bytes,
        },
        tir,
        rep.text.clone(),
        rep.json,
    );
    Ok(Built {
        kernel: kernel.name.clone(),
        ir: kernel.clone(),
        target: target.name,
        bundle,
        report_text: rep.text,
    })
}

pub fn pick<'m>(module: &'m Module, name: Option<&str>) -> Result<&'m Kernel, String> {
    let names = || {
        module
            .kernels
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => module
            .kernels
            .iter()
            .find(|k| k.name == n)
            .ok_or_else(|| format!("no kernel `{n}` (found: {})", names())),
        None => match module.kernels.as_slice() {
            [k] => Ok(k),
            [] => Err("the file defines no kernel".into()),
            _ => Err(format!(
                "the file defines several kernels; choose one with --kernel ({})",
                names()
            )),
        },
    }
}

/// Print to stdout. A closed pipe (`| head`) is not an error worth a panic.
pub fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
