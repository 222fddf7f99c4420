//! `bench`: time a bundle on the GPU (CUDA events, warm-up, median of N, rotating input sets) and
//! report TFLOP/s, GB/s and % of a measured ceiling.

use crate::backend::Gpu;
use crate::error::RunnerError;
use crate::problem;
use crate::session::{Common, Loaded};
use tessera_bundle::stats::{BenchOptions, BenchResult};

/// One benchmarked (kernel, shape).
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    pub kernel: String,
    pub shape: String,
    pub device: String,
    pub result: BenchResult,
    pub ceiling_tflops: Option<f64>,
}

impl BenchRow {
    /// One line, easy to quote: `bench | kernel | shape | median us | TFLOP/s | GB/s | % ceiling | sets`.
    pub fn line(&self) -> String {
        let r = &self.result;
        let t = &r.timing;
        format!(
            "bench | {} | {} | median {:.1} us (min {:.1}, max {:.1}, n={}) | {} | {:.1} GB/s | {} | {} input set{}",
            self.kernel,
            self.shape,
            t.median_ms * 1e3,
            t.min_ms * 1e3,
            t.max_ms * 1e3,
            t.iters,
            r.throughput
                .tflops
                .map_or("TFLOP/s n/a".into(), |v| format!("{v:.1} TFLOP/s")),
            r.throughput.gbps,
            match (r.throughput.pct_of_ceiling, self.ceiling_tflops) {
                (Some(p), Some(c)) => format!("{p:.1}% of {c:.0} TFLOP/s"),
                _ => "no ceiling given".into(),
            },
            r.sets,
            if r.sets == 1 { "" } else { "s" }
        )
    }

    pub fn json(&self) -> serde_json::Value {
        let r = &self.result;
        serde_json::json!({
            "kind": "bench",
            "kernel": self.kernel,
            "shape": self.shape,
            "device": self.device,
            "median_us": r.timing.median_ms * 1e3,
            "min_us": r.timing.min_ms * 1e3,
            "max_us": r.timing.max_ms * 1e3,
            "iters": r.timing.iters,
            "tflops": r.throughput.tflops,
            "gbps": r.throughput.gbps,
            "pct_of_ceiling": r.throughput.pct_of_ceiling,
            "ceiling_tflops": self.ceiling_tflops,
            "input_sets": r.sets,
            "bytes": r.bytes,
        })
    }
}

/// Bench the bundle of `c` with `opts` (FLOPs are derived from the kernel when it declares them).
pub fn bench_bundle(c: &Common, opts: &BenchOptions) -> Result<BenchRow, RunnerError> {
    bench_loaded(&Loaded::new(c)?, opts)
}

/// Bench an already prepared bundle (see [`Loaded::from_bundle`]).
pub fn bench_loaded(l: &Loaded, opts: &BenchOptions) -> Result<BenchRow, RunnerError> {
    let gpu = Gpu::open(l.backend, &l.bundle)?;
    let mut opts = opts.clone();
    if opts.flops.is_none() {
        opts.flops = problem::flops(&l.kernel, &l.syms);
    }
    let names = l.param_names();
    let result = gpu.bench(&l.bundle, &names, &l.bindings, &opts)?;
    Ok(BenchRow {
        kernel: l.kernel.name.clone(),
        shape: l.shape_label(),
        device: gpu.describe().0,
        result,
        ceiling_tflops: opts.ceiling_tflops,
    })
}
