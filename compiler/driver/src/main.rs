//! The `tessera` command: one subcommand per module in `cmd/`, each owning its flags.

mod cmd;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: tile kernels for FP8/FP4 GEMM and attention"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check .tsr files.
    Check(cmd::check::Args),
    /// Print the long explanation of a diagnostic code (e.g. `tessera explain E0001`).
    Explain(cmd::explain::Args),
    /// Compile a kernel for a target into an artifact bundle.
    Build(cmd::build::Args),
    /// Run a kernel on a backend (interp, cuda, hip) with .npy or random inputs.
    Run(cmd::run::Args),
    /// Check a backend against the interpreter and the plain reference.
    Validate(cmd::validate::Args),
    /// Time a built bundle on a GPU.
    Bench(cmd::bench::Args),
    /// The Quick-start job: compile an example, run it on the interpreter (and a GPU if present).
    Demo(cmd::demo::Args),
    /// Run passes on tile-IR text (replays a reproducer: `tessera opt repro.tir --passes=NAME`).
    Opt(cmd::opt::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    match cli.cmd {
        Command::Check(a) => cmd::check::main(a),
        Command::Explain(a) => cmd::explain::main(a),
        Command::Build(a) => cmd::build::main(a),
        Command::Run(a) => cmd::run::main(a),
        Command::Validate(a) => cmd::validate::main(a),
        Command::Bench(a) => cmd::bench::main(a),
        Command::Demo(a) => cmd::demo::main(a),
        Command::Opt(a) => cmd::opt::main(a),
    }
}

/// clap's errors as a coded usage error (exit 2); `--help` and `--version` print and exit 0.
fn usage_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            let text = e.render().to_string();
            let coded = match text.strip_prefix("error: ") {
                Some(rest) => format!("error[{}]: {rest}", cmd::E_USAGE),
                // Help shown for a missing subcommand or argument: say why first.
                None => format!(
                    "error[{}]: missing a subcommand or argument\n\n{text}",
                    cmd::E_USAGE
                ),
            };
            eprint!("{coded}");
            if !coded.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(2)
        }
    }
}
