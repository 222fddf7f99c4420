//! `tessera build FILE.tsr [--kernel NAME] --target sm_90a|sm_100a|sm_120a|sm_121a|gfx950 -o DIR
//! [--report] [--emit=mlir|llvm|ptx] [pipeline flags]` and `tessera build --list-targets`: check the
//! source, run the target's pass pipeline (`--print-pipeline`, `--print-after=NAME`,
//! `--print-after-all`, `--verify-each`, `--diff-interp`), lower the result for the target and
//! write the artifact bundle (PTX + cubin for NVIDIA, HSACO for gfx950; meta.json; kernel.tir = the
//! IR after the pipeline; report.txt/json).
//!
//! Exit status: 0 built; 1 the program does not check or the target cannot express it (coded
//! diagnostic) or a tool rejected the output; 2 usage (unknown target, unreadable file, bad flag);
//! 3 internal compiler error (verifier / diff-interp failure after a pass).
//!
//! Modules: `targets` (names, backends, `--list-targets`), `pipeline` (pass flags and their
//! errors), `hopper` / `native` / `amd` (one backend each), `report`, `lowered` (backend result →
//! bundle).

mod amd;
mod hopper;
mod lowered;
mod native;
pub mod out_dir;
pub mod pipeline;
mod report;
pub mod targets;

use crate::cmd::E_USAGE;
use crate::cmd::check::E_UNREADABLE;
use crate::cmd::run::prep::Failure;
use clap::ValueEnum;
use lowered::Source;
use pipeline::{PipelineFlags, SourceText};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use targets::Backend;
use tessera_bundle::Bundle;
use tessera_ir::{Kernel, Module};
use tessera_passes::PipelineOptions;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The generated MLIR (all targets).
    Mlir,
    /// LLVM IR after the MLIR conversion passes (sm_90a, gfx950).
    Llvm,
    /// The PTX (NVIDIA targets).
    Ptx,
}

#[derive(clap::Args)]
pub struct Args {
    /// The .tsr source file.
    file: Option<PathBuf>,
    /// Which kernel of the file to build (required when the file has several).
    #[arg(long)]
    kernel: Option<String>,
    /// Target architecture: sm_90a, sm_100a, sm_120a, sm_121a or gfx950.
    #[arg(long, default_value = "sm_90a")]
    target: String,
    /// List the targets with their capabilities and exit.
    #[arg(long)]
    list_targets: bool,
    /// Bundle directory to write: a new or empty directory, or one an earlier `tessera build`
    /// wrote (it is replaced whole).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// Replace the -o path even when it is not a bundle directory (a directory with other files, a
    /// file, a symbolic link: the link is replaced, not its target).
    #[arg(long)]
    force: bool,
    /// Print the build report.
    #[arg(long)]
    report: bool,
    /// Print an intermediate stage to stdout.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// sm_90a: shared-memory pipeline stages of the mainloop (at least 2).
    #[arg(long, default_value_t = 4)]
    stages: u32,
    /// NVIDIA: do not run ptxas (the bundle then has PTX only).
    #[arg(long)]
    no_ptxas: bool,
    /// sm_90a fp8: accumulate across the whole K loop inside wgmma (faster, fewer accumulator
    /// bits) instead of promoting each K tile's partial into f32 registers.
    #[arg(long)]
    fp8_fast_accum: bool,
    #[command(flatten)]
    pipeline: PipelineFlags,
}

/// Backend knobs from the command line.
#[derive(Clone, Debug)]
pub struct Knobs {
    pub stages: u32,
    pub fp8_fast_accum: bool,
    /// Run ptxas on NVIDIA PTX when it can be found.
    pub ptxas: bool,
    pub emit: Option<Emit>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            stages: 4,
            fp8_fast_accum: false,
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

pub fn main(args: Args) -> ExitCode {
    if args.list_targets {
        emit(&targets::list_text());
        return ExitCode::SUCCESS;
    }
    let Some(file) = &args.file else {
        eprintln!("error[{E_USAGE}]: give a .tsr file to build (or --list-targets)");
        return ExitCode::from(2);
    };
    if args.stages < 2 {
        eprintln!(
            "error[{E_USAGE}]: --stages {}: the mainloop needs at least 2 pipeline stages",
            args.stages
        );
        return ExitCode::from(2);
    }
    if args.out.is_none() && args.emit.is_none() && !args.report {
        eprintln!(
            "error[{E_USAGE}]: nothing to do: give -o DIR (write a bundle), --report and/or --emit=mlir|llvm|ptx"
        );
        return ExitCode::from(2);
    }
    // Refuse a path that is not ours before spending time on the build.
    if let Some(dir) = &args.out {
        let refused = out_dir::inspect(dir).map(|s| out_dir::refusal(dir, &s, args.force));
        if let Ok(Some(msg)) | Err(msg) = refused {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    }
    let req = Request {
        file,
        kernel: args.kernel.as_deref(),
        target: &args.target,
        pipeline: args.pipeline.options(),
        knobs: Knobs {
            stages: args.stages,
            fp8_fast_accum: args.fp8_fast_accum,
            ptxas: !args.no_ptxas,
            emit: args.emit,
        },
    };
    let built = match build(&req) {
        Ok(b) => b,
        Err(f) => {
            eprint!("{}", f.message);
            if !f.message.ends_with('\n') {
                eprintln!();
            }
            return ExitCode::from(f.exit);
        }
    };
    if args.report {
        emit(&built.report_text);
    }
    if let Some(dir) = &args.out {
        if let Err(msg) = out_dir::write(&built.bundle, dir, args.force) {
            eprintln!("{msg}");
            return ExitCode::from(if msg.contains(out_dir::E_OUT_DIR) { 2 } else { 1 });
        }
        let b = &built.bundle;
        let files: Vec<&str> = [
            (b.ptx.is_some(), "kernel.ptx"),
            (b.cubin.is_some(), "kernel.cubin"),
            (b.hsaco.is_some(), "kernel.hsaco"),
            (true, "meta.json"),
            (true, "kernel.tir"),
            (true, "report.txt"),
            (true, "report.json"),
        ]
        .into_iter()
        .filter(|(present, _)| *present)
        .map(|(_, f)| f)
        .collect();
        eprintln!(
            "built {} for {} -> {} ({})",
            built.kernel,
            built.target,
            dir.display(),
            files.join(", ")
        );
    }
    ExitCode::SUCCESS
}

/// Check, run the pass pipeline, lower and assemble the bundle (not written). Pass-pipeline
/// printing goes to stderr, `--emit` stages to stdout; failures carry their rendered message.
pub fn build(req: &Request) -> Result<Built, Failure> {
    let target = targets::resolve(req.target).map_err(Failure::usage)?;
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
    let tir = tessera_ir::print_module(&one);
    let Some(kernel) = one.kernels.first() else {
        return Err(Failure {
            exit: pipeline::EXIT_INTERNAL,
            message: format!(
                "error[{}]: internal: the pass pipeline dropped kernel `{}`",
                pipeline::E_INTERNAL,
                picked.name
            ),
        });
    };
    let lowered = match target.backend {
        Backend::Hopper(t) => hopper::build(kernel, t, &req.knobs, &src)?,
        Backend::NvNative(t) => native::build(kernel, t, &req.knobs, &src)?,
        Backend::Gfx950 => amd::build(kernel, &req.knobs, &src)?,
    };
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

/// Code of a kernel choice that does not name one kernel of the file (`--kernel`).
pub const E_KERNEL: &str = "E0904";

fn pick<'m>(module: &'m Module, name: Option<&str>) -> Result<&'m Kernel, String> {
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
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
