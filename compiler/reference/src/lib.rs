//! Plain references that share no code with the interpreter (and do not know the tile IR): inputs
//! are plain f64 arrays, dequantized first (this crate's [`dequant`] module, using
//! `tessera-formats` to decode codes), then multiplied in f64. Straightforward loops, written for
//! obviousness rather than speed: a second opinion the interpreter must agree with.

pub mod attention;
pub mod dequant;
pub mod gemm;
pub mod moe;

pub use attention::{AttnShape, attention};
pub use dequant::{BlockScales, decode_codes, dequantize};
pub use gemm::{BLayout, gemm, gemm_scaled};
pub use moe::{Route, moe_gated};
