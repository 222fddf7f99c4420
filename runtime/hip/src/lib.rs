//! HIP runtime loaded at run time (libloading of `libamdhip64.so`): `hipModuleLoadData`,
//! `hipModuleLaunchKernel`, memory, events. Same run/bench interface shape as `tessera-cuda`. Builds
//! without ROCm; at run time a machine without it gets "no HIP runtime / no AMD GPU". Why not hip-rs:
//! docs/RUNTIME.md.

mod api;
mod device;
mod error;
mod session;

pub use api::{HipApi, candidates};
pub use device::{Device, DeviceBuffer, Kernel, device_available};
pub use error::HipError;
pub use session::{RunReport, bench, run};
