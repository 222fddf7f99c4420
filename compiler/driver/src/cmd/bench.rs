//! `tessera bench BUNDLE --dim M=.. [--backend cuda|hip]`: time a built bundle on a GPU. The same
//! library call as `tessera-runner bench` (tessera_runner::bench_bundle), so both print the same
//! one-line result.

use std::path::PathBuf;
use std::process::ExitCode;
use tessera_runner::{Backend, BenchOptions, Common};

#[derive(clap::Args)]
pub struct Args {
    /// Bundle directory written by `tessera build FILE.tsr --target sm_90a -o DIR`.
    bundle: PathBuf,
    /// Symbolic dim, e.g. `--dim M=4096` (repeat for each).
    #[arg(long = "dim", value_name = "NAME=N")]
    dims: Vec<String>,
    /// Scalar parameter value, e.g. `--scalar alpha=0.5`.
    #[arg(long = "scalar", value_name = "NAME=V")]
    scalars: Vec<String>,
    /// cuda or hip (default: from the bundle's target).
    #[arg(long)]
    backend: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 50)]
    iters: usize,
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Measured ceiling in TFLOP/s for the % column.
    #[arg(long)]
    ceiling_tflops: Option<f64>,
    /// Do not rotate input sets (measures warm-L2 speed).
    #[arg(long)]
    no_rotate: bool,
}

pub fn main(a: Args) -> ExitCode {
    let backend = match a.backend.as_deref().map(|s| (s, Backend::parse(s))) {
        None => None,
        Some((_, Some(b))) => Some(b),
        Some((s, None)) => {
            eprintln!(
                "error[{}]: --backend {s}: `tessera bench` runs on a GPU backend, `cuda` or `hip`",
                crate::cmd::E_USAGE
            );
            return ExitCode::from(2);
        }
    };
    let c = Common {
        bundle_dir: a.bundle,
        dims: a.dims,
        scalars: a.scalars,
        seed: a.seed,
        backend,
        ..Common::default()
    };
    let opts = BenchOptions {
        warmup: a.warmup,
        iters: a.iters,
        flops: None,
        ceiling_tflops: a.ceiling_tflops,
        rotate: !a.no_rotate,
    };
    match tessera_runner::bench_bundle(&c, &opts) {
        Ok(row) => {
            eprintln!("device: {}", row.device);
            println!("{}", row.line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
