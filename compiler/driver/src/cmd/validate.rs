//! `tessera validate FILE.tsr [--kernel NAME] --backend interp [--dim M=..] [--seed N]
//! [--arg name=VALUE]`: fresh random inputs (seed printed), outputs poisoned, the backend's result
//! against the plain f64 reference (`tessera-oracle`), metrics printed; exit 1 on failure.
//! `--backend cuda|hip` builds the kernel in-process (sm_90a / gfx950) and validates it on the GPU
//! through the runner library (GPU vs interpreter and vs reference); exit 3 when there is no GPU.

use crate::cmd::run::gpu;
use crate::cmd::run::prep::{
    Backend, Failure, dims_label, fresh_seed, load_kernel, make_bindings, parse_dims, parse_pairs,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tessera_ir::Kernel;
use tessera_numerics::{ArgValue, Bindings, Metrics, Verdict, compare_buf};

#[derive(clap::Args)]
pub struct Args {
    /// The .tsr source file.
    file: PathBuf,
    /// Kernel to validate (default: the file's first kernel).
    #[arg(long)]
    kernel: Option<String>,
    /// The backend judged against the plain reference.
    #[arg(long, value_enum, default_value_t = Backend::Interp)]
    backend: Backend,
    /// Symbolic dims `NAME=N` (defaults: M=100, N=704, K=320, ...; partial tiles on purpose).
    #[arg(long = "dim")]
    dims: Vec<String>,
    /// Scalar values `name=VALUE` (others: conventions or seeded).
    #[arg(long = "arg")]
    args: Vec<String>,
    /// Seed of the random inputs (printed; default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

/// The outcome for one output.
#[derive(Debug)]
pub struct OutputCheck {
    pub name: String,
    pub metrics: Metrics,
    pub verdict: Verdict,
    /// For a failure: what the reference assumed that the kernel may not do (e.g. an attention
    /// compared non-causally whose output matches the causal reference).
    pub hint: Option<String>,
}

/// Everything one validation did.
#[derive(Debug)]
pub struct Report {
    pub kernel: String,
    pub dims: Vec<(String, i64)>,
    pub seed: u64,
    pub seconds: f64,
    /// What the outputs were compared with: the reference family and how each of its settings was
    /// decided (causal or not, and why), so a wrong assumption is never silent.
    pub reference: String,
    pub outputs: Vec<OutputCheck>,
}

impl Report {
    pub fn pass(&self) -> bool {
        !self.outputs.is_empty() && self.outputs.iter().all(|o| o.verdict.pass)
    }
}

pub fn main(args: Args) -> ExitCode {
    let r = (|| {
        let kernel = load_kernel(&args.file, args.kernel.as_deref())?;
        let dims = parse_dims(&args.dims)?;
        let scalars = parse_pairs(&args.args, "arg")?;
        if let Some((n, _)) = scalars
            .iter()
            .find(|(n, v)| v.ends_with(".npy") || n.ends_with(".scale"))
        {
            return Err(Failure::usage(format!(
                "error: --arg {n}: validate generates its own tensors; give scalars only"
            )));
        }
        let seed = args.seed.unwrap_or_else(fresh_seed);
        println!("seed: {seed}");
        if args.backend != Backend::Interp {
            return Err(validate_gpu(&args, &dims, &scalars, seed));
        }
        validate(&kernel, args.backend, &dims, &scalars, seed)
    })();
    match r {
        Ok(rep) => {
            print_report(&rep);
            if rep.pass() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            ExitCode::from(f.exit)
        }
    }
}

/// Validate `kernel` on `backend` at `dims` with inputs from `seed`.
pub fn validate(
    kernel: &Kernel,
    backend: Backend,
    dims: &[(String, i64)],
    scalars: &[(String, String)],
    seed: u64,
) -> Result<Report, Failure> {
    let mut b = make_bindings(kernel, scalars, dims, true, seed)?;
    let reference = match tessera_oracle::comparison(kernel, &b) {
        Ok(tessera_oracle::Comparison::Reference { summary }) => summary,
        Ok(tessera_oracle::Comparison::InterpreterOnly { reason }) => {
            // The interpreter is the backend judged here: with no plain reference there is
            // nothing independent to compare it with.
            return Err(Failure {
                exit: 1,
                message: format!(
                    "reference: {reason}\nvalidate --backend interp {}: nothing independent to compare the interpreter with \
                     (`tessera run` runs it; `validate --backend cuda` compares a GPU with it)",
                    tessera_oracle::INTERPRETER_ONLY
                ),
            });
        }
        Err(e) => format!("{e}"),
    };
    let expected = tessera_oracle::expected(kernel, &b);
    let t = Instant::now();
    let ran = match backend {
        Backend::Interp => run_interp(kernel, &mut b),
        Backend::Cuda | Backend::Hip => Err(Failure::usage(
            "error: validate(): GPU backends go through the runner (`tessera validate --backend cuda`)",
        )),
    };
    let seconds = t.elapsed().as_secs_f64();
    // Both sides refusing (e.g. K not a multiple of the scale block) is reported with both codes.
    let expected = match (expected, ran) {
        (Ok(e), Ok(())) => e,
        (Err(oe), Err(be)) => {
            return Err(Failure {
                exit: 1,
                message: format!("{}\nreference: {oe}", be.message),
            });
        }
        (Err(oe), Ok(())) => {
            return Err(Failure {
                exit: 1,
                message: format!("reference: {oe}"),
            });
        }
        (Ok(_), Err(be)) => return Err(be),
    };
    let mut outputs = Vec::new();
    for (i, want) in expected {
        let name = kernel.params[i].name.clone();
        let Some(ArgValue::Tensor(t)) = b.args.get(i) else {
            return Err(Failure::usage(format!("output `{name}` is not a tensor")));
        };
        let metrics = compare_buf(&t.data, &want).map_err(|e| Failure::usage(e.to_string()))?;
        let verdict = tessera_oracle::tolerance(kernel, &b, i).judge(&metrics);
        let hint = if verdict.pass {
            None
        } else {
            tessera_oracle::failure_hint(kernel, &b, i)
        };
        outputs.push(OutputCheck {
            name,
            metrics,
            verdict,
            hint,
        });
    }
    Ok(Report {
        kernel: kernel.name.clone(),
        dims: b.syms.clone(),
        seed,
        seconds,
        reference,
        outputs,
    })
}

/// `--backend cuda|hip`: build, validate on the GPU through the runner library, print its rows.
/// Always ends the command, so the outcome comes back as the `Failure` carrying the exit status
/// (0 when the validation passed; the rows are already printed then, so the message is empty).
fn validate_gpu(args: &Args, dims: &[(String, i64)], scalars: &[(String, String)], seed: u64) -> Failure {
    let r = gpu::load(
        &args.file,
        args.kernel.as_deref(),
        args.backend,
        dims,
        scalars,
        seed,
    )
    .and_then(|l| {
        tessera_runner::validate_loaded(&l, &tessera_runner::ValidateOptions::default(), seed)
            .map_err(gpu::runner_failure)
    });
    match r {
        Ok(row) => {
            println!("{}", row.line());
            for d in row.detail_lines() {
                println!("  {d}");
            }
            Failure {
                exit: u8::from(!row.pass),
                message: String::new(),
            }
        }
        Err(f) => f,
    }
}

fn run_interp(kernel: &Kernel, b: &mut Bindings) -> Result<(), Failure> {
    crate::cmd::interp_run::interp_run(kernel, b, None).map_err(|e| Failure {
        exit: 1,
        message: format!("interp: {e}"),
    })
}

pub fn print_report(r: &Report) {
    println!(
        "kernel `{}` at {} (seed {}, interp {:.2} s)",
        r.kernel,
        dims_label(&r.dims),
        r.seed,
        r.seconds
    );
    println!("reference: {}", r.reference);
    for o in &r.outputs {
        let m = &o.metrics;
        println!(
            "  {}: max_abs {:.3e}  max_rel {:.3e}  rel_l2 {:.3e}  cosine {:.9}  nan/inf {}  poisoned {}  -> {}",
            o.name,
            m.max_abs,
            m.max_rel,
            m.rel_l2,
            m.cosine,
            m.nan_inf_count,
            m.poisoned_count,
            if o.verdict.pass { "PASS" } else { "FAIL" }
        );
        println!("    {}", o.verdict.reason);
        if let Some(h) = &o.hint {
            println!("    hint: {h}");
        }
    }
}
