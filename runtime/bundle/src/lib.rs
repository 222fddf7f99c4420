//! Artifact bundle: everything another machine needs to run and validate a compiled kernel without
//! the compiler — the device binary (PTX, optional cubin / HSACO), `meta.json` (entry point, launch
//! ABI, grid formula, threads, shared memory, target, tuning values, source hash), the checked tile IR
//! text (`kernel.tir`, so the interpreter can re-run it), and the build report.
//!
//! Also the backend-neutral launch planning ([`launch`]), device-buffer bookkeeping ([`uploads`]) and
//! benchmark arithmetic ([`stats`]) that the CUDA and HIP runtimes share, so both have one interface shape and one set of tests.

pub mod args;
mod dir;
mod error;
mod hash;
pub mod launch;
mod meta;
pub mod ptx;
pub mod stats;
pub mod uploads;

pub use args::{KernelArg, ParamBlock, marshal};
pub use dir::{
    Bundle, CUBIN_FILE, HSACO_FILE, Image, MAX_BLOCK_X, MAX_BLOCK_Y, MAX_BLOCK_Z, MAX_GRID_X, MAX_GRID_YZ,
    META_FILE, PTX_FILE, REPORT_JSON_FILE, REPORT_TXT_FILE, TIR_FILE,
};
pub use error::{
    BundleError, E_BUNDLE_INVALID, E_BUNDLE_IO, E_BUNDLE_JSON, E_BUNDLE_LAUNCH, E_BUNDLE_MISMATCH,
    E_BUNDLE_MISSING, E_BUNDLE_VERSION,
};
pub use hash::sha256_hex;
pub use launch::{LaunchPlan, SlotValue, grid, resolve_abi};
pub use meta::{AbiArg, BUNDLE_FORMAT_VERSION, BundleMeta, TensorPart, TmaSpec};
pub use uploads::{DeviceMemory, Uploads};
