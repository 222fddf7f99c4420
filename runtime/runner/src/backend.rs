//! The GPU backends behind one interface: open a device, load the bundle's image, run once, bench.
//! The `tessera` CLI's `--backend cuda|hip` paths call these same functions.

use crate::error::RunnerError;
use tessera_bundle::Bundle;
use tessera_bundle::stats::{BenchOptions, BenchResult};
use tessera_numerics::Bindings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Cuda,
    Hip,
}

impl Backend {
    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "cuda" => Some(Backend::Cuda),
            "hip" => Some(Backend::Hip),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cuda => "cuda",
            Backend::Hip => "hip",
        }
    }

    /// The backend that runs a bundle built for `target` (NVIDIA `sm_*`, AMD `gfx*`).
    pub fn for_target(target: &str) -> Option<Backend> {
        if target.starts_with("sm_") {
            Some(Backend::Cuda)
        } else if target.starts_with("gfx") {
            Some(Backend::Hip)
        } else {
            None
        }
    }
}

/// An opened device with the bundle's kernel loaded.
///
/// Field order matters: Rust drops fields in declaration order, and the module must be unloaded while
/// the device's (primary) context is still retained. With `dev` first, compute-sanitizer reported
/// `cuModuleUnload` failing with CUDA_ERROR_INVALID_HANDLE at exit on the H200.
pub enum Gpu {
    Cuda {
        kernel: tessera_cuda::Kernel,
        dev: tessera_cuda::Device,
    },
    Hip {
        kernel: tessera_hip::Kernel,
        dev: tessera_hip::Device,
    },
}

/// One line describing the device, for logs and tables.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceLine(pub String);

impl Gpu {
    /// Open device 0 of `backend` and load `bundle` on it.
    pub fn open(backend: Backend, bundle: &Bundle) -> Result<Gpu, RunnerError> {
        match backend {
            Backend::Cuda => {
                let dev = tessera_cuda::Device::open(0)?;
                let kernel = tessera_cuda::Kernel::load(&dev, bundle)?;
                Ok(Gpu::Cuda { kernel, dev })
            }
            Backend::Hip => {
                let dev = tessera_hip::Device::open(0)?;
                let kernel = tessera_hip::Kernel::load(&dev, bundle)?;
                Ok(Gpu::Hip { kernel, dev })
            }
        }
    }

    pub fn describe(&self) -> DeviceLine {
        match self {
            Gpu::Cuda { dev, kernel } => {
                let i = dev.info();
                DeviceLine(format!(
                    "{} (sm_{}{}, {} SMs, L2 {} MiB, driver {}.{}), kernel from {}",
                    i.name,
                    i.compute_capability.0,
                    i.compute_capability.1,
                    i.sm_count,
                    i.l2_bytes >> 20,
                    i.driver_version / 1000,
                    (i.driver_version % 1000) / 10,
                    kernel.loaded_from
                ))
            }
            Gpu::Hip { dev, .. } => DeviceLine(format!("{} (HIP), kernel from HSACO", dev.name)),
        }
    }

    /// Launch once on `bindings`, copying the `outputs` back into them.
    pub fn run(
        &self,
        bundle: &Bundle,
        names: &[&str],
        outputs: &[usize],
        b: &mut Bindings,
    ) -> Result<(), RunnerError> {
        match self {
            Gpu::Cuda { dev, kernel } => {
                tessera_cuda::run(dev, kernel, bundle, names, outputs, b).map(|_| ())?
            }
            Gpu::Hip { dev, kernel } => {
                tessera_hip::run(dev, kernel, bundle, names, outputs, b).map(|_| ())?
            }
        }
        Ok(())
    }

    pub fn bench(
        &self,
        bundle: &Bundle,
        names: &[&str],
        b: &Bindings,
        opts: &BenchOptions,
    ) -> Result<BenchResult, RunnerError> {
        Ok(match self {
            Gpu::Cuda { dev, kernel } => {
                tessera_cuda::bench(dev, kernel, bundle, names, b, opts).map_err(exit_if_hung)?
            }
            Gpu::Hip { dev, kernel } => tessera_hip::bench(dev, kernel, bundle, names, b, opts)?,
        })
    }
}

/// A hung kernel leaves the device unusable for this process, and every cleanup call (freeing
/// memory, unloading the module, releasing the context) would wait for it forever: report and exit
/// at once with the device-failure status, so the next run in a GPU session still gets its turn.
fn exit_if_hung(e: tessera_cuda::CudaError) -> tessera_cuda::CudaError {
    if matches!(e, tessera_cuda::CudaError::Hung { .. }) {
        eprintln!("error: {e}");
        std::process::exit(4);
    }
    e
}
