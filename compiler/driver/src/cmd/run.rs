//! `tessera run FILE.tsr [--kernel NAME] --backend interp --arg a=a.npy [--arg a.scale=as.npy]
//! [--arg alpha=0.5] [--dim M=100 ...] [--random --seed N] --out c=c.npy`: run a kernel and write
//! its outputs as `.npy`. Symbolic dims bind from the input shapes (or `--dim`/defaults with
//! `--random`); the seed of random inputs is printed. `--backend cuda|hip` builds the kernel
//! in-process (sm_90a / gfx950) and launches it once through the runner library (inputs from
//! `--seed`; exit 3 when there is no GPU).

pub mod gpu;
pub mod prep;

use prep::{Backend, Failure, dims_label, fresh_seed, load_kernel, make_bindings, parse_dims, parse_pairs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tessera_interp::ProgramSet;
use tessera_numerics::{ArgValue, decode_buf, write_npy};

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
    let outs = parse_pairs(&args.outs, "out")?;
    for (n, _) in &outs {
        let ok = kernel
            .params
            .iter()
            .any(|p| &p.name == n && matches!(p.kind, tessera_ir::ParamKind::Tensor { is_out: true, .. }));
        if !ok {
            return Err(Failure::usage(format!(
                "error: --out {n}: `{n}` is not an `out` tensor of kernel `{}`",
                kernel.name
            )));
        }
    }
    let dims = parse_dims(&args.dims)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let mut b = make_bindings(&kernel, &pairs, &dims, args.random, seed)?;
    if args.random {
        println!("seed: {seed}");
    }
    println!("kernel `{}` at {}", kernel.name, dims_label(&b.syms));
    let t = Instant::now();
    tessera_interp::run(&kernel, &mut b, ProgramSet::All).map_err(|e| Failure {
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
        if let Some((_, path)) = outs.iter().find(|(n, _)| n == &p.name) {
            write_npy(Path::new(path), &t.data).map_err(|e| Failure::usage(e.to_string()))?;
            println!("wrote {path}");
        }
    }
    Ok(())
}

/// `--backend cuda|hip`: build in-process, launch once on fresh seeded inputs (the runner makes
/// them; `.npy` inputs are an interpreter feature), write requested outputs.
fn run_gpu(args: Args) -> Result<(), Failure> {
    let pairs = parse_pairs(&args.args, "arg")?;
    if let Some((n, _)) = pairs
        .iter()
        .find(|(n, v)| v.ends_with(".npy") || n.ends_with(".scale"))
    {
        return Err(Failure::usage(format!(
            "error: --arg {n}: with a GPU backend the inputs are generated from --seed; give scalars only"
        )));
    }
    let outs = parse_pairs(&args.outs, "out")?;
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
    for (n, _) in &outs {
        if !tessera_runner::problem::outputs(&loaded.kernel)
            .iter()
            .any(|&i| loaded.kernel.params.get(i).is_some_and(|p| &p.name == n))
        {
            return Err(Failure::usage(format!(
                "error: --out {n}: `{n}` is not an `out` tensor of kernel `{}`",
                loaded.kernel.name
            )));
        }
    }
    // The runner writes `<dir>/<param>.npy`; outputs are staged there and moved where asked.
    let stage = std::env::temp_dir().join(format!("tessera-run-{}-{seed}", std::process::id()));
    let row = tessera_runner::run_loaded(loaded, (!outs.is_empty()).then_some(stage.as_path()), seed)
        .map_err(gpu::runner_failure)?;
    println!("{}", row.line());
    for (n, path) in &outs {
        let from = stage.join(format!("{n}.npy"));
        std::fs::copy(&from, path).map_err(|e| Failure::usage(format!("error: writing {path}: {e}")))?;
        println!("wrote {path}");
    }
    let _ = std::fs::remove_dir_all(&stage);
    Ok(())
}
