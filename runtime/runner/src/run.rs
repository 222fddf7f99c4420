//! `run`: one launch on fresh seeded inputs; prints what the outputs hold (written / still poisoned /
//! NaN counts, a checksum) and optionally writes them as `.npy`.

use crate::backend::Gpu;
use crate::error::RunnerError;
use crate::problem;
use crate::session::{Common, Loaded};
use std::path::Path;
use tessera_numerics::{decode_buf, poisoned_mask, write_npy};

/// What one output of a run holds.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSummary {
    pub param: String,
    pub n: usize,
    pub poisoned: usize,
    pub non_finite: usize,
    /// Sum of the finite values, in f64: a quick fingerprint to compare two runs by eye.
    pub sum: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub kernel: String,
    pub shape: String,
    pub device: String,
    pub seed: u64,
    pub outputs: Vec<OutputSummary>,
}

impl RunRow {
    pub fn line(&self) -> String {
        let outs: Vec<String> = self
            .outputs
            .iter()
            .map(|o| {
                format!(
                    "{}: {} elements, {} unwritten, {} NaN/Inf, sum {:.6e}",
                    o.param, o.n, o.poisoned, o.non_finite, o.sum
                )
            })
            .collect();
        format!(
            "run | {} | {} | seed {} | {}",
            self.kernel,
            self.shape,
            self.seed,
            outs.join("; ")
        )
    }
}

/// Launch once; write each output as `<out_dir>/<param>.npy` when `out_dir` is given.
pub fn run_bundle(c: &Common, out_dir: Option<&Path>) -> Result<RunRow, RunnerError> {
    run_loaded(Loaded::new(c)?, out_dir, c.seed)
}

/// Launch an already prepared bundle once (see [`Loaded::from_bundle`]).
pub fn run_loaded(mut l: Loaded, out_dir: Option<&Path>, seed: u64) -> Result<RunRow, RunnerError> {
    let gpu = Gpu::open(l.backend, &l.bundle)?;
    let outs = problem::outputs(&l.kernel);
    let names: Vec<String> = l.kernel.params.iter().map(|p| p.name.clone()).collect();
    let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    gpu.run(&l.bundle, &name_refs, &outs, &mut l.bindings)?;
    let mut outputs = Vec::new();
    for &i in &outs {
        let Some(buf) = problem::output_buf(&l.bindings, i) else {
            continue;
        };
        let vals = decode_buf(buf)?;
        let poisoned = poisoned_mask(buf)?.iter().filter(|p| **p).count();
        outputs.push(OutputSummary {
            param: names[i].clone(),
            n: vals.len(),
            poisoned,
            non_finite: vals.iter().filter(|v| !v.is_finite()).count(),
            sum: vals.iter().filter(|v| v.is_finite()).map(|v| f64::from(*v)).sum(),
        });
        if let Some(d) = out_dir {
            std::fs::create_dir_all(d).map_err(|e| RunnerError::usage(format!("{}: {e}", d.display())))?;
            write_npy(&d.join(format!("{}.npy", names[i])), buf)?;
        }
    }
    Ok(RunRow {
        kernel: l.kernel.name.clone(),
        shape: l.shape_label(),
        device: gpu.describe().0,
        seed,
        outputs,
    })
}
