//! Support for the native block-scaled backends (sm_100a tcgen05, sm_120a `mma.sync ...
//! block_scale`, gfx950 `v_mfma_scale`), shared by the two target crates:
//!
//! - [`ix`]: lane-index expressions. A target's MMA-atom lane map (which lane holds which operand
//!   element and which scale byte) is written once as [`Ix`] values; the kernel generator emits
//!   them as MLIR integer arithmetic and the operand-layout models in the tests evaluate the very
//!   same values on the host. So the models check what the code does, not a re-statement of it.
//! - [`mlir`]: a small LLVM-dialect text builder (fresh SSA names, constants, `Ix` emission).
//! - [`gemm`]: recognise the GEMM-shaped kernels these backends compile, and their launch ABI.
//! - [`translate`]: MLIR text → pass pipeline → LLVM IR text (the only melior use here).

pub mod gemm;
pub mod ix;
pub mod mlir;
pub mod translate;

pub use gemm::{GemmAbi, GemmPattern, NotAGemm, ks_pad, recognise};
pub use ix::Ix;
pub use mlir::MlirText;
pub use translate::{NativeMlirError, mlir_to_llvm_ir};
