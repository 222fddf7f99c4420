//! Pass manager, target pass pipelines, diff-interp checking; fuse-dequant and assign-scale-layout.
//!
//! - [`Pass`]: one transformation of a [`tessera_ir::Kernel`]; [`registry`]: every pass registered
//!   once by name; [`TargetCaps`]: what each target can do, as data, including its pipeline.
//! - [`run_pipeline`] with [`PipelineOptions`]: `--print-pipeline`, `--print-after=NAME`,
//!   `--print-after-all`, `--verify-each` (a verifier failure is an internal compiler error that
//!   names the pass and writes a reproducer), `--diff-interp` (interpret before/after each pass on
//!   the same seeded inputs; the first pass that changes the results is named).
//! - [`passes`]: one module per pass.

pub mod diff;
pub mod pass;
pub mod passes;
pub mod pipeline;
pub mod registry;
pub mod target;
pub mod testing;
mod walk;

pub use diff::{DiffMismatch, DiffOptions};
pub use pass::{Changed, Pass, PassError};
pub use passes::fuse_dequant::{FuseStrategy, dequant_report};
pub use pipeline::{PipelineError, PipelineOptions, PipelineReport, opt, run_passes, run_pipeline};
pub use registry::{PassInfo, RegistryError, lookup, parse_pass_list, pipeline_for};
pub use target::{AccFragment, NativeScaled, TARGETS, TargetCaps};
pub use walk::walk_mut;
