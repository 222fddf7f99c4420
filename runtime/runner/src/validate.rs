//! `validate`: the GPU result against the interpreter and the plain reference on the same fresh
//! seeded inputs. Outputs are poisoned before every launch; every element of the GPU output is
//! checked for poison and NaN/Inf; values are compared with the interpreter over all programs, or
//! — when the problem is too big to interpret here — over a seeded spot check of programs (tiles),
//! always including the edge tiles where partial-tile bugs live.

use crate::backend::Gpu;
use crate::error::RunnerError;
use crate::oracle;
use crate::problem;
use crate::session::{Common, Loaded};
use tessera_interp::ProgramSet;
use tessera_ir::{DType, Kernel, ParamKind};
use tessera_numerics::compare::HOPPER_FP8_ACCUM_EPS;
use tessera_numerics::poison::poison_detectable;
use tessera_numerics::{
    Bindings, Metrics, TensorBuf, Tolerance, compare, decode_buf, decode_buf_f64, non_finite_agrees,
    poisoned_mask,
};

#[derive(Clone, Debug, PartialEq)]
pub struct ValidateOptions {
    /// Programs to interpret when the whole grid is too big; 0 = always interpret every program.
    pub spot_tiles: usize,
    /// Interpret everything when the kernel's FLOPs are at most this (the interpreter does about
    /// 1 GFLOP/s per core).
    pub full_interp_flops: f64,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            spot_tiles: 16,
            full_interp_flops: 8e9,
        }
    }
}

/// One comparison of one output.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// "interp" or "reference".
    pub against: String,
    pub output: String,
    /// Elements compared (all, or those of the spot-checked tiles).
    pub compared: usize,
    pub metrics: Metrics,
    pub tolerance: Tolerance,
    pub pass: bool,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ValidateRow {
    pub kernel: String,
    pub shape: String,
    pub device: String,
    pub seed: u64,
    /// "all N programs" or "K of N programs (spot check)".
    pub coverage: String,
    /// Every element of every GPU output: still poisoned.
    pub unwritten: usize,
    /// Every element of every GPU output that is non-finite and does not validate
    /// ([`tessera_numerics::non_finite_agrees`]): every NaN, and every infinity the interpreter
    /// does not produce at that element (an infinity outside the interpreted tiles of a spot
    /// check cannot be checked, so it counts too).
    pub non_finite: usize,
    pub elements: usize,
    pub checks: Vec<Check>,
    /// Oracles that could not be used, with the reason (e.g. no reference for this kernel).
    pub skipped: Vec<String>,
    /// What the plain reference assumed (family, roles, causal or not and why), or why there is
    /// none; and for a failed reference check, what the kernel may do differently.
    pub notes: Vec<String>,
    pub pass: bool,
}

impl ValidateRow {
    /// One line, easy to quote.
    pub fn line(&self) -> String {
        let worst = |a: &str| {
            self.checks
                .iter()
                .filter(|c| c.against == a)
                .fold(None::<&Check>, |w, c| match w {
                    Some(w) if w.metrics.rel_l2 >= c.metrics.rel_l2 => Some(w),
                    _ => Some(c),
                })
        };
        let fmt = |c: Option<&Check>| match c {
            Some(c) => format!(
                "max_abs {:.2e} rel_l2 {:.2e} cos {:.6} over {}",
                c.metrics.max_abs, c.metrics.rel_l2, c.metrics.cosine, c.compared
            ),
            None => "n/a".into(),
        };
        let proj = match worst("projection") {
            Some(c) => format!(" | all-element projection: rel_l2 {:.2e}", c.metrics.rel_l2),
            None => String::new(),
        };
        format!(
            "validate | {} | {} | {} | vs interp: {} | vs reference: {}{proj} | NaN/Inf {} poisoned {} of {} | {} | seed {}",
            self.kernel,
            self.shape,
            if self.pass { "PASS" } else { "FAIL" },
            fmt(worst("interp")),
            fmt(worst("reference")),
            self.non_finite,
            self.unwritten,
            self.elements,
            self.coverage,
            self.seed
        )
    }

    /// Per-check lines with the verdict reasons (printed to stderr by the runner).
    pub fn detail_lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .checks
            .iter()
            .map(|c| {
                format!(
                    "{} vs {}: {} — {}",
                    c.output,
                    c.against,
                    if c.pass { "ok" } else { "FAIL" },
                    c.reason
                )
            })
            .collect();
        v.extend(self.skipped.iter().map(|s| format!("skipped: {s}")));
        v.extend(self.notes.iter().cloned());
        v
    }

    pub fn json(&self) -> serde_json::Value {
        let checks: Vec<serde_json::Value> = self
            .checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "against": c.against, "output": c.output, "compared": c.compared, "pass": c.pass,
                    "max_abs": c.metrics.max_abs, "max_rel": c.metrics.max_rel, "rel_l2": c.metrics.rel_l2,
                    "cosine": c.metrics.cosine, "nan_inf": c.metrics.nan_inf_count,
                    "poisoned": c.metrics.poisoned_count, "rtol": c.tolerance.rtol, "atol": c.tolerance.atol,
                    "reason": c.reason,
                })
            })
            .collect();
        serde_json::json!({
            "kind": "validate", "kernel": self.kernel, "shape": self.shape, "device": self.device,
            "seed": self.seed, "pass": self.pass, "coverage": self.coverage, "unwritten": self.unwritten,
            "non_finite": self.non_finite, "elements": self.elements, "checks": checks, "skipped": self.skipped,
        })
    }
}

/// The program ids to interpret: all when cheap, else `n` seeded random ones plus the first and
/// the edge (last along each axis) programs, deduplicated.
pub fn choose_programs(grid: [u32; 3], flops: Option<f64>, opts: &ValidateOptions, seed: u64) -> ProgramSet {
    let total = u64::from(grid[0]) * u64::from(grid[1]) * u64::from(grid[2]);
    let cheap = match flops {
        Some(f) => f <= opts.full_interp_flops,
        None => total <= 256,
    };
    if opts.spot_tiles == 0 || cheap || total <= opts.spot_tiles as u64 {
        return ProgramSet::All;
    }
    let last = [grid[0] - 1, grid[1] - 1, grid[2] - 1];
    let mut ids = vec![[0, 0, 0], last, [last[0], 0, 0], [0, last[1], 0], [0, 0, last[2]]];
    // splitmix64: a tiny, well-mixed generator, so the spot set is reproducible from the seed alone.
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut guard = 0;
    while ids.len() < opts.spot_tiles.max(5) && guard < 100 * opts.spot_tiles {
        guard += 1;
        let id = [
            (next() % u64::from(grid[0])) as u32,
            (next() % u64::from(grid[1])) as u32,
            (next() % u64::from(grid[2])) as u32,
        ];
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    ProgramSet::Ids(ids)
}

/// The tolerance for output `out`: the oracle's (output dtype, accumulation length, intermediate
/// roundings; attention's absolute bound relative to `max|v|`). Hopper's FP8 wgmma accumulates with
/// about 14 significant bits between promotions, so FP8 inputs on sm_90 widen it to that
/// accumulator's bound: for a GEMM along its reduction dim K; for attention along the Q·Kᵀ dot of
/// head-dim length (see [`hopper_attention_atol`]).
pub fn tolerance_for(k: &Kernel, b: &Bindings, out: usize, target: &str) -> Tolerance {
    let base = tessera_oracle::tolerance(k, b, out);
    let fp8_in = k.params.iter().any(|p| {
        matches!(&p.kind, ParamKind::Tensor { ty, is_out: false } if matches!(ty.dtype, DType::F8E4M3 | DType::F8E5M2))
    });
    let out_dtype = problem::output_buf(b, out).map_or(DType::F32, |t| t.dtype);
    if !(target.starts_with("sm_90") && fp8_in) {
        return base;
    }
    if tessera_oracle::family(k).ok() == Some("attention") {
        let Ok(s) = tessera_oracle::attention_stats(k, b) else {
            return base;
        };
        return Tolerance {
            atol: base.atol + hopper_attention_atol(&s),
            ..base
        };
    }
    let kdim = b.sym("K").map_or(1, |v| v.max(1) as usize);
    let hopper = Tolerance::with_accum(out_dtype, kdim, HOPPER_FP8_ACCUM_EPS);
    let rtol = base.rtol.max(hopper.rtol);
    Tolerance {
        rtol,
        max_rel_l2: base.max_rel_l2.max(hopper.max_rel_l2),
        min_cosine: base.min_cosine.min(hopper.min_cosine),
        atol: base.atol,
    }
}

/// The output error Hopper's FP8 accumulator adds to attention, through its logits. Each logit
/// `s = sm_scale q·k` is a dot of `d` (head-dim) products summed with unit roundoff
/// [`HOPPER_FP8_ACCUM_EPS`]; the numerics crate's accumulation bound puts its error at
/// `ds <= 8 sqrt(d) eps` times the logits' RMS `sm_scale sqrt(d) rms(q) rms(k)`. A logit error
/// scales its weight by `exp(ds)`, and `o = sum_j P_j v_j` moves by
/// `sum_j P_j ds_j (v_j - o)`, at most `2 max|ds| max|v|`. The P·V dot runs on the same
/// accumulator, but only within one key block (the kernel carries `acc` in f32 across blocks,
/// rescaled by `alpha`); a block's sum is at most `max|v|` times its share of `l`, so that adds
/// `8 sqrt(BN) eps max|v|`, with BN at most [`MAX_KEY_BLOCK`].
pub fn hopper_attention_atol(s: &tessera_oracle::AttentionStats) -> f64 {
    let d = s.head_dim.max(1) as f64;
    let ds = 8.0 * d.sqrt() * HOPPER_FP8_ACCUM_EPS * s.logit_rms();
    let block = s.seq_k.clamp(1, MAX_KEY_BLOCK) as f64;
    let pv = 8.0 * block.sqrt() * HOPPER_FP8_ACCUM_EPS;
    (2.0 * ds + pv) * s.max_v
}

/// The widest key block (BN) an attention kernel's P·V wgmma sums in one accumulator: the Hopper
/// attention lowering tiles BN in [64, 128].
const MAX_KEY_BLOCK: usize = 128;

/// Compare `gpu` with `expected` on the elements where `select` is true; every element of `gpu` is
/// still checked for poison (via the mask) within the selection.
fn check_on(
    against: &str,
    output: &str,
    gpu: &[f32],
    gpu_poison: &[bool],
    expected: &[f64],
    select: &[bool],
    tol: &Tolerance,
) -> Result<Check, RunnerError> {
    let idx: Vec<usize> = (0..gpu.len()).filter(|i| select[*i]).collect();
    let a: Vec<f32> = idx.iter().map(|i| gpu[*i]).collect();
    let e: Vec<f64> = idx.iter().map(|i| expected[*i]).collect();
    let p: Vec<bool> = idx.iter().map(|i| gpu_poison[*i]).collect();
    let metrics = compare(&a, &e, Some(&p))?;
    let v = tol.judge(&metrics);
    Ok(Check {
        against: against.into(),
        output: output.into(),
        compared: idx.len(),
        metrics,
        tolerance: tol.clone(),
        pass: v.pass,
        reason: v.reason,
    })
}

/// A device buffer's values and poison flags, and the interpreter's exact values.
type Decoded = (Vec<f32>, Vec<bool>, Vec<f64>);

/// A device buffer decoded (values and poison flags) beside the interpreter's (exact values); the
/// two must have the same number of elements (`what` names the buffer in the error).
fn device_and_interp(g: &TensorBuf, i: &TensorBuf, what: &str) -> Result<Decoded, RunnerError> {
    let (gv, gp, iv) = (decode_buf(g)?, poisoned_mask(g)?, decode_buf_f64(i)?);
    if gv.len() != iv.len() {
        return Err(RunnerError::usage(format!(
            "error[E0502]: {what}: the device returned {} elements, the interpreter {}",
            gv.len(),
            iv.len()
        )));
    }
    Ok((gv, gp, iv))
}

/// Whether the interpreter wrote at least one element of every non-empty output (left poison
/// elsewhere).
fn every_output_written(outs: &[usize], interp: &Bindings) -> Result<bool, RunnerError> {
    for &o in outs {
        if let Some(ib) = problem::output_buf(interp, o) {
            let poisoned = poisoned_mask(ib)?;
            if !poisoned.is_empty() && poisoned.iter().all(|p| *p) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Validate the bundle of `c` on its GPU backend.
pub fn validate_bundle(c: &Common, opts: &ValidateOptions) -> Result<ValidateRow, RunnerError> {
    validate_loaded(&Loaded::new(c)?, opts, c.seed)
}

/// Validate an already prepared bundle (see [`Loaded::from_bundle`]) on its GPU backend.
pub fn validate_loaded(l: &Loaded, opts: &ValidateOptions, seed: u64) -> Result<ValidateRow, RunnerError> {
    let gpu = Gpu::open(l.backend, &l.bundle)?;
    let names: Vec<&str> = l.param_names();
    let outs = problem::outputs(&l.kernel);
    let mut on_gpu = l.bindings.clone();
    gpu.run(&l.bundle, &names, &outs, &mut on_gpu)?;
    validate_outputs(l, gpu.describe().0, &on_gpu, opts, seed)
}

/// The comparisons of [`validate_bundle`] once the GPU outputs are in `on_gpu` (separate so that
/// any backend, or a test feeding known outputs, goes through the same checks).
pub fn validate_outputs(
    l: &Loaded,
    device: String,
    on_gpu: &Bindings,
    opts: &ValidateOptions,
    seed: u64,
) -> Result<ValidateRow, RunnerError> {
    let outs = problem::outputs(&l.kernel);
    let grid = tessera_interp::grid(&l.kernel, &l.bindings).map_err(|e| RunnerError::usage(e.to_string()))?;
    // A spot check finds the interpreter's tiles by the poison left elsewhere, so every output
    // dtype must have a detectable poison; otherwise interpret everything.
    // Outputs accumulated with atomics start zeroed, not poisoned: those kernels are interpreted whole.
    let detectable = outs.iter().all(|&o| {
        problem::output_buf(&l.bindings, o).is_some_and(|b| poison_detectable(b.dtype))
            && problem::output_scale_buf(&l.bindings, o).is_none_or(|b| poison_detectable(b.dtype))
            && !tessera_oracle::accumulates_into(&l.kernel, o)
    });
    let programs = if detectable {
        choose_programs(grid, problem::flops(&l.kernel, &l.syms), opts, seed)
    } else {
        ProgramSet::All
    };
    let total = u64::from(grid[0]) * u64::from(grid[1]) * u64::from(grid[2]);
    let mut coverage = match &programs {
        ProgramSet::All => format!("all {total} programs"),
        ProgramSet::Ids(v) => format!("{} of {total} programs (spot check)", v.len()),
    };
    let mut full = matches!(programs, ProgramSet::All);
    let interpret = |programs: ProgramSet| -> Result<Bindings, RunnerError> {
        let mut interp = problem::repoison(&l.kernel, &l.bindings)?;
        tessera_interp::run(&l.kernel, &mut interp, programs)
            .map_err(|e| RunnerError::usage(format!("interpreter: {e}")))?;
        Ok(interp)
    };
    let mut interp = interpret(programs)?;
    // A spot check whose programs wrote nothing of some output (their rows hold no data, e.g. empty
    // groups) would compare no element of it: a vacuous pass. Interpret every program instead.
    if !full && !every_output_written(&outs, &interp)? {
        interp = interpret(ProgramSet::All)?;
        full = true;
        coverage = format!("all {total} programs (the spot-checked ones wrote no element of an output)");
    }
    let mut row = ValidateRow {
        kernel: l.kernel.name.clone(),
        shape: l.shape_label(),
        device,
        seed,
        coverage,
        unwritten: 0,
        non_finite: 0,
        elements: 0,
        checks: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
        pass: true,
    };
    match tessera_oracle::comparison(&l.logical_kernel, &l.logical) {
        Ok(tessera_oracle::Comparison::Reference { summary }) => {
            row.notes.push(format!("reference: {summary}"))
        }
        Ok(tessera_oracle::Comparison::InterpreterOnly { reason }) => row.notes.push(format!(
            "reference: {} ({reason})",
            tessera_oracle::INTERPRETER_ONLY
        )),
        Err(e) => row.notes.push(format!("reference: {e}")),
    }
    // The elements the interpreter wrote, per output: all of them, or the spot-checked tiles'.
    let mut written: Vec<(usize, Vec<bool>)> = Vec::new();
    for &o in &outs {
        if let Some(ib) = problem::output_buf(&interp, o) {
            written.push((o, poisoned_mask(ib)?.iter().map(|p| !p).collect()));
        }
    }
    // The reference reads logical scales: the kernel's linear view on the logical inputs.
    let reference = oracle::expected(
        &l.logical_kernel,
        &l.logical,
        if full { None } else { Some(&written) },
    );
    let reference = match reference {
        Ok(r) => Some(r),
        Err(why) => {
            row.skipped.push(format!("reference: {why}"));
            None
        }
    };
    for &o in &outs {
        let name = l.kernel.params[o].name.clone();
        let (Some(g), Some(ib)) = (problem::output_buf(on_gpu, o), problem::output_buf(&interp, o)) else {
            continue;
        };
        let (gv, gp, iv) = device_and_interp(g, ib, &format!("output `{name}`"))?;
        let written = written.iter().find(|(p, _)| *p == o).map(|(_, w)| w);
        row.elements += gv.len();
        row.unwritten += gp.iter().filter(|p| **p).count();
        // The same rule as `compare`: NaN never validates, an infinity only against the same one.
        row.non_finite += (0..gv.len())
            .filter(|&i| {
                let v = f64::from(gv[i]);
                let checked = written.is_some_and(|w| w[i]) && non_finite_agrees(v, iv[i]);
                !gp[i] && !v.is_finite() && !checked
            })
            .count();
        let Some(written) = written else {
            continue;
        };
        let tol = tolerance_for(&l.logical_kernel, &l.logical, o, &l.bundle.meta.target);
        row.checks
            .push(check_on("interp", &name, &gv, &gp, &iv, written, &tol)?);
        // Every element, through random projections (cheap; the only all-element value check of
        // a spot-checked big GEMM).
        match crate::projection::check(&l.logical_kernel, &l.logical, g, &tol, seed) {
            Ok(p) => {
                let worst = if p.rows.rel_l2 >= p.cols.rel_l2 {
                    p.rows.clone()
                } else {
                    p.cols.clone()
                };
                row.checks.push(Check {
                    against: "projection".into(),
                    output: name.clone(),
                    compared: gv.len(),
                    metrics: worst,
                    tolerance: tol.clone(),
                    pass: p.pass,
                    reason: p.reason,
                });
            }
            Err(why) => row.skipped.push(format!("projection: {why}")),
        }
        if let Some(r) = &reference
            && let Some((_, ev)) = r.iter().find(|(p, _)| *p == o)
        {
            // The reference covers every element when it ran on the whole problem, else exactly
            // the interpreter's tiles. The selection is that mask, not "where the reference is not
            // NaN": a NaN the reference computed (a NaN input) must be judged, not skipped, or an
            // all-NaN problem would pass over 0 elements.
            let sel: Vec<bool> = if full {
                vec![true; ev.len()]
            } else {
                written.clone()
            };
            let c = check_on("reference", &name, &gv, &gp, ev, &sel, &tol)?;
            if !c.pass {
                // the GPU's output in the logical bindings, for the oracle to say what it matches
                let mut seen = l.logical.clone();
                if let (
                    Some(tessera_numerics::ArgValue::Tensor(t)),
                    Some(tessera_numerics::ArgValue::Tensor(d)),
                ) = (seen.args.get_mut(o), on_gpu.args.get(o))
                {
                    t.data = d.data.clone();
                    if let Some(h) = tessera_oracle::failure_hint(&l.logical_kernel, &seen, o) {
                        row.notes.push(format!("hint: {h}"));
                    }
                }
            }
            row.checks.push(c);
        }
        // A scaled output's block scales are written by the kernel too: every one the interpreter
        // wrote must be there (poison counts as unwritten) and equal the interpreter's exactly
        // (both follow the same bit-exact recipe; a code check alone would pass wrong scales).
        if let (Some(gs), Some(is)) = (
            problem::output_scale_buf(on_gpu, o),
            problem::output_scale_buf(&interp, o),
        ) {
            let (gv, gp, iv) = device_and_interp(gs, is, &format!("scales of output `{name}`"))?;
            let wrote: Vec<bool> = poisoned_mask(is)?.iter().map(|p| !p).collect();
            row.elements += gv.len();
            row.unwritten += (0..gv.len()).filter(|&i| gp[i] && (full || wrote[i])).count();
            let exact = Tolerance {
                rtol: 0.0,
                max_rel_l2: 0.0,
                min_cosine: 0.0,
                atol: 0.0,
            };
            row.checks.push(check_on(
                "interp",
                &format!("{name}.scale"),
                &gv,
                &gp,
                &iv,
                &wrote,
                &exact,
            )?);
        }
    }
    row.pass = row.unwritten == 0 && row.non_finite == 0 && row.checks.iter().all(|c| c.pass);
    Ok(row)
}
