//! `tessera demo`: the README's quick-start job. Compiles `dsl_examples/gemm_mxfp8.tsr`, runs it on
//! the interpreter at a partial-tile shape (M=100, N=704, K=320) and a square one, validates both
//! against the plain f64 reference and prints a summary table. Notes whether a CUDA GPU is
//! present; never fails merely because there is none.

use crate::cmd::run::prep::{Backend, load_kernel};
use crate::cmd::validate::validate;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
        "tessera demo: {} (kernel `{}`), interpreter vs plain f64 reference, seed {}",
        file.display(),
        kernel.name,
        args.seed
    );
    let shapes: [&[(&str, i64)]; 2] = [
        &[("M", 100), ("N", 704), ("K", 320)],
        &[("M", 512), ("N", 512), ("K", 512)],
    ];
    println!(
        "{:<22} {:>9} {:>11} {:>11} {:>13} {:>7}",
        "shape", "interp s", "max_rel", "rel_l2", "cosine", "result"
    );
    let mut ok = true;
    for s in shapes {
        let dims: Vec<(String, i64)> = s
            .iter()
            .filter(|(n, _)| kernel.syms.iter().any(|k| k == n))
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        let label = s
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        match validate(&kernel, Backend::Interp, &dims, &[], args.seed) {
            Ok(r) => {
                for o in &r.outputs {
                    let m = &o.metrics;
                    println!(
                        "{label:<22} {:>9.3} {:>11.3e} {:>11.3e} {:>13.9} {:>7}",
                        r.seconds,
                        m.max_rel,
                        m.rel_l2,
                        m.cosine,
                        if o.verdict.pass { "PASS" } else { "FAIL" }
                    );
                }
                ok &= r.pass();
            }
            Err(f) => {
                println!("{label:<22} error: {}", f.message);
                ok = false;
            }
        }
    }
    if tessera_cuda::device_available() {
        println!("a CUDA GPU is present: `tessera build` + `tessera-runner validate` runs this kernel on it");
    } else {
        println!(
            "no CUDA GPU here: interpreter only (GPU runs: `tessera build`, then `tessera-runner` on a GPU machine)"
        );
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
