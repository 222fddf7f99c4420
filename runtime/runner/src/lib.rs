//! The LLVM-free runner: runs, validates and benchmarks artifact bundles on a GPU, with no compiler in
//! sight. The `tessera-runner` binary is a thin CLI over this library; the `tessera` CLI calls the
//! same functions for `--backend cuda|hip`.
//!
//! - [`run::run_bundle`]: one launch on fresh seeded inputs, outputs summarised (and saved as .npy).
//! - [`validate::validate_bundle`]: GPU vs the interpreter (all programs, or a seeded spot check of
//!   tiles for big shapes) and vs the plain reference; outputs poisoned first; metrics; a verdict.
//! - [`bench::bench_bundle`]: CUDA/HIP events, warm-up, median, rotating inputs, TFLOP/s and GB/s.
//! - [`plan::plan_bundle`]: the launch plan (grid, ABI slots, TMA encodings) without a GPU.

pub mod backend;
pub mod bench;
pub mod error;
pub mod oracle;
pub mod plan;
pub mod problem;
pub mod projection;
pub mod run;
pub mod session;
pub mod validate;

pub use backend::{Backend, Gpu};
pub use bench::{BenchRow, bench_bundle, bench_loaded};
pub use error::{ErrorKind, RunnerError};
pub use plan::plan_bundle;
pub use run::{OutSpec, RunRow, run_bundle, run_bundle_to, run_loaded, run_loaded_to};
pub use session::{Common, Loaded};
pub use tessera_bundle::stats::BenchOptions;
pub use validate::{ValidateOptions, ValidateRow, validate_bundle, validate_loaded};
