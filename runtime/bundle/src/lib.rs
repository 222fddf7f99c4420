//! Artifact bundle: everything another machine needs to run and validate a compiled kernel without
//! the compiler — the device binary (PTX, optional cubin / HSACO), `meta.json` (entry point, launch
//! ABI, grid formula, threads, shared memory, target, tuning values, source hash), the checked tile IR
//! text (`kernel.tir`, so the interpreter can re-run it), and the build report.

mod meta;

pub use meta::{AbiArg, BundleMeta, TensorPart, TmaSpec, BUNDLE_FORMAT_VERSION};
