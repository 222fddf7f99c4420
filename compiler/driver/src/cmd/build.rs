//! `tessera build FILE.tsr [--kernel NAME] --target sm_90a -o DIR [--report] [--emit=mlir|llvm|ptx]`:
//! check the source, lower the kernel for the target, and write the artifact bundle (PTX, cubin when
//! ptxas is present, meta.json, kernel.tir, report.txt/report.json). `--emit` prints one stage.

use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::{Kernel, Module};
use tessera_target_nvidia::{BuildError, BuildOptions, LoweringOptions, PtxasMode, Source};

/// Code of a lowering error that points at the user's source (an IR shape the target cannot
/// compile yet). Not a checker code: the checker accepts these programs.
const UNSUPPORTED_ON_TARGET: &str = "L0001";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The generated MLIR, before any pass.
    Mlir,
    /// LLVM IR after the MLIR conversion passes and translation.
    Llvm,
    /// The PTX from the NVPTX backend.
    Ptx,
}

#[derive(clap::Args)]
pub struct Args {
    /// The .tsr source file.
    file: PathBuf,
    /// Which kernel of the file to build (required when the file has several).
    #[arg(long)]
    kernel: Option<String>,
    /// Target architecture.
    #[arg(long, default_value = "sm_90a")]
    target: String,
    /// Bundle directory to write.
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// Print the build report.
    #[arg(long)]
    report: bool,
    /// Print an intermediate stage to stdout.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Shared-memory pipeline stages of the mainloop (at least 2).
    #[arg(long, default_value_t = 4)]
    stages: u32,
    /// Do not run ptxas (the bundle then has PTX only).
    #[arg(long)]
    no_ptxas: bool,
    /// fp8: accumulate across the whole K loop inside wgmma (faster, fewer accumulator bits)
    /// instead of promoting each K tile's partial into f32 registers.
    #[arg(long)]
    fp8_fast_accum: bool,
}

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

pub fn main(args: Args) -> ExitCode {
    let Some(target) = tessera_target_nvidia::by_name(&args.target) else {
        eprintln!(
            "error: {}",
            BuildError::UnknownTarget {
                target: args.target.clone()
            }
        );
        return ExitCode::from(2);
    };
    if args.stages < 2 {
        eprintln!(
            "error: --stages {}: the mainloop needs at least 2 pipeline stages",
            args.stages
        );
        return ExitCode::from(2);
    }
    if args.out.is_none() && args.emit.is_none() {
        eprintln!("error: nothing to do: give -o DIR (write a bundle) and/or --emit=mlir|llvm|ptx");
        return ExitCode::from(2);
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let name = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (module, diags) = tessera_check::check_source(&name, &bytes);
    if !diags.is_empty() {
        eprint!(
            "{}",
            tessera_check::render_diagnostics(&name, &bytes, &diags, false, false)
        );
    }
    let Some(module) = module else {
        return ExitCode::from(1);
    };
    let kernel = match pick(&module, args.kernel.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = BuildOptions {
        target,
        lowering: LoweringOptions {
            stages: args.stages,
            fp8_fast_accum: args.fp8_fast_accum,
            ..LoweringOptions::default()
        },
        ptxas: if args.no_ptxas {
            PtxasMode::Off
        } else {
            PtxasMode::Auto
        },
    };
    let fail = |e: BuildError| {
        eprint!("{}", render_build_error(&name, &bytes, &e));
        ExitCode::from(1)
    };
    if args.emit == Some(Emit::Mlir) {
        // Printed even when a later stage would fail: that is when one wants to see it.
        match tessera_target_nvidia::lower(kernel, &opts) {
            Ok(l) => emit(&l.mlir),
            Err(e) => return fail(e),
        }
        if args.out.is_none() {
            return ExitCode::SUCCESS;
        }
    }
    let art = match tessera_target_nvidia::compile(kernel, &opts) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    match args.emit {
        Some(Emit::Llvm) => emit(&art.llvm_ir),
        Some(Emit::Ptx) => emit(&art.ptx),
        Some(Emit::Mlir) | None => {}
    }
    if args.report {
        emit(&art.report.to_text());
    }
    if let Some(dir) = &args.out {
        let one = Module {
            source_name: module.source_name.clone(),
            kernels: vec![kernel.clone()],
        };
        let tir = tessera_ir::print_module(&one);
        let bundle = tessera_target_nvidia::make_bundle(
            kernel,
            &target,
            &art,
            &Source {
                file_name: &name,
                bytes: &bytes,
            },
            tir,
        );
        if let Err(e) = bundle.write(dir) {
            eprintln!("error: writing the bundle: {e}");
            return ExitCode::from(1);
        }
        eprintln!(
            "built {} for {} -> {} ({}kernel.ptx, meta.json, kernel.tir, report.txt)",
            kernel.name,
            target.name,
            dir.display(),
            if art.cubin.is_some() { "kernel.cubin, " } else { "" },
        );
    }
    ExitCode::SUCCESS
}

/// Print a stage to stdout. A closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Lowering errors that carry a span are shown against the source like any diagnostic.
fn render_build_error(name: &str, bytes: &[u8], e: &BuildError) -> String {
    match e {
        BuildError::Lowering(le @ tessera_target_nvidia::LoweringError::Unsupported { what, span }) => {
            let d = Diagnostic::error(
                UNSUPPORTED_ON_TARGET,
                le.to_string(),
                DSpan::new(span.lo, span.hi),
                what.clone(),
            )
            .with_note(
                "the Hopper (sm_90a) lowering covers GEMM-shaped kernels; see docs/dev/hopper-gemm.md",
            );
            tessera_check::render_diagnostics(name, bytes, &[d], false, false)
        }
        other => format!("error: {other}\n"),
    }
}
