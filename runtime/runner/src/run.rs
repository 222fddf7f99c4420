//! `run`: one launch on fresh seeded inputs; prints what the outputs hold (written / still poisoned /
//! NaN counts, a checksum) and optionally writes them as `.npy`.

use crate::backend::Gpu;
use crate::error::RunnerError;
use crate::problem;
use crate::session::{Common, Loaded};
use std::path::{Path, PathBuf};
use tessera_ir::{Kernel, ParamKind};
use tessera_numerics::error::{E_ARG, E_SCALE};
use tessera_numerics::{ArgValue, Bindings, decode_buf, poisoned_mask, write_npy};

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

/// Where a run writes its outputs: every output as `<dir>/<param>.npy`, and/or named ones
/// (`--out c=c.npy`; `--out c.scale=cs.npy` writes a scaled output's block scales, row-major).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutSpec {
    pub dir: Option<PathBuf>,
    pub files: Vec<(String, PathBuf)>,
}

impl OutSpec {
    /// From `--out` values: `NAME=FILE.npy` / `NAME.scale=FILE.npy`, or one bare directory.
    pub fn parse(items: &[String]) -> Result<OutSpec, RunnerError> {
        let mut o = OutSpec::default();
        for it in items {
            match it.split_once('=') {
                Some((n, f)) if !n.is_empty() && !f.is_empty() => {
                    if o.files.iter().any(|(m, _)| m == n) {
                        return Err(RunnerError::usage(format!(
                            "error[{E_ARG}]: --out {n} is given twice"
                        )));
                    }
                    o.files.push((n.to_string(), PathBuf::from(f)));
                }
                Some(_) => {
                    return Err(RunnerError::usage(format!(
                        "--out {it:?}: expected NAME=FILE.npy"
                    )));
                }
                None if o.dir.is_none() => o.dir = Some(PathBuf::from(it)),
                None => return Err(RunnerError::usage("--out DIR is given twice")),
            }
        }
        Ok(o)
    }

    /// Every named file must be an `out` tensor of `k` (`E0511`), a `.scale` one a scaled output
    /// (`E0508`).
    pub fn check(&self, k: &Kernel) -> Result<(), RunnerError> {
        for (n, _) in &self.files {
            let (base, scale) = n
                .strip_suffix(".scale")
                .map_or((n.as_str(), false), |b| (b, true));
            let p = k.params.iter().find(|p| p.name == base);
            match p.map(|p| &p.kind) {
                Some(ParamKind::Tensor { is_out: true, ty }) => {
                    if scale && ty.scale.is_none() {
                        return Err(RunnerError::usage(format!(
                            "error[{E_SCALE}]: --out {n}: output `{base}` has no block scales"
                        )));
                    }
                }
                _ => {
                    return Err(RunnerError::usage(format!(
                        "error[{E_ARG}]: --out {n}: `{base}` is not an `out` tensor of kernel `{}`",
                        k.name
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.dir.is_none() && self.files.is_empty()
    }
}

/// Launch once; write each output as `<out_dir>/<param>.npy` when `out_dir` is given.
pub fn run_bundle(c: &Common, out_dir: Option<&Path>) -> Result<RunRow, RunnerError> {
    run_loaded(Loaded::new(c)?, out_dir, c.seed)
}

/// Launch once and write the outputs `outs` names.
pub fn run_bundle_to(c: &Common, outs: &OutSpec) -> Result<RunRow, RunnerError> {
    run_loaded_to(Loaded::new(c)?, outs, c.seed)
}

/// Launch an already prepared bundle once (see [`Loaded::from_bundle`]).
pub fn run_loaded(l: Loaded, out_dir: Option<&Path>, seed: u64) -> Result<RunRow, RunnerError> {
    let outs = OutSpec {
        dir: out_dir.map(Path::to_path_buf),
        files: Vec::new(),
    };
    run_loaded_to(l, &outs, seed)
}

/// Launch an already prepared bundle once and write the outputs `out` names.
pub fn run_loaded_to(mut l: Loaded, out: &OutSpec, seed: u64) -> Result<RunRow, RunnerError> {
    out.check(&l.kernel)?;
    let gpu = Gpu::open(l.backend, &l.bundle)?;
    let outs = problem::outputs(&l.kernel);
    let names: Vec<String> = l.kernel.params.iter().map(|p| p.name.clone()).collect();
    let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    gpu.run(&l.bundle, &name_refs, &outs, &mut l.bindings)?;
    write_outputs(&l.kernel, &l.bindings, out)?;
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
    }
    Ok(RunRow {
        kernel: l.kernel.name.clone(),
        shape: l.shape_label(),
        device: gpu.describe().0,
        seed,
        outputs,
    })
}

/// Write the outputs `out` names from device-form bindings `b` of `k` (scales unpacked to their
/// logical row-major form first).
pub fn write_outputs(k: &Kernel, b: &Bindings, out: &OutSpec) -> Result<(), RunnerError> {
    if out.is_empty() {
        return Ok(());
    }
    let mut logical = b.clone();
    tessera_prepack::unpack_bindings(k, &mut logical).map_err(|e| RunnerError::usage(e.to_string()))?;
    for i in problem::outputs(k) {
        let name = &k.params[i].name;
        let Some(ArgValue::Tensor(t)) = logical.args.get(i) else {
            continue;
        };
        if let Some(d) = &out.dir {
            std::fs::create_dir_all(d).map_err(|e| RunnerError::usage(format!("{}: {e}", d.display())))?;
            write_npy(&d.join(format!("{name}.npy")), &t.data)?;
            if let Some(sc) = &t.scale {
                write_npy(&d.join(format!("{name}.scale.npy")), sc)?;
            }
        }
        for (n, path) in &out.files {
            if n == name {
                write_npy(path, &t.data)?;
            } else if n.strip_suffix(".scale") == Some(name.as_str())
                && let Some(sc) = &t.scale
            {
                write_npy(path, sc)?;
            }
        }
    }
    Ok(())
}
