//! Run and bench a bundle on an AMD GPU: the same shape as `tessera_cuda::{run, bench}`, sharing the
//! launch planning and benchmark arithmetic of `tessera_bundle`.

use crate::device::{Device, DeviceBuffer, Kernel};
use crate::error::HipError;
use tessera_bundle::stats::{self, BenchOptions, BenchResult};
use tessera_bundle::{Bundle, ParamBlock, SlotValue, TensorPart, grid, marshal, resolve_abi};
use tessera_numerics::{ArgValue, Bindings};

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
    buffers: Vec<(usize, TensorPart, DeviceBuffer)>,
    params: ParamBlock,
}

fn prepare(dev: &Device, slots: &[SlotValue], bindings: &Bindings) -> Result<LaunchSet, HipError> {
    let mut buffers = Vec::new();
    for (i, a) in bindings.args.iter().enumerate() {
        if let ArgValue::Tensor(t) = a {
            buffers.push((i, TensorPart::Data, DeviceBuffer::from_host(dev, &t.data.bytes)?));
            if let Some(s) = &t.scale {
                buffers.push((i, TensorPart::Scale, DeviceBuffer::from_host(dev, &s.bytes)?));
            }
        }
    }
    if slots.iter().any(|s| matches!(s, SlotValue::TensorMap { .. })) {
        return Err(HipError::Invalid(
            "the bundle passes TMA tensor maps, an NVIDIA-only feature".into(),
        ));
    }
    let addr = |p: usize, part: TensorPart| {
        buffers
            .iter()
            .find(|(i, q, _)| *i == p && *q == part)
            .map(|b| b.2.addr())
    };
    let args = marshal(slots, &addr, &|_| None)?;
    Ok(LaunchSet {
        params: ParamBlock::new(&args),
        buffers,
    })
}

struct Plan {
    grid: [u32; 3],
    block: [u32; 3],
    smem: u32,
    slots: Vec<SlotValue>,
}

fn plan(bundle: &Bundle, names: &[&str], bindings: &Bindings) -> Result<Plan, HipError> {
    Ok(Plan {
        grid: grid(&bundle.meta, &bindings.syms)?,
        block: bundle.meta.block,
        smem: bundle.meta.dynamic_shared_bytes,
        slots: resolve_abi(&bundle.meta, names, bindings)?,
    })
}

fn launch(dev: &Device, k: &Kernel, p: &Plan, set: &mut LaunchSet) -> Result<(), HipError> {
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
    let p = plan(bundle, names, bindings)?;
    let mut set = prepare(dev, &p.slots, bindings)?;
    launch(dev, k, &p, &mut set)?;
    dev.synchronize()?;
    for &o in outputs {
        let Some(ArgValue::Tensor(t)) = bindings.args.get_mut(o) else {
            return Err(HipError::Invalid(format!("output {o} is not a tensor parameter")));
        };
        if let Some((_, _, b)) = set
            .buffers
            .iter()
            .find(|(i, part, _)| *i == o && *part == TensorPart::Data)
        {
            b.download(&mut t.data.bytes)?;
        }
    }
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
    if opts.iters == 0 {
        return Err(HipError::Invalid(
            "bench needs at least one timed iteration".into(),
        ));
    }
    let p = plan(bundle, names, bindings)?;
    let bytes = stats::binding_bytes(bindings);
    let sets = if opts.rotate {
        stats::rotation_sets(bytes, LLC_BYTES, dev.mem_info()?.0 / 2)
    } else {
        1
    };
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
    let timing =
        stats::summarize(&samples).ok_or_else(|| HipError::Invalid("bench produced no timings".into()))?;
    let throughput = stats::throughput(timing.median_ms, opts.flops, bytes, opts.ceiling_tflops);
    Ok(BenchResult {
        timing,
        sets,
        bytes,
        throughput,
    })
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
