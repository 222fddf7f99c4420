//! `InterpError`: every way a run can fail, each with a stable code (E06xx, the interpreter range).
//!
//! - E0601 an op or type combination the interpreter does not implement (never skipped silently)
//! - E0602 bindings do not fit the kernel (argument count or kind)
//! - E0603 a buffer's dtype or packing differs from the parameter's type
//! - E0604 a buffer's shape differs from the parameter's type, or symbolic dims disagree
//! - E0605 a scaled parameter without its scale buffer or per-tensor global scale
//! - E0606 a scaled slice that does not start on a scale-block boundary
//! - E0607 a dot over K where K is not a multiple of the operand's scale block
//! - E0608 a runtime arithmetic fault (integer division by zero, loop step <= 0, index overflow)
//! - E0609 the grid cannot be evaluated, or a requested program id lies outside it
//! - E0610 the kernel fails IR verification (a compiler bug upstream of the interpreter)
//! - E0611 the kernel has a tile over `tessera_ir::MAX_TILE_ELEMENTS` (refused before any allocation)
//! - E0612 the run exceeded the work budget of its `RunOptions::max_work`

use tessera_ir::Span;

pub const E_UNSUPPORTED: &str = "E0601";
pub const E_ARGS: &str = "E0602";
pub const E_DTYPE: &str = "E0603";
pub const E_SHAPE: &str = "E0604";
pub const E_SCALE_MISSING: &str = "E0605";
pub const E_MISALIGNED: &str = "E0606";
pub const E_K_BLOCK: &str = "E0607";
pub const E_ARITH: &str = "E0608";
pub const E_GRID: &str = "E0609";
pub const E_VERIFY: &str = "E0610";
pub const E_TILE_LIMIT: &str = "E0611";
pub const E_WORK_BUDGET: &str = "E0612";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    /// The interpreter refuses rather than approximating: `op` is the mnemonic.
    #[error("error[E0601]: the interpreter does not implement `{op}` here (at {}..{}): {why}", span.lo, span.hi)]
    Unsupported {
        op: &'static str,
        span: Span,
        why: String,
    },
    /// A bindings problem found before any program runs.
    #[error("error[{code}]: {message}")]
    Binding { code: &'static str, message: String },
    /// A fault while executing an op of program `program`.
    #[error("error[{code}]: {message} (program {program:?}, at {}..{})", span.lo, span.hi)]
    Runtime {
        code: &'static str,
        span: Span,
        program: [u32; 3],
        message: String,
    },
}

impl InterpError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            InterpError::Unsupported { .. } => E_UNSUPPORTED,
            InterpError::Binding { code, .. } | InterpError::Runtime { code, .. } => code,
        }
    }

    pub(crate) fn binding(code: &'static str, message: impl Into<String>) -> InterpError {
        InterpError::Binding {
            code,
            message: message.into(),
        }
    }
}
