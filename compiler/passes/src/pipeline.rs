//! Running a pass pipeline over a module: the options the CLI's `build`/`opt` flags map to, the
//! printing hooks, verify-each with reproducers, and the diff-interp hook.
//!
//! A verifier failure after a pass is always a compiler bug, never the user's: it becomes
//! [`PipelineError::VerifyFailed`], which names the pass, writes the IR as it was *before* the
//! pass to a reproducer file and spells the command that replays exactly that pass on it.

use crate::diff::{Checker, DiffError, DiffOptions};
use crate::registry::{self, PassInfo, RegistryError};
use crate::{Changed, PassError, TargetCaps};
use std::io::Write;
use std::path::PathBuf;
use tessera_ir::{
    IrParseError, Kernel, Module, Span, VerifyError, parse_module, print_kernel, print_module, verify_kernel,
};

/// What to run and what to show. `Default` runs the target's pipeline silently with no checks.
#[derive(Clone, Debug, Default)]
pub struct PipelineOptions {
    /// Comma-separated pass names replacing the target's pipeline (`tessera opt --passes=`).
    pub passes: Option<String>,
    /// `--print-pipeline`: list the passes (with one-line summaries) before running them.
    pub print_pipeline: bool,
    /// `--print-after=NAME` (repeatable): print each kernel after pass NAME.
    pub print_after: Vec<String>,
    /// `--print-after-all`.
    pub print_after_all: bool,
    /// `--verify-each`: run the IR verifier on the input and after every pass.
    pub verify_each: bool,
    /// `--diff-interp`: interpret before/after every pass that changed the IR and compare.
    pub diff_interp: Option<DiffOptions>,
    /// Where reproducers are written (default: the current directory).
    pub repro_dir: Option<PathBuf>,
}

/// What happened, per kernel and pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PipelineReport {
    pub target: String,
    pub passes: Vec<&'static str>,
    /// `(kernel, pass, changed)` in execution order.
    pub runs: Vec<(String, &'static str, Changed)>,
    /// How many before/after interpretations were compared.
    pub diff_checks: usize,
    /// `(kernel, dot span, "dequant: fused (how)" | "dequant: emulated (why)")` for every dot with
    /// low-precision operands, after the last pass (see [`crate::dequant_report`]).
    pub dequant: Vec<(String, Span, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Parse(#[from] IrParseError),
    #[error("kernel `{kernel}`: {error}")]
    Pass { kernel: String, error: PassError },
    #[error("the input IR does not verify (before any pass): {0}")]
    InputInvalid(Box<VerifyError>),
    #[error(
        "internal compiler error: the IR does not verify after pass `{pass}`: {error}\n  reproducer (the IR before `{pass}`): {repro}\n  replay: {replay}"
    )]
    VerifyFailed {
        pass: &'static str,
        error: Box<VerifyError>,
        repro: String,
        replay: String,
    },
    #[error("{error}\n  reproducer (the IR before `{pass}`): {repro}\n  replay: {replay}")]
    Diff {
        pass: &'static str,
        error: Box<DiffError>,
        repro: String,
        replay: String,
    },
    #[error("diff-interp: {0}")]
    DiffSetup(Box<DiffError>),
    #[error("cannot write the reproducer {path}: {why}")]
    Reproducer { path: String, why: String },
    #[error("cannot write pipeline output: {0}")]
    Log(#[from] std::io::Error),
}

/// Run the pipeline (the target's, or `opts.passes`) over every kernel of `module`, writing what
/// the print options ask for to `log` (the CLI passes stderr).
pub fn run_pipeline(
    module: &mut Module,
    caps: &TargetCaps,
    opts: &PipelineOptions,
    log: &mut dyn Write,
) -> Result<PipelineReport, PipelineError> {
    let passes: Vec<&'static PassInfo> = match &opts.passes {
        Some(list) => registry::parse_pass_list(list)?,
        None => registry::pipeline_for(caps)?,
    };
    let passes: Vec<PassInfo> = passes.into_iter().copied().collect();
    run_passes(module, caps, &passes, opts, log)
}

/// [`run_pipeline`] over an explicit list of passes, registered or not (tests and researchers
/// trying a pass before registering it; `opts.passes` is ignored).
pub fn run_passes(
    module: &mut Module,
    caps: &TargetCaps,
    passes: &[PassInfo],
    opts: &PipelineOptions,
    log: &mut dyn Write,
) -> Result<PipelineReport, PipelineError> {
    for name in &opts.print_after {
        if !passes.iter().any(|p| p.name == name) {
            registry::lookup(name)?;
        }
    }
    let mut report = PipelineReport {
        target: caps.name.to_string(),
        passes: passes.iter().map(|p| p.name).collect(),
        ..PipelineReport::default()
    };
    if opts.print_pipeline {
        writeln!(log, "pipeline for {}: {}", caps.name, report.passes.join(" -> "))?;
        for p in passes {
            writeln!(log, "  {:<22}{}", p.name, p.summary)?;
        }
    }
    let source_name = module.source_name.clone();
    for kernel in &mut module.kernels {
        run_kernel(kernel, &source_name, caps, passes, opts, log, &mut report)?;
    }
    Ok(report)
}

fn run_kernel(
    kernel: &mut Kernel,
    source_name: &str,
    caps: &TargetCaps,
    passes: &[PassInfo],
    opts: &PipelineOptions,
    log: &mut dyn Write,
    report: &mut PipelineReport,
) -> Result<(), PipelineError> {
    if opts.verify_each {
        verify_kernel(kernel).map_err(|e| PipelineError::InputInvalid(Box::new(e)))?;
    }
    let mut checker = match &opts.diff_interp {
        Some(d) => Some(Checker::new(kernel, d).map_err(|e| PipelineError::DiffSetup(Box::new(e)))?),
        None => None,
    };
    for info in passes {
        let before = (opts.verify_each || checker.is_some()).then(|| kernel.clone());
        let pass = (info.make)();
        let changed = pass.run(kernel, caps).map_err(|error| PipelineError::Pass {
            kernel: kernel.name.clone(),
            error,
        })?;
        report.runs.push((kernel.name.clone(), info.name, changed));
        if opts.print_after_all || opts.print_after.iter().any(|n| n == info.name) {
            writeln!(
                log,
                "// ----- IR after {} (kernel @{}, target {}) -----",
                info.name, kernel.name, caps.name
            )?;
            writeln!(log, "{}", print_kernel(kernel))?;
        }
        if let (true, Some(before)) = (opts.verify_each, &before)
            && let Err(error) = verify_kernel(kernel)
        {
            let (repro, replay) = reproducer(before, source_name, info.name, caps, opts)?;
            return Err(PipelineError::VerifyFailed {
                pass: info.name,
                error: Box::new(error),
                repro,
                replay,
            });
        }
        if let (Some(c), Some(before), Changed::Yes) = (&mut checker, &before, changed) {
            report.diff_checks += 1;
            if let Err(e) = c.check(info.name, kernel) {
                let (repro, replay) = reproducer(before, source_name, info.name, caps, opts)?;
                return Err(PipelineError::Diff {
                    pass: info.name,
                    error: Box::new(e),
                    repro,
                    replay,
                });
            }
        }
    }
    for (span, line) in crate::dequant_report(kernel, caps) {
        report.dequant.push((kernel.name.clone(), span, line));
    }
    Ok(())
}

/// Write the IR before `pass` to `<repro_dir>/<kernel>.before-<pass>.tir`; returns the path and
/// the command replaying the pass on it.
fn reproducer(
    before: &Kernel,
    source_name: &str,
    pass: &str,
    caps: &TargetCaps,
    opts: &PipelineOptions,
) -> Result<(String, String), PipelineError> {
    let dir = opts.repro_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let path = dir.join(format!("{}.before-{pass}.tir", before.name));
    let shown = path.display().to_string();
    let text = print_module(&Module {
        source_name: source_name.to_string(),
        kernels: vec![before.clone()],
    });
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| PipelineError::Reproducer {
            path: shown.clone(),
            why: e.to_string(),
        })?;
    let mut replay = format!(
        "tessera opt {shown} --target={} --passes={pass} --verify-each",
        caps.name
    );
    if let Some(d) = &opts.diff_interp {
        replay.push_str(&format!(" --diff-interp --seed={}", d.seed));
    }
    Ok((shown, replay))
}

/// `tessera opt`: parse IR text, run `opts.passes` (or the target's pipeline), print the result.
/// This is what a reproducer's replay command runs.
pub fn opt(
    text: &str,
    caps: &TargetCaps,
    opts: &PipelineOptions,
    log: &mut dyn Write,
) -> Result<String, PipelineError> {
    let mut module = parse_module(text)?;
    // Text from a file may be anything: verify it before any pass sees it, whatever the options.
    tessera_ir::verify_module(&module).map_err(|e| PipelineError::InputInvalid(Box::new(e)))?;
    run_pipeline(&mut module, caps, opts, log)?;
    Ok(print_module(&module))
}
