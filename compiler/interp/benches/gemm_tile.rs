//! Interpreter throughput on FP8 GEMM tile programs (the target: >= 1 GFLOP/s per core, and
//! 16 random 128x128 tiles of an 8192^3 MXFP8 GEMM in < 10 s). Run with
//! `cargo bench -p tessera-interp --profile dev` (the dev profile optimizes this crate at -O3) or
//! plain `cargo bench`. Figures are reported as elements = FLOPs, so criterion prints FLOP/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Instant;
use tessera_interp::{ProgramSet, run};
use tessera_ir::samples::{gemm, mx_spec, tensor};
use tessera_ir::{DType, Kernel};
use tessera_numerics::{ArgValue, Bindings, TensorArg, TensorBuf};

/// Cheap deterministic FP8 codes (an LCG; avoids the NaN codes 0x7F/0xFF) and e8m0 scales in
/// 124..=130: generating 2 x 64 Mi elements through the statistical generator would dominate.
fn fp8_arg(shape: [usize; 2], seed: u64) -> TensorArg {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as u8
    };
    let n = shape[0] * shape[1];
    let bytes = (0..n).map(|_| next() & 0xF6).collect();
    let sshape = vec![shape[0], shape[1].div_ceil(32)];
    let sbytes = (0..sshape[0] * sshape[1]).map(|_| 124 + next() % 7).collect();
    TensorArg {
        data: TensorBuf {
            dtype: DType::F8E4M3,
            shape: shape.to_vec(),
            packed_axis: None,
            bytes,
        },
        scale: Some(TensorBuf {
            dtype: DType::E8M0,
            shape: sshape,
            packed_axis: None,
            bytes: sbytes,
        }),
        global_scale: None,
    }
}

fn mx_gemm() -> Kernel {
    let mut a = tensor(DType::F8E4M3, &["M", "K"]);
    a.scale = Some(mx_spec(1));
    let mut b = tensor(DType::F8E4M3, &["N", "K"]);
    b.scale = Some(mx_spec(1));
    gemm(a, b, DType::BF16, (128, 128, 64), 0)
}

fn bindings(m: usize, n: usize, k: usize) -> Bindings {
    let c = TensorBuf {
        dtype: DType::BF16,
        shape: vec![m, n],
        packed_axis: None,
        bytes: vec![0; m * n * 2],
    };
    Bindings {
        args: vec![
            ArgValue::Tensor(fp8_arg([m, k], 1)),
            ArgValue::Tensor(fp8_arg([n, k], 2)),
            ArgValue::Tensor(TensorArg {
                data: c,
                scale: None,
                global_scale: None,
            }),
        ],
        syms: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let kernel = mx_gemm();
    // One 128x128 tile program over K = 1024, on one core.
    let (m, n, k) = (128, 128, 1024);
    let mut b = bindings(m, n, k);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let mut g = c.benchmark_group("interp");
    g.throughput(Throughput::Elements((2 * m * n * k) as u64));
    g.sample_size(10);
    g.bench_function("mxfp8_gemm_tile_128x128x1024_1core", |bch| {
        bch.iter(|| pool.install(|| run(&kernel, &mut b, ProgramSet::All).expect("run")))
    });
    g.finish();

    // Spot check: 16 random tiles of an 8192^3 GEMM on all cores (one timed run; criterion's
    // repetition would take minutes and measure nothing new).
    let s = 8192;
    let mut big = bindings(s, s, s);
    let mut r = 12345u64;
    let ids: Vec<[u32; 3]> = (0..16)
        .map(|_| {
            r = r.wrapping_mul(6364136223846793005).wrapping_add(1);
            [((r >> 33) % 64) as u32, ((r >> 45) % 64) as u32, 0]
        })
        .collect();
    let t = Instant::now();
    run(&kernel, &mut big, ProgramSet::Ids(ids)).expect("spot check");
    let secs = t.elapsed().as_secs_f64();
    let flops = 16.0 * 2.0 * 128.0 * 128.0 * s as f64;
    println!(
        "spot check: 16 tiles of an 8192^3 MXFP8 GEMM in {secs:.2} s ({:.2} GFLOP/s on {} threads)",
        flops / secs / 1e9,
        rayon::current_num_threads()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
