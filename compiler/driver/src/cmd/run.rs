//! `tessera run FILE.tsr [--kernel NAME] --backend interp --arg a=a.npy [--arg a.scale=as.npy]
//! [--arg alpha=0.5] [--dim M=100 ...] [--random --seed N] --out c=c.npy`: run a kernel and write
//! its outputs as `.npy`. Symbolic dims bind from the input shapes (or `--dim`/defaults with
//! `--random`); the seed of random inputs is printed. `--backend cuda|hip` builds the kernel
//! in-process (sm_90a / gfx950) and launches it once through the runner library on the same
//! `--arg` inputs (inputs not given come from `--seed`; exit 3 when there is no GPU). Every `--arg`
//! is checked against the signature first (E0511 / E0508): nothing given is silently ignored.

pub mod gpu;
pub mod prep;

use prep::{Backend, Failure, dims_label, fresh_seed, load_kernel, make_bindings, parse_dims, parse_pairs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tessera_numerics::{ArgValue, decode_buf};

#[derive(clap::Args)]
pub struct Args {
    /// The .tsr source file.
    file: PathBuf,
    /// Kernel to run (default: the file's first kernel).
    #[arg(long)]
    kernel: Option<String>,
    /// Where to run it.
    #[arg(long, value_enum, default_value_t = Backend::Interp)]
    backend: Backend,
    /// Inputs: `name=FILE.npy` for tensors, `name.scale=FILE.npy` for block scales, `name=VALUE` for scalars.
    #[arg(long = "arg")]
    args: Vec<String>,
    /// Symbolic dims, `NAME=N` (needed with --random for dims no input binds; defaults otherwise).
    #[arg(long = "dim")]
    dims: Vec<String>,
    /// Outputs to write: `name=FILE.npy`.
    #[arg(long = "out")]
    outs: Vec<String>,
    /// Generate every tensor input not given with --arg from a seeded generator.
    #[arg(long)]
    random: bool,
    /// Seed for --random (printed; default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Interpreter only: stop with E0612 after this many work units (an element operation is one
    /// unit; see docs/NUMERICS.md); runs longer than 2 s print progress on stderr either way.
    #[arg(long)]
    max_work: Option<u64>,
}

pub fn main(args: Args) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.exit)
        }
    }
}

fn run(args: Args) -> Result<(), Failure> {
    match args.backend {
        Backend::Interp => run_interp(args),
        Backend::Cuda | Backend::Hip => run_gpu(args),
    }
}

fn run_interp(args: Args) -> Result<(), Failure> {
    let kernel = load_kernel(&args.file, args.kernel.as_deref())?;
    let pairs = parse_pairs(&args.args, "arg")?;
    let outs = tessera_runner::OutSpec::parse(&args.outs).map_err(gpu::runner_failure)?;
    if outs.dir.is_some() {
        return Err(Failure::usage("error: --out takes NAME=FILE.npy"));
    }
    outs.check(&kernel).map_err(gpu::runner_failure)?;
    let dims = parse_dims(&args.dims)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let mut b = make_bindings(&kernel, &pairs, &dims, args.random, seed)?;
    if args.random {
        println!("seed: {seed}");
    }
    println!("kernel `{}` at {}", kernel.name, dims_label(&b.syms));
    let t = Instant::now();
    crate::cmd::interp_run::interp_run(&kernel, &mut b, args.max_work).map_err(|e| Failure {
        exit: 1,
        message: e.to_string(),
    })?;
    println!("interp: {:.3} s", t.elapsed().as_secs_f64());
    for (i, p) in kernel.params.iter().enumerate() {
        let Some(ArgValue::Tensor(t)) = b.args.get(i) else {
            continue;
        };
        if !matches!(p.kind, tessera_ir::ParamKind::Tensor { is_out: true, .. }) {
            continue;
        }
        let v = decode_buf(&t.data).map_err(|e| Failure::usage(e.to_string()))?;
        let finite = v.iter().filter(|x| x.is_finite()).count();
        let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:.4}")).collect();
        println!(
            "{}: {} {:?}, {finite}/{} finite, first [{}]",
            p.name,
            t.data.dtype,
            t.data.shape,
            v.len(),
            head.join(", ")
        );
    }
    tessera_runner::run::write_outputs(&kernel, &b, &outs).map_err(gpu::runner_failure)?;
    for (_, path) in &outs.files {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `--backend cuda|hip`: build in-process, launch once on the `--arg` inputs (`.npy` tensors and
/// their `.scale`s, scalars; inputs not given are generated from the seed), write requested outputs
/// (`--out c=c.npy`, `--out c.scale=cs.npy` for a scaled output's block scales).
fn run_gpu(args: Args) -> Result<(), Failure> {
    let pairs = parse_pairs(&args.args, "arg")?;
    let outs = tessera_runner::OutSpec::parse(&args.outs).map_err(gpu::runner_failure)?;
    if outs.dir.is_some() {
        return Err(Failure::usage("error: --out takes NAME=FILE.npy"));
    }
    let dims = parse_dims(&args.dims)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    println!("seed: {seed}");
    let loaded = gpu::load(
        &args.file,
        args.kernel.as_deref(),
        args.backend,
        &dims,
        &pairs,
        seed,
    )?;
    let row = tessera_runner::run_loaded_to(loaded, &outs, seed).map_err(gpu::runner_failure)?;
    println!("{}", row.line());
    for (_, path) in &outs.files {
        println!("wrote {}", path.display());
    }
    Ok(())
}
