//! Launching on the caller's CUDA device buffers and stream (feature `cuda`). The module is loaded
//! once per kernel into the stream's context (the device's primary context, which cudarc's
//! `CudaContext` also uses); launches are asynchronous on the caller's stream, with no host copies
//! of the caller's data and no synchronize.

use crate::error::Error;
use crate::kernel::{Arg, Kernel};
use tessera_cuda::cudarc::driver::{CudaStream, sys};

/// The loaded module of a kernel, and the device it was loaded for.
pub(crate) struct Loaded {
    ordinal: usize,
    // Dropped in this order: the module is unloaded before the context reference is released.
    module: tessera_cuda::Kernel,
    device: tessera_cuda::Device,
}

// SAFETY: the CUDA driver's module and function handles may be used from any thread whose
// current context is the one they were loaded in; `launch` makes the stream's context current
// first, and access is serialised by the kernel's Mutex.
unsafe impl Send for Loaded {}

/// A raw CUDA stream: the caller's `cudaStream_t`/`CUstream` (e.g. torch's current stream), as
/// an integer; 0 is the legacy default stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawStream {
    pub stream: u64,
    /// The device ordinal whose primary context the stream belongs to.
    pub device: usize,
}

impl Kernel {
    /// Launch on `stream` (cudarc) over `args` (device pointers + shapes, scalars), in the
    /// signature's order: the args are checked and the dims inferred first ([`Kernel::bind`]).
    /// Asynchronous: synchronize the stream before reading outputs. The device addresses are
    /// trusted to hold the bytes their shapes need (`device_tensor` checks a cudarc slice's
    /// length); a wrong address is a device fault reported by the next synchronize, as with any
    /// CUDA launch.
    pub fn launch(&self, stream: &CudaStream, args: &[Arg]) -> Result<(), Error> {
        let ctx = stream.context();
        ctx.bind_to_thread().map_err(|e| {
            Error::new(
                crate::ErrorKind::Device,
                crate::error::E_DEVICE,
                format!("binding the stream's context: {e:?}"),
            )
        })?;
        // SAFETY: cudarc's stream is live and belongs to the context just made current (the
        // device's primary context). The device addresses are the caller's (see the method docs).
        unsafe {
            self.launch_raw(
                RawStream {
                    stream: stream.cu_stream() as u64,
                    device: ctx.ordinal(),
                },
                args,
            )
        }
    }

    /// [`Kernel::launch`] on a raw stream handle (what the Python module passes from torch).
    ///
    /// # Safety
    /// `stream.stream` must be a live `CUstream` of device `stream.device`'s primary context (torch's
    /// and cudarc's streams are), or 0 for the legacy default stream; the tensors' addresses must
    /// be device allocations holding the bytes their dtype and shape need, alive until the stream
    /// has run the kernel.
    pub unsafe fn launch_raw(&self, stream: RawStream, args: &[Arg]) -> Result<(), Error> {
        let bound = self.bind(args)?;
        let mut guard = self.loaded().lock().map_err(|_| {
            Error::new(
                crate::ErrorKind::Device,
                crate::error::E_DEVICE,
                "a previous launch panicked",
            )
        })?;
        let fresh = !matches!(&*guard, Some(l) if l.ordinal == stream.device);
        if fresh {
            // Device::open retains and makes current the primary context of the device.
            let device = tessera_cuda::Device::open(stream.device)?;
            let module = tessera_cuda::Kernel::load(&device, self.bundle())?;
            *guard = Some(Loaded {
                ordinal: stream.device,
                module,
                device,
            });
        }
        let Some(l) = guard.as_ref() else {
            return Err(Error::new(
                crate::ErrorKind::Device,
                crate::error::E_DEVICE,
                "module not loaded",
            ));
        };
        // The module lives in the device's primary context: make it current on this thread (a
        // later launch may come from another thread than the one that loaded it).
        l.device.bind_to_thread()?;
        let names: Vec<&str> = self.signature().params.iter().map(|p| p.name.as_str()).collect();
        let addr = |p: usize, part| bound.addr(p, part);
        // SAFETY: the caller's guarantees (above) are launch_on_stream's.
        unsafe {
            tessera_cuda::launch_on_stream(
                &l.module,
                &bound.plan,
                &names,
                &bound.bindings,
                &addr,
                stream.stream as sys::CUstream,
            )?;
        }
        Ok(())
    }
}

/// A [`DeviceTensor`](crate::DeviceTensor) over a cudarc slice (any element type: the bytes are
/// read as `dtype`), checked to hold at least the bytes `shape` needs (FP4: two per byte).
pub fn device_tensor<T>(
    slice: &tessera_cuda::cudarc::driver::CudaSlice<T>,
    stream: &CudaStream,
    dtype: tessera_ir::DType,
    shape: &[usize],
) -> Result<crate::DeviceTensor, Error> {
    use tessera_cuda::cudarc::driver::DevicePtr;
    let packed = (dtype == tessera_ir::DType::F4E2M1).then(|| shape.len().saturating_sub(1));
    let need = tessera_numerics::TensorBuf::expected_bytes(dtype, shape, packed);
    let have = slice.num_bytes();
    if have < need {
        return Err(Error::new(
            crate::ErrorKind::Signature,
            tessera_numerics::error::E_BUF_LEN,
            format!("a {dtype} tensor of shape {shape:?} needs {need} bytes; the buffer has {have}"),
        ));
    }
    let (ptr, _sync) = slice.device_ptr(stream);
    Ok(crate::DeviceTensor::new(ptr, dtype, shape))
}
