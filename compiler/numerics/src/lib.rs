//! Numerics shared by the interpreter, the CLI and the LLVM-free runner: host-side tensor buffers in
//! their exact device storage format, kernel argument bindings, validation metrics and tolerances,
//! output poisoning, seeded input generators and `.npy` I/O. Conventions: docs/NUMERICS.md.

pub mod args;
pub mod blocks;
pub mod buffer;
pub mod compare;
pub mod dtype_map;
pub mod error;
pub mod inputs;
pub mod npy;
pub mod poison;

pub use blocks::{dequantize, quantize};
pub use buffer::{ArgValue, Bindings, TensorArg, TensorBuf};
pub use compare::{Metrics, Tolerance, Verdict, compare, compare_buf, non_finite_agrees};
pub use dtype_map::{
    MAX_HOST_ELEMENTS, buf_from_codes, checked_numel, decode_buf, decode_buf_f64, encode_buf, format_of,
};
pub use error::NumericsError;
pub use inputs::InputGen;
pub use npy::{from_npy_bytes, read_npy, to_npy_bytes, write_npy};
pub use poison::{poison_buf, poisoned_mask};
