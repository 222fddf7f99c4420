//! `tessera-runner`: run / validate / bench artifact bundles on a GPU. Links no LLVM or MLIR, so it
//! is small enough to carry to a GPU machine. Each run prints one line that is easy to quote; `--json
//! FILE` appends the same result as one JSON object per line for scripts.
//!
//! Exit status: 0 ok, 1 validation failed, 2 bad invocation or bundle, 3 no GPU/runtime here,
//! 4 device failure.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_runner::{Backend, BenchOptions, Common, RunnerError, ValidateOptions};

#[derive(Parser)]
#[command(
    name = "tessera-runner",
    version,
    about = "Run, validate and bench Tessera bundles on a GPU (no LLVM)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct CommonArgs {
    /// Bundle directory written by `tessera build`.
    bundle: PathBuf,
    /// Symbolic dim, e.g. `--dim M=4096` (repeat for each).
    #[arg(long = "dim", value_name = "NAME=N")]
    dims: Vec<String>,
    /// Scalar parameter value, e.g. `--scalar alpha=0.5`.
    #[arg(long = "scalar", value_name = "NAME=V")]
    scalars: Vec<String>,
    /// Your data: `--arg a=a.npy` for a tensor input, `--arg a.scale=as.npy` for its block scales
    /// (row-major, logical), `--arg alpha=0.5` for a scalar. Files bind the symbolic dims; inputs
    /// not given are generated from --seed; with any file given, every scalar must be given.
    #[arg(long = "arg", value_name = "NAME=FILE.npy|V")]
    args: Vec<String>,
    /// Seed of the random inputs (printed with every result).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// cuda or hip; by default chosen from the bundle's target.
    #[arg(long)]
    backend: Option<String>,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Launch once on fresh random inputs; summarise (and optionally save) the outputs.
    Run {
        #[command(flatten)]
        c: CommonArgs,
        /// `NAME=FILE.npy` writes output NAME (`NAME.scale=FILE.npy` its block scales, row-major);
        /// a bare DIR writes every output as DIR/<param>.npy (and DIR/<param>.scale.npy).
        #[arg(long = "out", value_name = "NAME=FILE.npy|DIR")]
        out: Vec<String>,
    },
    /// Check the GPU against the interpreter and the plain reference on fresh random inputs.
    Validate {
        #[command(flatten)]
        c: CommonArgs,
        /// Interpret at most this many programs (tiles), chosen at random plus the edge tiles, when
        /// the whole problem is too big to interpret; 0 = always all programs.
        #[arg(long, default_value_t = 16)]
        spot_tiles: usize,
    },
    /// Print the launch plan (grid, ABI slots, TMA tensor-map encodings) without a GPU.
    Plan {
        #[command(flatten)]
        c: CommonArgs,
    },
    /// Time the bundle: warm-up, median of N launches, rotating inputs that fit in L2.
    Bench {
        #[command(flatten)]
        c: CommonArgs,
        #[arg(long, default_value_t = 50)]
        iters: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Measured ceiling in TFLOP/s (e.g. cuBLAS in the same session) for the % column.
        #[arg(long)]
        ceiling_tflops: Option<f64>,
        /// Do not rotate input sets (measures warm-L2 speed).
        #[arg(long)]
        no_rotate: bool,
    },
}

fn common(c: &CommonArgs) -> Result<Common, RunnerError> {
    let backend = match &c.backend {
        None => None,
        Some(s) => Some(
            Backend::parse(s)
                .ok_or_else(|| RunnerError::usage(format!("--backend {s}: expected `cuda` or `hip`")))?,
        ),
    };
    Ok(Common {
        bundle_dir: c.bundle.clone(),
        dims: c.dims.clone(),
        scalars: c.scalars.clone(),
        seed: c.seed,
        backend,
        args: c.args.clone(),
        default_dims: Vec::new(),
    })
}

fn append_json(path: &Option<PathBuf>, v: serde_json::Value) -> Result<(), RunnerError> {
    let Some(p) = path else { return Ok(()) };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|e| RunnerError::usage(format!("--json {}: {e}", p.display())))?;
    writeln!(f, "{v}").map_err(|e| RunnerError::usage(format!("--json {}: {e}", p.display())))
}

fn go(cmd: Cmd) -> Result<bool, RunnerError> {
    match cmd {
        Cmd::Run { c, out } => {
            let outs = tessera_runner::OutSpec::parse(&out)?;
            let row = tessera_runner::run_bundle_to(&common(&c)?, &outs)?;
            for (_, f) in &outs.files {
                eprintln!("wrote {}", f.display());
            }
            eprintln!("device: {}", row.device);
            println!("{}", row.line());
            let clean = row.outputs.iter().all(|o| o.poisoned == 0 && o.non_finite == 0);
            Ok(clean)
        }
        Cmd::Plan { c } => {
            for l in tessera_runner::plan_bundle(&common(&c)?)? {
                println!("{l}");
            }
            Ok(true)
        }
        Cmd::Validate { c, spot_tiles } => {
            let opts = ValidateOptions {
                spot_tiles,
                ..ValidateOptions::default()
            };
            let row = tessera_runner::validate_bundle(&common(&c)?, &opts)?;
            eprintln!("device: {}", row.device);
            for l in row.detail_lines() {
                eprintln!("  {l}");
            }
            println!("{}", row.line());
            append_json(&c.json, row.json())?;
            Ok(row.pass)
        }
        Cmd::Bench {
            c,
            iters,
            warmup,
            ceiling_tflops,
            no_rotate,
        } => {
            let opts = BenchOptions {
                warmup,
                iters,
                flops: None,
                ceiling_tflops,
                rotate: !no_rotate,
            };
            let row = tessera_runner::bench_bundle(&common(&c)?, &opts)?;
            eprintln!("device: {}", row.device);
            println!("{}", row.line());
            append_json(&c.json, row.json())?;
            Ok(true)
        }
    }
}

/// Code of a usage error (the same as `tessera`'s): a flag or value that does not parse, a bad
/// `--dim`/`--scalar`, a combination the runner refuses.
const E_USAGE: &str = "E0903";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            match text.strip_prefix("error: ") {
                Some(rest) => eprint!("error[{E_USAGE}]: {rest}"),
                None => eprint!("error[{E_USAGE}]: missing a subcommand or argument\n\n{text}"),
            }
            return ExitCode::from(2);
        }
    };
    match go(cli.cmd) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            // Coded errors carry their own `error[E....]: ` prefix.
            let m = e.to_string();
            if m.starts_with("error[") {
                eprintln!("{m}");
            } else if e.exit_code() == 2 {
                // Exit 2 is a bad invocation (a coded bundle error carries its own code above).
                eprintln!("error[{E_USAGE}]: {m}");
            } else {
                eprintln!("error: {m}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
