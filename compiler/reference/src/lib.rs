//! Plain references that share no code with the interpreter (and do not know the tile IR): inputs
//! are plain f64 arrays, dequantized first (this crate's [`dequant`] module, using
//! `tessera-formats` to decode codes), then multiplied in f64. Straightforward loops, written for
//! obviousness rather than speed: a second opinion the interpreter must agree with.
//!
//! [`epilogue`] holds the GEMM epilogues (scales, bias, activation, residual) `@reference(gemm,
//! ...)` options describe; [`attention_grouped`] serves grouped-query attention.

pub mod attention;
pub mod dequant;
pub mod epilogue;
pub mod gemm;
pub mod moe;

pub use attention::{AttnShape, attention, attention_grouped};
pub use dequant::{BlockScales, decode_codes, dequantize};
pub use epilogue::{Activation, Bias, Epilogue, apply_epilogue, erf};
pub use gemm::{BLayout, gemm, gemm_scaled};
pub use moe::{Route, moe_gated};
