//! `--backend cuda|hip` for `tessera run` and `tessera validate`: build the kernel in-process
//! (sm_90a for CUDA, gfx950 for HIP; the target's pass pipeline included), hand the bundle to the
//! runner library (`tessera_runner`) and map its errors onto exit codes (3 = no GPU / runtime here,
//! 4 = a device failure, 2 = usage). Nothing is written to disk except requested outputs.

use super::prep::{Backend, Failure, choose_dims};
use crate::cmd::build::{self, Built, Knobs, Request};
use std::path::{Path, PathBuf};
use tessera_passes::PipelineOptions;
use tessera_runner::{Common, Loaded, RunnerError};

/// The target a GPU backend builds for, and the runner's backend.
pub fn target_of(b: Backend) -> Option<(&'static str, tessera_runner::Backend)> {
    match b {
        Backend::Interp => None,
        Backend::Cuda => Some(("sm_90a", tessera_runner::Backend::Cuda)),
        Backend::Hip => Some(("gfx950", tessera_runner::Backend::Hip)),
    }
}

pub fn runner_failure(e: RunnerError) -> Failure {
    let m = e.to_string();
    Failure {
        exit: e.exit_code(),
        // Coded runner messages already start with `error[...]`.
        message: if m.starts_with("error") {
            m
        } else {
            format!("error: {m}")
        },
    }
}

/// Build `file`'s kernel for `backend`'s target and prepare it: inputs from `args` (`name=FILE.npy`,
/// `name.scale=FILE.npy`, scalars `name=VALUE`), the rest fresh from `seed`.
pub fn load(
    file: &Path,
    kernel: Option<&str>,
    backend: Backend,
    dims: &[(String, i64)],
    args: &[(String, String)],
    seed: u64,
) -> Result<Loaded, Failure> {
    let Some((target, _)) = target_of(backend) else {
        return Err(Failure::usage("error: the interpreter needs no build"));
    };
    let built = build::build(&Request {
        file,
        kernel,
        target,
        pipeline: PipelineOptions::default(),
        knobs: Knobs::default(),
    })
    .map_err(|f| Failure {
        exit: f.exit,
        message: f.message.trim_end().to_string(),
    })?;
    prepare(built, backend, dims, args, seed)
}

/// Prepare an already built bundle for `backend` with fresh seeded inputs (for callers that
/// build once and use the result twice, like `tessera demo`).
pub fn prepare(
    built: Built,
    backend: Backend,
    dims: &[(String, i64)],
    args: &[(String, String)],
    seed: u64,
) -> Result<Loaded, Failure> {
    let Some((_, rb)) = target_of(backend) else {
        return Err(Failure::usage("error: the interpreter needs no build"));
    };
    // The same defaults as the interpreter path (M=100, N=704, K=320, ...: partial tiles), used
    // only for dims that neither --dim nor an input file binds.
    let defaults = choose_dims(&built.ir, dims)?;
    let common = Common {
        // In-memory bundle: the directory is only used in messages.
        bundle_dir: PathBuf::from(format!("<in-memory {} build of {}>", built.target, built.kernel)),
        dims: dims.iter().map(|(n, v)| format!("{n}={v}")).collect(),
        default_dims: defaults.iter().map(|(n, v)| format!("{n}={v}")).collect(),
        // `--arg`: tensors from .npy files (and their `.scale`s) and scalars; the runner checks
        // them against the signature (F11) and binds dims from the files.
        args: args.iter().map(|(n, v)| format!("{n}={v}")).collect(),
        seed,
        backend: Some(rb),
        ..Common::default()
    };
    Loaded::from_bundle(built.bundle, &common).map_err(runner_failure)
}
