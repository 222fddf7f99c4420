//! Running the target's pass pipeline for a build, and how pipeline failures are reported: a pass refusing the
//! user's kernel is a diagnostic against the source; a verifier or diff-interp failure is an
//! internal compiler error (exit 3) naming the pass, the reproducer and the replay command.

use super::Failure;
use tessera_diag::{Diagnostic, Span as DSpan};
use tessera_ir::Module;
use tessera_passes::{PassError, PipelineError, PipelineOptions, PipelineReport, TargetCaps};

/// Code of an internal compiler error found by `--verify-each` or `--diff-interp`.
pub const E_INTERNAL: &str = "E0920";

/// Exit status of an internal compiler error (a Tessera bug, not the user's).
pub const EXIT_INTERNAL: u8 = 3;

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

/// A registry error's text (`E0901: unknown pass ...`) as a coded diagnostic line.
pub fn coded_registry_error(text: &str) -> String {
    match text.split_once(": ") {
        Some((code, rest)) if code.len() == 5 && code.starts_with('E') => format!("error[{code}]: {rest}"),
        _ => format!("error[{}]: {text}", super::E_USAGE),
    }
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
        PipelineError::Registry(r) => Failure::usage(coded_registry_error(&r.to_string())),
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
