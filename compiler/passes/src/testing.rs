//! Passes that are wrong on purpose, for checking that a pipeline's safety nets (verify-each,
//! diff-interp, the internal-compiler-error path) catch a broken pass. Used by this crate's tests,
//! the driver's, and anyone testing a pipeline of their own; never registered by name.

use crate::{Changed, Pass, PassError, PassInfo, TargetCaps, walk_mut};
use tessera_ir::{Kernel, OpKind};

/// Swaps the operands of every dot: with non-square tiles the IR no longer verifies; with square
/// tiles it verifies but computes `B^T A^T`-shaped garbage.
pub struct SwapDotOperands;

impl Pass for SwapDotOperands {
    fn name(&self) -> &'static str {
        "swap-dot-operands"
    }
    fn run(&self, k: &mut Kernel, _: &TargetCaps) -> Result<Changed, PassError> {
        walk_mut(&mut k.body, &mut |op| {
            if let OpKind::Dot { a, b, .. } = &mut op.kind {
                std::mem::swap(a, b);
            }
        });
        Ok(Changed::Yes)
    }
}

/// [`SwapDotOperands`] as a pass entry for `run_passes`.
pub const SWAP_DOT_OPERANDS: PassInfo = PassInfo {
    name: "swap-dot-operands",
    summary: "broken on purpose: swaps the operands of every dot",
    make: || Box::new(SwapDotOperands),
};
