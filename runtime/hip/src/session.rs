//! Run and bench a bundle on an AMD GPU: the same shape as `tessera_cuda::{run, bench}`, sharing the
//! launch planning and benchmark arithmetic of `tessera_bundle`.

use crate::device::{Device, DeviceBuffer, Kernel};
use crate::error::HipError;
use tessera_bundle::stats::{self, BenchOptions, BenchResult};
use tessera_bundle::{Bundle, LaunchPlan, ParamBlock, SlotValue, TensorPart, Uploads, marshal};
use tessera_numerics::Bindings;

/// The last-level cache that rotation must defeat. HIP exposes the L2 size through an attribute enum
/// whose numbering differs between ROCm releases; MI300/MI355-class parts have a 256 MiB Infinity
/// Cache in front of HBM, so that bound is used.
const LLC_BYTES: u64 = 256 << 20;

#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub dynamic_shared_bytes: u32,
}

struct LaunchSet {
    buffers: Uploads<DeviceBuffer>,
    params: ParamBlock,
}

fn prepare(dev: &Device, slots: &[SlotValue], bindings: &Bindings) -> Result<LaunchSet, HipError> {
    let buffers = Uploads::new(bindings, |bytes| DeviceBuffer::from_host(dev, bytes))?;
    if slots.iter().any(|s| matches!(s, SlotValue::TensorMap { .. })) {
        return Err(HipError::Invalid(
            "the bundle passes TMA tensor maps, an NVIDIA-only feature".into(),
        ));
    }
    let addr = |p: usize, part: TensorPart| buffers.addr(p, part);
    let args = marshal(slots, &addr, &|_| None)?;
    Ok(LaunchSet {
        params: ParamBlock::new(&args),
        buffers,
    })
}

fn launch(dev: &Device, k: &Kernel, p: &LaunchPlan, set: &mut LaunchSet) -> Result<(), HipError> {
    let mut ptrs = set.params.pointers();
    // SAFETY: parameter cells and buffers live in `set` for the call; the function is loaded.
    let r = unsafe {
        (dev.api.module_launch_kernel)(
            k.func,
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
    dev.api.check("hipModuleLaunchKernel", r)
}

/// Launch once and copy the tensors of `outputs` back into `bindings`.
pub fn run(
    dev: &Device,
    k: &Kernel,
    bundle: &Bundle,
    names: &[&str],
    outputs: &[usize],
    bindings: &mut Bindings,
) -> Result<RunReport, HipError> {
    let p = LaunchPlan::new(&bundle.meta, names, bindings)?;
    let mut set = prepare(dev, &p.slots, bindings)?;
    launch(dev, k, &p, &mut set)?;
    dev.synchronize()?;
    set.buffers
        .download_outputs(outputs, bindings, HipError::Invalid)?;
    Ok(RunReport {
        grid: p.grid,
        block: p.block,
        dynamic_shared_bytes: p.smem,
    })
}

/// Time launches with HIP events, rotating input sets that fit in the last-level cache.
pub fn bench(
    dev: &Device,
    k: &Kernel,
    bundle: &Bundle,
    names: &[&str],
    bindings: &Bindings,
    opts: &BenchOptions,
) -> Result<BenchResult, HipError> {
    opts.check().map_err(|m| HipError::Invalid(m.into()))?;
    let p = LaunchPlan::new(&bundle.meta, names, bindings)?;
    let bytes = stats::binding_bytes(bindings);
    let sets = opts.sets(bytes, LLC_BYTES, || dev.mem_info().map(|m| m.0))?;
    let mut sets_v = (0..sets)
        .map(|_| prepare(dev, &p.slots, bindings))
        .collect::<Result<Vec<_>, _>>()?;
    for i in 0..opts.warmup {
        launch(dev, k, &p, &mut sets_v[i % sets])?;
    }
    dev.synchronize()?;
    let mut events = Vec::with_capacity(2 * opts.iters);
    let guard = EventGuard {
        dev,
        events: &mut events,
    };
    for _ in 0..2 * opts.iters {
        let mut e = std::ptr::null_mut();
        // SAFETY: out-pointer to a local.
        dev.api
            .check("hipEventCreate", unsafe { (dev.api.event_create)(&mut e) })?;
        guard.events.push(e);
    }
    for i in 0..opts.iters {
        // SAFETY: live events on the null stream.
        dev.api.check("hipEventRecord", unsafe {
            (dev.api.event_record)(guard.events[2 * i], std::ptr::null_mut())
        })?;
        launch(dev, k, &p, &mut sets_v[(opts.warmup + i) % sets])?;
        // SAFETY: as above.
        dev.api.check("hipEventRecord", unsafe {
            (dev.api.event_record)(guard.events[2 * i + 1], std::ptr::null_mut())
        })?;
    }
    dev.synchronize()?;
    let mut samples = Vec::with_capacity(opts.iters);
    for i in 0..opts.iters {
        let mut ms = 0f32;
        // SAFETY: both events recorded and completed.
        dev.api.check("hipEventElapsedTime", unsafe {
            (dev.api.event_elapsed_time)(&mut ms, guard.events[2 * i], guard.events[2 * i + 1])
        })?;
        samples.push(f64::from(ms));
    }
    opts.result(&samples, sets, bytes)
        .ok_or_else(|| HipError::Invalid("bench produced no timings".into()))
}

struct EventGuard<'a> {
    dev: &'a Device,
    events: &'a mut Vec<crate::api::Event>,
}

impl Drop for EventGuard<'_> {
    fn drop(&mut self) {
        for e in self.events.iter() {
            // SAFETY: each event created once, destroyed once.
            let _ = unsafe { (self.dev.api.event_destroy)(*e) };
        }
    }
}
