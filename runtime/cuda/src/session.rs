//! Run and bench a bundle on one device: upload every tensor of the bindings, encode the tensor maps,
//! marshal the ABI, launch with the bundle's grid/block/shared memory, synchronize, copy outputs
//! back. `bench` times launches with CUDA events and rotates input sets when they fit in L2.

use crate::device::Device;
use crate::error::{CudaError, check};
use crate::memory::DeviceBuffer;
use crate::module::Kernel;
use crate::tensormap::encode_slot;
use cudarc::driver::sys;
use tessera_bundle::stats::{self, BenchOptions, BenchResult};
use tessera_bundle::{Bundle, KernelArg, LaunchPlan, ParamBlock, SlotValue, TensorPart, Uploads, marshal};
use tessera_numerics::{ArgValue, Bindings};

/// What one launch did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub dynamic_shared_bytes: u32,
    /// "cubin", "PTX", or "PTX (cubin rejected: REASON)".
    pub loaded_from: String,
}

/// Everything one launch reads: device copies of the bindings' tensors, the encoded tensor maps and
/// the marshalled parameters.
struct LaunchSet {
    buffers: Uploads<DeviceBuffer>,
    _maps: Vec<DeviceBuffer>,
    params: ParamBlock,
}

fn prepare(
    dev: &Device,
    slots: &[SlotValue],
    names: &[&str],
    bindings: &Bindings,
) -> Result<LaunchSet, CudaError> {
    let buffers = Uploads::new(bindings, |bytes| DeviceBuffer::from_host(dev, bytes))?;
    let addr = |p: usize, part: TensorPart| buffers.addr(p, part);
    let mut maps: Vec<(usize, Option<DeviceBuffer>)> = Vec::new();
    for (slot, s) in slots.iter().enumerate() {
        if let SlotValue::TensorMap {
            param,
            part,
            tma,
            or_null,
        } = s
        {
            let ArgValue::Tensor(t) = &bindings.args[*param] else {
                return Err(CudaError::Invalid(format!(
                    "slot {slot}: tensor map over a scalar"
                )));
            };
            let buf = match part {
                TensorPart::Data => &t.data,
                TensorPart::Scale => t.scale.as_ref().ok_or_else(|| {
                    CudaError::Invalid(format!("slot {slot}: tensor map over missing scales"))
                })?,
            };
            let what = format!("`{}` {part:?} (slot {slot})", names.get(*param).unwrap_or(&"?"));
            let a = addr(*param, *part)
                .ok_or_else(|| CudaError::Invalid(format!("slot {slot}: tensor not uploaded")))?;
            // `None`: TMA cannot describe this buffer and the kernel copies another way, told so
            // by a null map pointer.
            let map = match encode_slot(tma, buf, a, *or_null, &what)? {
                Some(bytes) => Some(DeviceBuffer::from_host(dev, &bytes)?),
                None => None,
            };
            maps.push((slot, map));
        }
    }
    let map_addr = |slot: usize| {
        maps.iter()
            .find(|(s, _)| *s == slot)
            .map(|m| m.1.as_ref().map_or(0, DeviceBuffer::addr))
    };
    let args: Vec<KernelArg> = marshal(slots, &addr, &map_addr)?;
    Ok(LaunchSet {
        buffers,
        _maps: maps.into_iter().filter_map(|m| m.1).collect(),
        params: ParamBlock::new(&args),
    })
}

fn launch(kernel: &Kernel, p: &LaunchPlan, set: &mut LaunchSet) -> Result<(), CudaError> {
    let mut ptrs = set.params.pointers();
    // SAFETY: `ptrs` point into `set.params`, alive for the call; every buffer they address is
    // owned by `set`; the function handle is live. The launch itself is asynchronous: faults
    // surface at the next synchronize.
    let r = unsafe {
        sys::cuLaunchKernel(
            kernel.func,
            p.grid[0],
            p.grid[1],
            p.grid[2],
            p.block[0],
            p.block[1],
            p.block[2],
            p.smem,
            std::ptr::null_mut(),
            ptrs.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    check("cuLaunchKernel", r).map_err(|e| {
        CudaError::Invalid(format!(
            "launch of `{}` with grid {:?} block {:?} shared {} B failed: {e}",
            kernel.entry, p.grid, p.block, p.smem
        ))
    })
}

/// How long a launch (or a bench's batch of launches) may run before it is declared hung:
/// `$TESSERA_KERNEL_TIMEOUT_S`, default 60 s. A deadlocked mbarrier wait would otherwise block
/// `cuCtxSynchronize` forever and take the whole GPU session with it.
fn kernel_timeout() -> std::time::Duration {
    let secs = std::env::var("TESSERA_KERNEL_TIMEOUT_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60);
    std::time::Duration::from_secs(secs.max(1))
}

/// Wait for the work queued so far, polling an event so that a hung kernel becomes an error
/// instead of a process that never returns; then synchronize to surface asynchronous faults.
fn sync_after(dev: &Device, kernel: &Kernel) -> Result<(), CudaError> {
    let fault = |e: CudaError| {
        CudaError::Invalid(format!(
            "kernel `{}` faulted while running: {e} (run compute-sanitizer to locate it)",
            kernel.entry
        ))
    };
    let done = Events::new(1)?;
    done.record(0)?;
    let start = std::time::Instant::now();
    let limit = kernel_timeout();
    loop {
        // SAFETY: a live, recorded event.
        let r = unsafe { sys::cuEventQuery(done.0[0]) };
        if r == sys::cudaError_enum::CUDA_SUCCESS {
            break;
        }
        if r != sys::cudaError_enum::CUDA_ERROR_NOT_READY {
            return Err(fault(
                check("cuEventQuery", r)
                    .err()
                    .unwrap_or(CudaError::Invalid(format!("{r:?}"))),
            ));
        }
        if start.elapsed() > limit {
            return Err(CudaError::Hung {
                entry: kernel.entry.clone(),
                secs: limit.as_secs(),
            });
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    dev.synchronize().map_err(fault)
}

/// Launch once over `bindings` and copy the tensors of `outputs` (parameter indices) back into them.
pub fn run(
    dev: &Device,
    kernel: &Kernel,
    bundle: &Bundle,
    names: &[&str],
    outputs: &[usize],
    bindings: &mut Bindings,
) -> Result<RunReport, CudaError> {
    let p = LaunchPlan::new(&bundle.meta, names, bindings)?;
    let mut set = prepare(dev, &p.slots, names, bindings)?;
    launch(kernel, &p, &mut set)?;
    if let Err(e) = sync_after(dev, kernel) {
        // Freeing buffers under a hung kernel would block forever.
        if matches!(e, CudaError::Hung { .. }) {
            std::mem::forget(set);
        }
        return Err(e);
    }
    set.buffers
        .download_outputs(outputs, bindings, CudaError::Invalid)?;
    Ok(RunReport {
        grid: p.grid,
        block: p.block,
        dynamic_shared_bytes: p.smem,
        loaded_from: kernel.loaded_from.clone(),
    })
}

/// Time `opts.iters` launches (after `opts.warmup`) with CUDA events around each launch; the inputs
/// are replicated into several sets rotated per launch when they fit in L2.
pub fn bench(
    dev: &Device,
    kernel: &Kernel,
    bundle: &Bundle,
    names: &[&str],
    bindings: &Bindings,
    opts: &BenchOptions,
) -> Result<BenchResult, CudaError> {
    opts.check().map_err(|m| CudaError::Invalid(m.into()))?;
    let p = LaunchPlan::new(&bundle.meta, names, bindings)?;
    let bytes = stats::binding_bytes(bindings);
    let sets = opts.sets(bytes, dev.info().l2_bytes, || dev.mem_info().map(|m| m.0))?;
    let mut launch_sets = (0..sets)
        .map(|_| prepare(dev, &p.slots, names, bindings))
        .collect::<Result<Vec<_>, _>>()?;
    for i in 0..opts.warmup {
        launch(kernel, &p, &mut launch_sets[i % sets])?;
    }
    let hung = |e: CudaError, sets: Vec<LaunchSet>| {
        // Freeing buffers under a hung kernel would block forever.
        if matches!(e, CudaError::Hung { .. }) {
            std::mem::forget(sets);
        }
        e
    };
    if let Err(e) = sync_after(dev, kernel) {
        return Err(hung(e, launch_sets));
    }
    let events = Events::new(opts.iters)?;
    for i in 0..opts.iters {
        events.record(2 * i)?;
        launch(kernel, &p, &mut launch_sets[(opts.warmup + i) % sets])?;
        events.record(2 * i + 1)?;
    }
    if let Err(e) = sync_after(dev, kernel) {
        std::mem::forget(events);
        return Err(hung(e, launch_sets));
    }
    let samples = (0..opts.iters)
        .map(|i| events.elapsed_ms(2 * i, 2 * i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    opts.result(&samples, sets, bytes)
        .ok_or_else(|| CudaError::Invalid("bench produced no timings".into()))
}

/// A pool of CUDA events, destroyed on drop.
struct Events(Vec<sys::CUevent>);

impl Events {
    fn new(pairs: usize) -> Result<Events, CudaError> {
        let mut ev = Events(Vec::with_capacity(2 * pairs));
        for _ in 0..2 * pairs {
            let mut e: sys::CUevent = std::ptr::null_mut();
            // SAFETY: out-pointer to a local; a context is current.
            check("cuEventCreate", unsafe {
                sys::cuEventCreate(&mut e, sys::CUevent_flags::CU_EVENT_DEFAULT as u32)
            })?;
            ev.0.push(e);
        }
        Ok(ev)
    }

    fn record(&self, i: usize) -> Result<(), CudaError> {
        // SAFETY: a live event on the null stream.
        check("cuEventRecord", unsafe {
            sys::cuEventRecord(self.0[i], std::ptr::null_mut())
        })
    }

    fn elapsed_ms(&self, a: usize, b: usize) -> Result<f64, CudaError> {
        // SAFETY: both events were recorded and the device synchronized.
        let ms = unsafe { cudarc::driver::result::event::elapsed(self.0[a], self.0[b]) }
            .map_err(|e| CudaError::Invalid(format!("cuEventElapsedTime failed: {e}")))?;
        Ok(f64::from(ms))
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        for e in &self.0 {
            // SAFETY: each event was created once and is destroyed once.
            let _ = unsafe { sys::cuEventDestroy_v2(*e) };
        }
    }
}

/// Launch `kernel` once over memory the caller owns, on the caller's `stream`, asynchronously (no
/// synchronize, no copies of the caller's data): `addr(param, part)` gives the device address of
/// each tensor buffer, `bindings` gives their dtypes and shapes (their host bytes are not read). A
/// TMA tensor map is encoded on the host and copied into stream-ordered memory
/// (`cuMemAllocAsync`/`cuMemFreeAsync` on `stream`), so it lives exactly as long as the launch
/// needs it. This is what the `tessera` library's `Kernel::launch` calls.
///
/// # Safety
/// `stream` must be a live stream of the current context (or null, the legacy default stream), and
/// every address `addr` returns must be a device allocation of at least the bytes its binding's
/// dtype and shape need, alive until the work on `stream` has run.
pub unsafe fn launch_on_stream(
    kernel: &Kernel,
    plan: &LaunchPlan,
    names: &[&str],
    bindings: &Bindings,
    addr: &dyn Fn(usize, TensorPart) -> Option<u64>,
    stream: sys::CUstream,
) -> Result<(), CudaError> {
    let mut maps: Vec<(usize, sys::CUdeviceptr)> = Vec::new();
    let mut null_maps: Vec<usize> = Vec::new();
    let free_all = |maps: &[(usize, sys::CUdeviceptr)]| {
        for (_, p) in maps {
            // SAFETY: allocated on this stream below; freed in stream order after the launch.
            let _ = unsafe { sys::cuMemFreeAsync(*p, stream) };
        }
    };
    for (slot, s) in plan.slots.iter().enumerate() {
        let SlotValue::TensorMap {
            param,
            part,
            tma,
            or_null,
        } = s
        else {
            continue;
        };
        let ArgValue::Tensor(t) = &bindings.args[*param] else {
            free_all(&maps);
            return Err(CudaError::Invalid(format!(
                "slot {slot}: tensor map over a scalar"
            )));
        };
        let buf = match part {
            TensorPart::Data => Some(&t.data),
            TensorPart::Scale => t.scale.as_ref(),
        };
        let what = format!("`{}` {part:?} (slot {slot})", names.get(*param).unwrap_or(&"?"));
        let encoded = buf
            .ok_or_else(|| CudaError::Invalid(format!("slot {slot}: tensor map over missing scales")))
            .and_then(|b| {
                let a = addr(*param, *part)
                    .ok_or_else(|| CudaError::Invalid(format!("slot {slot}: no device address")))?;
                encode_slot(tma, b, a, *or_null, &what)
            });
        let bytes = match encoded {
            Ok(Some(b)) => b,
            // TMA cannot describe the buffer: a null map, and the kernel copies another way.
            Ok(None) => {
                null_maps.push(slot);
                continue;
            }
            Err(e) => {
                free_all(&maps);
                return Err(e);
            }
        };
        let mut dptr: sys::CUdeviceptr = 0;
        // SAFETY: out-pointer to a local; a live stream of the current context.
        let r = check("cuMemAllocAsync", unsafe {
            sys::cuMemAllocAsync(&mut dptr, bytes.len().max(256), stream)
        })
        .and_then(|()| {
            // SAFETY: `dptr` holds at least `bytes.len()` bytes; pageable source: the call returns
            // once the bytes are staged, so `bytes` may be dropped afterwards.
            check("cuMemcpyHtoDAsync", unsafe {
                sys::cuMemcpyHtoDAsync_v2(dptr, bytes.as_ptr().cast(), bytes.len(), stream)
            })
        });
        maps.push((slot, dptr));
        if let Err(e) = r {
            free_all(&maps);
            return Err(e);
        }
    }
    let map_addr = |slot: usize| {
        maps.iter()
            .find(|(s, _)| *s == slot)
            .map(|m| m.1)
            .or(null_maps.contains(&slot).then_some(0))
    };
    let args = match marshal(&plan.slots, addr, &map_addr) {
        Ok(a) => a,
        Err(e) => {
            free_all(&maps);
            return Err(e.into());
        }
    };
    let mut params = ParamBlock::new(&args);
    let mut ptrs = params.pointers();
    // SAFETY: `ptrs` point into `params`, alive for the call (the driver copies the parameter
    // values at launch); the caller guarantees its buffers outlive the work on `stream`.
    let r = unsafe {
        sys::cuLaunchKernel(
            kernel.func,
            plan.grid[0],
            plan.grid[1],
            plan.grid[2],
            plan.block[0],
            plan.block[1],
            plan.block[2],
            plan.smem,
            stream,
            ptrs.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    free_all(&maps);
    check("cuLaunchKernel", r).map_err(|e| {
        CudaError::Invalid(format!(
            "launch of `{}` with grid {:?} block {:?} shared {} B failed: {e}",
            kernel.entry, plan.grid, plan.block, plan.smem
        ))
    })
}
