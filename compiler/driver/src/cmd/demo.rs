//! `tessera demo`: the README's quick-start job, end to end on a real example
//! (`dsl_examples/gemm_mxfp8.tsr` by default):
//!
//! 1. the source kernel on the interpreter vs the plain f64 reference, at a partial-tile shape
//!    (M=100, N=704, K=320) and a square one;
//! 2. an in-process sm_90a build (the target's pass pipeline, MLIR, PTX, ptxas) with a one-line
//!    summary (MMA family, TMA, registers/spills, dequant), and the built IR — what was lowered —
//!    on the interpreter vs the reference;
//! 3. with a CUDA GPU present, the built kernel validated on it through the same path as
//!    `tessera validate --backend cuda` (GPU vs interpreter and vs reference); without one, a
//!    line saying so.
//!
//! A summary table ends the output. Exit 0 when every step that ran passed (no GPU is not a
//! failure), 1 when a check failed or the build did not succeed, else the failing step's status.

mod summary;

use crate::cmd::build::{Built, Knobs, Request, build};
use crate::cmd::run::gpu;
use crate::cmd::run::prep::{Backend, Failure, load_kernel};
use crate::cmd::validate::{Report, validate};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tessera_ir::Kernel;
use tessera_passes::PipelineOptions;

/// The target the demo builds for (the GPU the project tunes for).
const TARGET: &str = "sm_90a";

#[derive(clap::Args)]
pub struct Args {
    /// The example to run (default: dsl_examples/gemm_mxfp8.tsr, found from the current directory
    /// or the source tree).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// One row of the closing summary table.
struct Step {
    what: String,
    /// "PASS", "FAIL", "ok", "skipped", "error".
    result: &'static str,
    seconds: Option<f64>,
    note: String,
    /// Exit status this step asks for (0 = fine).
    exit: u8,
}

fn find_example() -> Option<PathBuf> {
    let rel = Path::new("dsl_examples").join("gemm_mxfp8.tsr");
    let from_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(&rel);
    [rel, from_src].into_iter().find(|p| p.is_file())
}

pub fn main(args: Args) -> ExitCode {
    let Some(file) = args.file.or_else(find_example) else {
        eprintln!(
            "error: dsl_examples/gemm_mxfp8.tsr not found; run from the repository root or pass --file"
        );
        return ExitCode::from(2);
    };
    let kernel = match load_kernel(&file, None) {
        Ok(k) => k,
        Err(f) => {
            eprintln!("{}", f.message);
            return ExitCode::from(f.exit);
        }
    };
    println!(
        "tessera demo: {} (kernel `{}`), seed {}",
        file.display(),
        kernel.name,
        args.seed
    );
    let mut steps = Vec::new();

    println!("\n[1/3] source kernel on the interpreter vs the plain f64 reference");
    print_header();
    let shapes: [&[(&str, i64)]; 2] = [
        &[("M", 100), ("N", 704), ("K", 320)],
        &[("M", 512), ("N", 512), ("K", 512)],
    ];
    for s in shapes {
        let (label, dims) = dims_for(&kernel, s);
        steps.push(interp_step(
            &format!("interp {label}"),
            &label,
            &kernel,
            &dims,
            args.seed,
        ));
    }

    println!("\n[2/3] build for {TARGET} (in-process: pass pipeline, MLIR, PTX, ptxas)");
    let t = Instant::now();
    let built = build(&Request {
        file: &file,
        kernel: Some(&kernel.name),
        target: TARGET,
        pipeline: PipelineOptions::default(),
        knobs: Knobs::default(),
    });
    let build_s = t.elapsed().as_secs_f64();
    let built = match built {
        Ok(b) => {
            let line = summary::build_line(b.bundle.report_json.as_deref(), &b.report_text);
            println!("  built `{}` in {build_s:.2} s: {line}", b.kernel);
            steps.push(Step {
                what: format!("build {TARGET}"),
                result: "ok",
                seconds: Some(build_s),
                note: summary::build_note(b.bundle.report_json.as_deref()),
                exit: 0,
            });
            // The IR after the target's passes (scale layouts assigned, dequant fused) is what was
            // lowered: it must still compute what the source does.
            let (label, dims) = dims_for(&b.ir, shapes[0]);
            print_header();
            steps.push(interp_step(
                &format!("interp {TARGET} IR {label}"),
                &format!("{TARGET} IR {label}"),
                &b.ir,
                &dims,
                args.seed,
            ));
            Some(b)
        }
        Err(f) => {
            let msg = first_line(&f.message);
            println!("  build failed: {msg}");
            steps.push(Step {
                what: format!("build {TARGET}"),
                result: "error",
                seconds: Some(build_s),
                note: msg,
                exit: 1,
            });
            None
        }
    };

    println!("\n[3/3] on a CUDA GPU (`tessera validate --backend cuda`)");
    steps.push(match built {
        None => Step {
            what: "GPU validate".into(),
            result: "skipped",
            seconds: None,
            note: "no build".into(),
            exit: 0,
        },
        Some(_) if !tessera_cuda::device_available() => {
            println!("  no CUDA GPU here: skipped (on a GPU machine this step validates the {TARGET} build)");
            Step {
                what: "GPU validate".into(),
                result: "skipped",
                seconds: None,
                note: "no CUDA GPU".into(),
                exit: 0,
            }
        }
        Some(b) => gpu_step(b, shapes[0], args.seed),
    });

    print_summary(&steps);
    let exit = steps.iter().map(|s| s.exit).max().unwrap_or(0);
    ExitCode::from(exit)
}

/// The kernel's dims from `shape` (only those it has) and their label.
fn dims_for(k: &Kernel, shape: &[(&str, i64)]) -> (String, Vec<(String, i64)>) {
    let dims: Vec<(String, i64)> = shape
        .iter()
        .filter(|(n, _)| k.syms.iter().any(|s| s == n))
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    let label = dims
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    (label, dims)
}

fn print_header() {
    println!(
        "  {:<30} {:>9} {:>11} {:>11} {:>13} {:>7}",
        "shape", "interp s", "max_rel", "rel_l2", "cosine", "result"
    );
}

/// Validate `k` on the interpreter against the reference and print one row per output.
fn interp_step(what: &str, label: &str, k: &Kernel, dims: &[(String, i64)], seed: u64) -> Step {
    match validate(k, Backend::Interp, dims, &[], seed) {
        Ok(r) => {
            print_rows(label, &r);
            let pass = r.pass();
            Step {
                what: what.into(),
                result: if pass { "PASS" } else { "FAIL" },
                seconds: Some(r.seconds),
                note: worst(&r),
                exit: u8::from(!pass),
            }
        }
        Err(f) => {
            let msg = first_line(&f.message);
            println!("  {label:<30} error: {msg}");
            Step {
                what: what.into(),
                result: "error",
                seconds: None,
                note: msg,
                exit: f.exit.max(1),
            }
        }
    }
}

fn print_rows(label: &str, r: &Report) {
    for o in &r.outputs {
        let m = &o.metrics;
        println!(
            "  {label:<30} {:>9.3} {:>11.3e} {:>11.3e} {:>13.9} {:>7}",
            r.seconds,
            m.max_rel,
            m.rel_l2,
            m.cosine,
            if o.verdict.pass { "PASS" } else { "FAIL" }
        );
    }
}

/// The largest relative L2 error over the outputs, for the summary.
fn worst(r: &Report) -> String {
    let w = r.outputs.iter().map(|o| o.metrics.rel_l2).fold(0.0f64, f64::max);
    format!("vs reference: rel_l2 {w:.2e}")
}

/// The built kernel on the GPU, through the runner library as `tessera validate --backend cuda`.
fn gpu_step(b: Built, shape: &[(&str, i64)], seed: u64) -> Step {
    let (label, dims) = dims_for(&b.ir, shape);
    let t = Instant::now();
    let r = gpu::prepare(b, Backend::Cuda, &dims, &[], seed).and_then(|l| {
        tessera_runner::validate_loaded(&l, &tessera_runner::ValidateOptions::default(), seed)
            .map_err(gpu::runner_failure)
    });
    let seconds = t.elapsed().as_secs_f64();
    match r {
        Ok(row) => {
            println!("  {}", row.line());
            for d in row.detail_lines() {
                println!("    {d}");
            }
            println!("  device: {}", row.device);
            Step {
                what: format!("GPU validate {label}"),
                result: if row.pass { "PASS" } else { "FAIL" },
                seconds: Some(seconds),
                note: row.device.split(',').next().unwrap_or_default().to_string(),
                exit: u8::from(!row.pass),
            }
        }
        Err(Failure { exit, message }) => {
            let msg = first_line(&message);
            println!("  {msg}");
            Step {
                what: format!("GPU validate {label}"),
                result: "error",
                seconds: Some(seconds),
                note: msg,
                exit: exit.max(1),
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no message)")
        .trim()
        .to_string()
}

fn print_summary(steps: &[Step]) {
    println!("\nsummary");
    println!("  {:<34} {:<8} {:>9}  note", "step", "result", "seconds");
    for s in steps {
        let secs = s.seconds.map_or("-".to_string(), |t| format!("{t:.2}"));
        println!("  {:<34} {:<8} {:>9}  {}", s.what, s.result, secs, s.note);
    }
}
