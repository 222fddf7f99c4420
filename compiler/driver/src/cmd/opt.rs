//! `tessera opt FILE.tir [--target=T] [--passes=a,b] [--print-pipeline] [--print-after=NAME]...
//! [--print-after-all] [--verify-each] [--diff-interp [--seed=N]] [-o OUT]`: run passes on tile-IR
//! text (what `--print-after` prints and what an internal-compiler-error reproducer contains) and
//! print the result. This is the command a reproducer's "replay:" line runs. A `.tsr` source is
//! accepted too (checked first), to watch a kernel go through the pipeline. Exit 0 on success,
//! 1 when a pass, the verifier or diff-interp fails, 2 when the input cannot be read or parsed or the
//! target or a pass name is unknown. Every error is coded: E0930 the IR text does not parse, E0931
//! the input IR does not verify, E0920 a pass broke the IR (internal), E0912 the output cannot be
//! written, E0901/E0902 unknown pass/target, E0910 unreadable input.

use super::check::E_UNREADABLE;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera::compiler::pipeline::E_INTERNAL;
use tessera_passes::{DiffOptions, PassError, PipelineError, PipelineOptions, opt, registry};

/// Code of tile-IR text that does not parse (or is not UTF-8).
pub const E_IR_PARSE: &str = "E0930";
/// Code of input tile IR that parses but does not verify.
pub const E_IR_VERIFY: &str = "E0931";
/// Code of an output file that cannot be written.
pub const E_WRITE: &str = "E0912";

/// `E0901: message` (the registry's error text) as `error[E0901]: message`.
pub use tessera::compiler::pipeline::coded_registry_error;

#[derive(clap::Args)]
pub struct Args {
    /// Tile-IR text file (`.tir`), or a `.tsr` source to check first.
    file: PathBuf,
    /// Target whose capabilities (and default pipeline) the passes see.
    #[arg(long, default_value = "sm_90a")]
    target: String,
    /// Comma-separated pass names to run instead of the target's pipeline.
    #[arg(long)]
    passes: Option<String>,
    /// List the passes before running them.
    #[arg(long)]
    print_pipeline: bool,
    /// Print the IR after this pass (repeatable).
    #[arg(long)]
    print_after: Vec<String>,
    /// Print the IR after every pass.
    #[arg(long)]
    print_after_all: bool,
    /// Run the IR verifier on the input and after every pass.
    #[arg(long)]
    verify_each: bool,
    /// Interpret the IR before and after every pass on the same random inputs and compare.
    #[arg(long)]
    diff_interp: bool,
    /// Seed of the diff-interp inputs.
    #[arg(long)]
    seed: Option<u64>,
    /// Where reproducers are written (default: the current directory).
    #[arg(long)]
    repro_dir: Option<PathBuf>,
    /// Write the resulting IR here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error[{E_UNREADABLE}]: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let text = if args.file.extension().is_some_and(|e| e == "tsr") {
        let name = args.file.display().to_string();
        let (module, diags) = tessera_check::check_source(&name, &bytes);
        let Some(module) = module else {
            eprint!(
                "{}",
                tessera_check::render_diagnostics(&name, &bytes, &diags, false, false)
            );
            return ExitCode::from(1);
        };
        tessera_ir::print_module(&module)
    } else {
        match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                eprintln!(
                    "error[{E_IR_PARSE}]: {} is not UTF-8 text (tile IR is text; give a .tir or .tsr file)",
                    args.file.display()
                );
                return ExitCode::from(2);
            }
        }
    };
    let caps = match registry::target(&args.target) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", coded_registry_error(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let diff_interp = args.diff_interp.then(|| {
        let d = DiffOptions::default();
        DiffOptions {
            seed: args.seed.unwrap_or(d.seed),
            ..d
        }
    });
    let opts = PipelineOptions {
        passes: args.passes,
        print_pipeline: args.print_pipeline,
        print_after: args.print_after,
        print_after_all: args.print_after_all,
        verify_each: args.verify_each,
        diff_interp,
        repro_dir: args.repro_dir,
    };
    match opt(&text, caps, &opts, &mut std::io::stderr()) {
        Ok(out) => match &args.output {
            Some(p) => match std::fs::write(p, out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error[{E_WRITE}]: cannot write {}: {e}", p.display());
                    ExitCode::from(2)
                }
            },
            None => {
                print!("{out}");
                ExitCode::SUCCESS
            }
        },
        Err(e) => {
            let (exit, text) = coded(&e);
            eprintln!("{text}");
            ExitCode::from(exit)
        }
    }
}

/// The exit status and the coded message of a failed `opt` run.
pub fn coded(e: &PipelineError) -> (u8, String) {
    match e {
        PipelineError::Registry(r) => (2, coded_registry_error(&r.to_string())),
        PipelineError::Parse(p) => (2, format!("error[{E_IR_PARSE}]: {p}")),
        PipelineError::InputInvalid(v) => (
            1,
            format!("error[{E_IR_VERIFY}]: the input IR does not verify (before any pass): {v}"),
        ),
        PipelineError::Pass {
            kernel,
            error: PassError::Unsupported {
                pass, code, message, ..
            },
        } => (
            1,
            format!("error[{code}]: kernel `{kernel}`: {message} (pass `{pass}`)"),
        ),
        PipelineError::Reproducer { .. } | PipelineError::Log(_) => (1, format!("error[{E_WRITE}]: {e}")),
        other => (1, format!("error[{E_INTERNAL}]: {other}")),
    }
}
