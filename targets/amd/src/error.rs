//! Errors of the gfx950 backend. User-facing "the target cannot express this kernel" cases carry
//! a stable code naming the target and the reason (issue 7 item 7); everything after that is a
//! toolchain or internal failure with the tool's own message attached.

use tessera_ir::Span;
use tessera_lowering_mlir::native_scaled::NativeMlirError;

/// Stable diagnostic codes of this crate (documented in docs/TARGETS.md).
pub mod code {
    /// NVFP4 (ue4m3 block-16 scales) has no gfx950 scaled-MFMA path.
    pub const NVFP4_ON_GFX950: &str = "E0701";
    /// `f8e4m3fnuz` is the gfx942 (MI300) FP8; gfx950's MFMAs use OCP FP8.
    pub const FNUZ_ON_GFX950: &str = "E0702";
    /// An operand format or scale contract the scaled MFMA does not take.
    pub const UNSUPPORTED_OPERAND: &str = "E0703";
    /// The kernel is not GEMM-shaped (the only shape the native gfx950 lowering compiles).
    pub const NOT_A_GEMM: &str = "E0704";
}

#[derive(Debug, thiserror::Error)]
pub enum AmdError {
    /// The kernel asks for something gfx950 cannot do natively and Tessera does not emulate here.
    #[error("error[{code}]: target {target} cannot lower {what}: {reason}")]
    Unsupported {
        code: &'static str,
        target: &'static str,
        what: String,
        reason: String,
        span: Option<Span>,
    },
    #[error(transparent)]
    Mlir(#[from] NativeMlirError),
    /// A lane map referenced a variable the kernel skeleton does not define (compiler bug).
    #[error("internal: lane map: {0}")]
    LaneMap(String),
    #[error("LLVM AMDGPU codegen failed: {0}")]
    Codegen(String),
    #[error("`{tool}` failed: {message}")]
    Tool { tool: String, message: String },
}

impl AmdError {
    /// The source span to point at, for user-facing cases.
    pub fn span(&self) -> Option<Span> {
        match self {
            AmdError::Unsupported { span, .. } => *span,
            _ => None,
        }
    }

    /// The stable code, for user-facing cases.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            AmdError::Unsupported { code, .. } => Some(code),
            _ => None,
        }
    }
}
