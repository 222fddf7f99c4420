//! Benchmark arithmetic shared by the backends, as pure functions: the summary of event timings, how
//! many rotating input sets defeat the L2 cache, and throughput figures.

/// Summary of per-launch times (milliseconds).
#[derive(Clone, Debug, PartialEq)]
pub struct TimingSummary {
    pub iters: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Median, min, max and mean; `None` for no samples. NaN samples (a broken timer) are rejected by
/// the caller, so they are sorted last here and never reach the median of a sane run.
pub fn summarize(samples_ms: &[f64]) -> Option<TimingSummary> {
    if samples_ms.is_empty() {
        return None;
    }
    let mut s = samples_ms.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    };
    Some(TimingSummary {
        iters: n,
        median_ms: median,
        min_ms: s[0],
        max_ms: s[n - 1],
        mean_ms: s.iter().sum::<f64>() / n as f64,
    })
}

/// How many distinct copies of the inputs to rotate through so that a launch never finds its inputs
/// warm in L2 from the previous launch. Inputs larger than the L2 already evict themselves: 1 set.
/// Otherwise enough sets to cover 4x the L2, bounded by `mem_budget_bytes` and by 64 sets.
pub fn rotation_sets(input_bytes: u64, l2_bytes: u64, mem_budget_bytes: u64) -> usize {
    if input_bytes == 0 || input_bytes >= l2_bytes {
        return 1;
    }
    let want = (4 * l2_bytes).div_ceil(input_bytes);
    let fit = (mem_budget_bytes / input_bytes).max(1);
    want.min(fit).clamp(1, 64) as usize
}

/// Throughput of one launch of `median_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub tflops: Option<f64>,
    pub gbps: f64,
    /// TFLOP/s as a percentage of the measured ceiling, when both are known.
    pub pct_of_ceiling: Option<f64>,
}

pub fn throughput(median_ms: f64, flops: Option<f64>, bytes: u64, ceiling_tflops: Option<f64>) -> Throughput {
    let secs = median_ms * 1e-3;
    let tflops = flops.filter(|_| secs > 0.0).map(|f| f / secs / 1e12);
    let gbps = if secs > 0.0 {
        bytes as f64 / secs / 1e9
    } else {
        0.0
    };
    let pct_of_ceiling = match (tflops, ceiling_tflops) {
        (Some(t), Some(c)) if c > 0.0 => Some(100.0 * t / c),
        _ => None,
    };
    Throughput {
        tflops,
        gbps,
        pct_of_ceiling,
    }
}

/// What a backend's `bench` is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    pub warmup: usize,
    pub iters: usize,
    /// Floating-point operations of one launch (e.g. 2*M*N*K for a GEMM), when known.
    pub flops: Option<f64>,
    /// Measured ceiling (e.g. cuBLAS or a peak-FLOP kernel in the same session) for the % column.
    pub ceiling_tflops: Option<f64>,
    /// Rotate input buffer sets when the inputs fit in L2 (on by default; off to measure warm-L2 speed).
    pub rotate: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            warmup: 10,
            iters: 50,
            flops: None,
            ceiling_tflops: None,
            rotate: true,
        }
    }
}

impl BenchOptions {
    /// Reject options that cannot produce a timing, before anything is uploaded.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.iters == 0 {
            return Err("bench needs at least one timed iteration");
        }
        Ok(())
    }

    /// How many input sets to rotate through (see [`rotation_sets`]): 1 without rotation, else
    /// enough to defeat a last-level cache of `llc_bytes` within half of the free device memory,
    /// which `free_bytes` is asked for only when rotating.
    pub fn sets<E>(
        &self,
        input_bytes: u64,
        llc_bytes: u64,
        free_bytes: impl FnOnce() -> Result<u64, E>,
    ) -> Result<usize, E> {
        if !self.rotate {
            return Ok(1);
        }
        Ok(rotation_sets(input_bytes, llc_bytes, free_bytes()? / 2))
    }

    /// The result of a bench over per-launch `samples_ms`; `None` for no samples.
    pub fn result(&self, samples_ms: &[f64], sets: usize, bytes: u64) -> Option<BenchResult> {
        let timing = summarize(samples_ms)?;
        let throughput = throughput(timing.median_ms, self.flops, bytes, self.ceiling_tflops);
        Some(BenchResult {
            timing,
            sets,
            bytes,
            throughput,
        })
    }
}

/// What a backend's `bench` measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    pub timing: TimingSummary,
    /// Input buffer sets rotated through (1 = no rotation).
    pub sets: usize,
    /// Bytes of all tensor buffers of one launch (each read or written at least once).
    pub bytes: u64,
    pub throughput: Throughput,
}

/// Bytes of every tensor buffer (data and scales) bound for one launch.
pub fn binding_bytes(bindings: &tessera_numerics::Bindings) -> u64 {
    bindings
        .args
        .iter()
        .map(|a| match a {
            tessera_numerics::ArgValue::Tensor(t) => {
                (t.data.bytes.len() + t.scale.as_ref().map_or(0, |s| s.bytes.len())) as u64
            }
            tessera_numerics::ArgValue::Scalar(_) => 0,
        })
        .sum()
}
