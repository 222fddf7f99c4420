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
//! The compile flow itself is the `tessera` library's (`tessera::compiler::build`); this module
//! holds the flags and the output. `pipeline`: the pass-pipeline flags.

pub mod out_dir;
pub mod pipeline;

use crate::cmd::E_USAGE;
use clap::ValueEnum;
use pipeline::PipelineFlags;
use std::path::PathBuf;
use std::process::ExitCode;
pub use tessera::compiler::{Built, Knobs, Request, build, emit, targets};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EmitArg {
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
    emit: Option<EmitArg>,
    /// sm_90a: shared-memory ring stages of a dot's operands (at least 2). Default: the deepest
    /// ring (up to 4) that leaves room for two CTAs per SM.
    #[arg(long)]
    stages: Option<u32>,
    /// NVIDIA: do not run ptxas (the bundle then has PTX only).
    #[arg(long)]
    no_ptxas: bool,
    /// sm_90a fp8: accumulate across the whole K loop inside wgmma (faster, fewer accumulator
    /// bits) instead of promoting each K tile's partial into f32 registers.
    #[arg(long)]
    fp8_fast_accum: bool,
    /// Accepted for scripts written before session 12 and ignored with a warning: it turned off
    /// the FA-style attention schedule, which is deleted (every sm_90a kernel is lowered per op).
    #[arg(long, hide = true)]
    no_schedules: bool,
    /// sm_90a: per-op dots stage their operands from registers instead of copying their loads
    /// with `cp.async` through a multi-stage shared-memory ring (the default), e.g. to compare.
    #[arg(long)]
    no_async_copies: bool,
    /// sm_90a: per-op dots of NVFP4 operands run on f32 FMAs instead of bf16 wgmma (the default:
    /// codes times their block scale, exact in bf16, the per-tensor scales applied to each
    /// partial), e.g. to compare.
    #[arg(long)]
    no_nvfp4_wgmma: bool,
    /// sm_90a: per-op dots of MXFP8 codes take them (and their e8m0 scales) through registers
    /// instead of copying them with `cp.async` (through a ring in loops) and reading the scales
    /// from global memory (the default), e.g. to compare.
    #[arg(long)]
    no_async_scaled_copies: bool,
    /// sm_90a: per-op dots take packed FP4 operands (MXFP4, NVFP4) through registers, one code
    /// per register, instead of staging them from their packed bytes (the default), e.g. to
    /// compare.
    #[arg(long)]
    no_packed_fp4_staging: bool,
    /// sm_90a: per-op rings are filled by `cp.async` from every thread instead of by TMA from
    /// one thread (the default where the tiles allow it), e.g. to compare.
    #[arg(long)]
    no_tma_rings: bool,
    #[command(flatten)]
    pipeline: PipelineFlags,
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
    if let Some(stages) = args.stages.filter(|&s| s < 2) {
        eprintln!("error[{E_USAGE}]: --stages {stages}: a pipeline needs at least 2 stages");
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
    if args.no_schedules {
        eprintln!(
            "warning: --no-schedules has no effect: the FA-style attention schedule it turned off was \
             deleted (session 12); every sm_90a kernel is lowered per op"
        );
    }
    let req = Request {
        file,
        kernel: args.kernel.as_deref(),
        target: &args.target,
        pipeline: args.pipeline.options(),
        knobs: Knobs {
            stages: args.stages,
            fp8_fast_accum: args.fp8_fast_accum,
            async_copies: !args.no_async_copies,
            nvfp4_wgmma: !args.no_nvfp4_wgmma,
            async_scaled_copies: !args.no_async_scaled_copies,
            packed_fp4_staging: !args.no_packed_fp4_staging,
            tma_rings: !args.no_tma_rings,
            ptxas: !args.no_ptxas,
            emit: args.emit.map(|e| match e {
                EmitArg::Mlir => tessera::compiler::Emit::Mlir,
                EmitArg::Llvm => tessera::compiler::Emit::Llvm,
                EmitArg::Ptx => tessera::compiler::Emit::Ptx,
            }),
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
