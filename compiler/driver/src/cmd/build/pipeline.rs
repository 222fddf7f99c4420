//! The pass-pipeline flags of `tessera build` (`--print-pipeline`, `--print-after=NAME`,
//! `--print-after-all`, `--verify-each`, `--diff-interp`), their mapping onto
//! `tessera_passes::PipelineOptions`, and how pipeline failures are reported: a pass refusing the
//! user's kernel is a diagnostic against the source; a verifier or diff-interp failure is an
//! internal compiler error (exit 3) naming the pass, the reproducer and the replay command.

use crate::cmd::run::prep::Failure;
use std::path::PathBuf;
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::Module;
use tessera_passes::{DiffOptions, PassError, PipelineError, PipelineOptions, PipelineReport, TargetCaps};

/// Code of an internal compiler error found by `--verify-each` or `--diff-interp`.
pub const E_INTERNAL: &str = "E0920";

/// Exit status of an internal compiler error (a Tessera bug, not the user's).
pub const EXIT_INTERNAL: u8 = 3;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct PipelineFlags {
    /// List the target's passes (with one-line summaries) before running them.
    #[arg(long)]
    pub print_pipeline: bool,
    /// Print the IR after this pass (repeatable).
    #[arg(long)]
    pub print_after: Vec<String>,
    /// Print the IR after every pass.
    #[arg(long)]
    pub print_after_all: bool,
    /// Run the IR verifier on the input and after every pass.
    #[arg(long)]
    pub verify_each: bool,
    /// Interpret the IR before and after every pass on the same random inputs and compare.
    #[arg(long)]
    pub diff_interp: bool,
    /// Seed of the --diff-interp inputs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Comma-separated pass names replacing the target's pipeline (experiments; the default is
    /// the target's pipeline).
    #[arg(long)]
    pub passes: Option<String>,
    /// Where internal-compiler-error reproducers are written (default: the current directory).
    #[arg(long)]
    pub repro_dir: Option<PathBuf>,
}

impl PipelineFlags {
    pub fn options(&self) -> PipelineOptions {
        let diff_interp = self.diff_interp.then(|| {
            let d = DiffOptions::default();
            DiffOptions {
                seed: self.seed.unwrap_or(d.seed),
                ..d
            }
        });
        PipelineOptions {
            passes: self.passes.clone(),
            print_pipeline: self.print_pipeline,
            print_after: self.print_after.clone(),
            print_after_all: self.print_after_all,
            verify_each: self.verify_each,
            diff_interp,
            repro_dir: self.repro_dir.clone(),
        }
    }
}

/// The source a kernel came from, for rendering diagnostics against it.
pub struct SourceText<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

impl SourceText<'_> {
    pub fn render(&self, d: Diagnostic) -> String {
        tessera_check::render_diagnostics(self.name, self.bytes, &[d], false, false)
    }
}

/// Run the pipeline over `module` (print output to stderr) and map its errors.
pub fn run(
    module: &mut Module,
    caps: &TargetCaps,
    opts: &PipelineOptions,
    src: &SourceText,
) -> Result<PipelineReport, Failure> {
    tessera_passes::run_pipeline(module, caps, opts, &mut std::io::stderr())
        .map_err(|e| failure(e, caps, src))
}

fn failure(e: PipelineError, caps: &TargetCaps, src: &SourceText) -> Failure {
    match e {
        PipelineError::Pass {
            kernel,
            error:
                PassError::Unsupported {
                    pass,
                    code,
                    span,
                    message,
                },
        } => {
            let d = Diagnostic::error(
                code,
                format!("target {}: kernel `{kernel}`: {message}", caps.name),
                DSpan::new(span.lo, span.hi),
                format!("pass `{pass}` cannot handle this for {}", caps.name),
            );
            Failure {
                exit: 1,
                message: src.render(d),
            }
        }
        PipelineError::Registry(r) => Failure::usage(crate::cmd::opt::coded_registry_error(&r.to_string())),
        e @ (PipelineError::VerifyFailed { .. }
        | PipelineError::Diff { .. }
        | PipelineError::InputInvalid(_)
        | PipelineError::Pass { .. }) => Failure {
            exit: EXIT_INTERNAL,
            message: format!("error[{E_INTERNAL}]: {e}"),
        },
        e => Failure {
            exit: 1,
            message: format!("error[{E_INTERNAL}]: pass pipeline for {}: {e}", caps.name),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_onto_pipeline_options() {
        let f = PipelineFlags {
            print_pipeline: true,
            print_after: vec!["fuse-dequant".into()],
            verify_each: true,
            diff_interp: true,
            seed: Some(7),
            ..PipelineFlags::default()
        };
        let o = f.options();
        assert!(o.print_pipeline && o.verify_each && !o.print_after_all);
        assert_eq!(o.print_after, vec!["fuse-dequant".to_string()]);
        assert_eq!(o.diff_interp.map(|d| d.seed), Some(7));
        assert!(PipelineFlags::default().options().diff_interp.is_none());
    }
}

#[cfg(test)]
mod ice_tests {
    //! A deliberately broken pass through the same error mapping `tessera build` uses: the
    //! verifier failure must come out as an internal compiler error (exit 3) naming the pass, the
    //! reproducer file and the replay command.

    use super::*;

    const SRC: &str = "kernel mm(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N]) \
        tiles(BM = 32, BN = 32, BK = 64) grid(cdiv(M, BM), cdiv(N, BN)) {
        let m0 = program_id(0) * BM;
        let n0 = program_id(1) * BN;
        var acc = zeros<f32>[BM, BN];
        for k0 in 0..K step BK {
            acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
        }
        store(c[m0 .. +BM, n0 .. +BN], acc);
    }";

    #[test]
    fn a_verifier_failure_is_an_internal_compiler_error_with_a_reproducer() {
        let (module, diags) = tessera_check::check_source("mm.tsr", SRC.as_bytes());
        let Some(mut module) = module else {
            panic!("test source does not check: {diags:?}")
        };
        let dir = std::env::temp_dir().join(format!("tessera-build-ice-{}", std::process::id()));
        let opts = PipelineOptions {
            verify_each: true,
            repro_dir: Some(dir.clone()),
            ..PipelineOptions::default()
        };
        let caps = TargetCaps::lookup("sm_100a").unwrap_or_else(|| panic!("no sm_100a caps"));
        let swap = tessera_passes::testing::SWAP_DOT_OPERANDS;
        let err = tessera_passes::run_passes(&mut module, caps, &[swap], &opts, &mut Vec::new())
            .err()
            .unwrap_or_else(|| panic!("the broken pass went unnoticed"));
        let src = SourceText {
            name: "mm.tsr",
            bytes: SRC.as_bytes(),
        };
        let f = failure(err, caps, &src);
        assert_eq!(f.exit, EXIT_INTERNAL, "{}", f.message);
        let repro = dir.join("mm.before-swap-dot-operands.tir");
        for want in [
            "error[E0920]: internal compiler error",
            "after pass `swap-dot-operands`",
            &repro.display().to_string(),
            "replay: tessera opt",
            "--passes=swap-dot-operands --verify-each",
        ] {
            assert!(f.message.contains(want), "missing {want:?} in:\n{}", f.message);
        }
        assert!(repro.exists(), "no reproducer at {}", repro.display());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
