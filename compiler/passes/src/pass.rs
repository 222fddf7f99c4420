//! The `Pass` trait every pass implements, what a pass reports back, and its errors.

use crate::TargetCaps;
use tessera_ir::{Kernel, Span};

/// Whether a pass modified the kernel (the pipeline skips re-verification and diff-checking of
/// passes that changed nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    Yes,
    No,
}

impl Changed {
    pub fn from_bool(b: bool) -> Changed {
        if b { Changed::Yes } else { Changed::No }
    }
}

/// A transformation of one kernel. Implementations are stateless; the registry makes a fresh one
/// per pipeline run.
pub trait Pass {
    /// The registered name (see [`crate::registry`]): flag value, module name with `-` for `_`,
    /// test folder `compiler/passes/tests/<name>/`, and heading in docs/dev/passes.md.
    fn name(&self) -> &'static str;
    fn run(&self, kernel: &mut Kernel, caps: &TargetCaps) -> Result<Changed, PassError>;
}

/// A pass refusing a kernel. `Unsupported` is the user's to act on (coded, spanned: e.g. a scaled
/// dot the target cannot fuse); `Internal` is a compiler bug the pass detected itself.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PassError {
    #[error("{code}: {message} (pass `{pass}`)")]
    Unsupported {
        pass: &'static str,
        code: &'static str,
        span: Span,
        message: String,
    },
    #[error("internal error in pass `{pass}`: {message}")]
    Internal { pass: &'static str, message: String },
}
