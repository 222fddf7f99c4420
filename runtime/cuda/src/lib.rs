//! CUDA runtime through cudarc, with the driver library loaded at run time (so this crate builds and
//! its binaries start on machines without CUDA): open a device ("no CUDA device found" as a typed
//! error), load a bundle's cubin or PTX (the driver's JIT log on rejection), upload bindings, encode
//! TMA tensor maps on the host, launch with the bundle's grid/block/shared memory, synchronize, and
//! time launches with CUDA events.

mod device;
mod error;
mod memory;
mod module;
mod session;
mod tensormap;

/// The cudarc this crate is built with, for callers that pass their own `CudaStream`/`CudaSlice`
/// (only runtime crates name cudarc in their manifests: scripts/check-boundaries.sh).
pub use cudarc;
pub use device::{Device, DeviceInfo, device_available, driver_present};
pub use error::{CudaError, classify_init};
pub use memory::DeviceBuffer;
pub use module::Kernel;
pub use session::{RunReport, bench, launch_on_stream, run};
pub use tensormap::{TensorMapBytes, TensorMapPlan, TmaElem, describable, encode, encode_slot};
pub use tessera_bundle::{KernelArg, ParamBlock, marshal};
