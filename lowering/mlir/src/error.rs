//! Errors of the lowering: unsupported IR shapes (naming the op and its source span) and failures
//! reported by MLIR itself (parse, verify, passes, translation), with the captured diagnostics.

use tessera_ir::Span;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum LoweringError {
    /// Verified tile IR that this lowering cannot (yet) turn into the target's program structure.
    #[error("unsupported for sm_90a lowering: {what}")]
    Unsupported { what: String, span: Span },
    /// A tensor too large for 32-bit element offsets (more than 2^31 - 1 elements by its constant
    /// dims): refused instead of wrapping. No sm_90a build reports it (the per-op lowering
    /// computes 64-bit offsets); kept for lowerings with 32-bit offsets.
    #[error("tensor too large for 32-bit element offsets: {what}")]
    TooLarge { what: String, span: Span },
    /// MLIR rejected the module at `stage` (parse, verify, a pass pipeline, or translation). This is a
    /// compiler bug when the input came from the generator; the diagnostics say what MLIR saw.
    #[error("MLIR {stage} failed:\n{}", diagnostics.join("\n"))]
    Mlir {
        stage: &'static str,
        diagnostics: Vec<String>,
    },
}

impl LoweringError {
    pub(crate) fn unsupported(what: impl Into<String>, span: Span) -> LoweringError {
        LoweringError::Unsupported {
            what: what.into(),
            span,
        }
    }

    /// The source span the error points at, when it has one.
    pub fn span(&self) -> Option<Span> {
        match self {
            LoweringError::Unsupported { span, .. } | LoweringError::TooLarge { span, .. } => Some(*span),
            LoweringError::Mlir { .. } => None,
        }
    }
}
