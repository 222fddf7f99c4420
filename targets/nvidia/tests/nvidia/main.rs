//! The NVIDIA target's integration tests, as one test binary. Every binary that reaches the
//! lowering links LLVM and MLIR statically (about 270 MB each in the dev profile); one binary
//! instead of six keeps a CI build's disk use and link time down. Each module is one former test
//! file and keeps its own `//!` description.
mod conformance_build;
mod dsl_examples;
mod native_blockscale;
mod sm90a_attention;
mod sm90a_build;
mod sm90a_scaled;
