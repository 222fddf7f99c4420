//! Numerics shared by the interpreter, the CLI and the LLVM-free runner: host-side tensor buffers in
//! their exact device storage format, kernel argument bindings, validation metrics and tolerances,
//! seeded input generators and `.npy` I/O.

pub mod buffer;

pub use buffer::{ArgValue, Bindings, TensorArg, TensorBuf};
