//! Tessera from a Rust program, the two ways in:
//!
//! - `tessera::kernel!(path = "kernels/scale_add.tsr")`: checked by the Tessera front end while
//!   `cargo build` runs (a bad kernel fails the build with its Tessera code at the line), and a
//!   typed `scale_add::launch(&stream, x, b, alpha, y)`.
//! - build.rs + `tessera::build::compile_kernels`: `axpy` compiled ahead of time; its bundle is
//!   embedded in the binary (`aot::axpy::kernel()`).
//!
//! [`run`] makes data on the host, launches both kernels on a CUDA GPU on the caller's stream, and
//! checks the results against a CPU computation; without a GPU it checks the arguments only (the
//! signatures, the inferred dims and the launch plans) and says that it skipped the launch.

use tessera::cudarc::driver::{CudaContext, CudaStream};
use tessera::{DType, Error};

tessera::kernel!(path = "kernels/scale_add.tsr");

/// The kernels build.rs compiled and embedded.
pub mod aot {
    include!(concat!(env!("OUT_DIR"), "/tessera_kernels.rs"));
}

/// An inline kernel, checked at build time like the others; compiled at first use (so only in a
/// build with the compiler).
#[cfg(feature = "compile")]
pub mod inline {
    tessera::kernel! {
        kernel relu(x: f32[N], y: out f32[N]) tiles(B = 128) grid(cdiv(N, B)) {
            let i = program_id(0) * B;
            store(y[i .. +B], max(load(x[i .. +B]), 0.0));
        }
    }
}

/// What one example run found.
#[derive(Debug)]
pub struct Report {
    pub lines: Vec<String>,
    /// False when there was no GPU and the launches were skipped.
    pub launched: bool,
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    // A small LCG: deterministic values in [-2, 2).
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

fn max_err(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Run the examples (see the crate docs). `m`, `n`: the scale_add shape (partial tiles welcome).
pub fn run(m: usize, n: usize) -> Result<Report, Error> {
    let mut lines = Vec::new();
    let k = scale_add::kernel()?;
    lines.push(format!("scale_add: {} ({})", k.signature().display(), k.target()));
    let a = aot::axpy::kernel()?;
    lines.push(format!(
        "axpy (embedded by build.rs): {}",
        a.signature().display()
    ));
    // Argument checks and dim inference need no GPU.
    let fake = |p: u64, s: &[usize]| tessera::DeviceTensor::new(p, DType::F32, s);
    let bound = scale_add::bind(fake(1, &[m, n]), fake(2, &[n]), 0.5, fake(3, &[m, n]))?;
    lines.push(format!(
        "scale_add at M={m} N={n}: dims {:?}, grid {:?}",
        bound.dims, bound.plan.grid
    ));
    if !tessera::cuda_available() {
        lines.push(
            "no CUDA device here: the launches were skipped (signatures and launch plans checked)".into(),
        );
        return Ok(Report {
            lines,
            launched: false,
        });
    }
    let ctx = CudaContext::new(0).map_err(dev)?;
    let stream = ctx.default_stream();
    lines.push(scale_add_on_gpu(&stream, m, n)?);
    lines.push(axpy_on_gpu(&stream, &a, m * n + 3)?);
    #[cfg(feature = "compile")]
    lines.push(relu_on_gpu(&stream, 1000)?);
    Ok(Report {
        lines,
        launched: true,
    })
}

fn dev(e: impl std::fmt::Debug) -> Error {
    Error::new(tessera::ErrorKind::Device, "E0866", format!("{e:?}"))
}

fn scale_add_on_gpu(stream: &std::sync::Arc<CudaStream>, m: usize, n: usize) -> Result<String, Error> {
    let (x, b, alpha) = (data(m * n, 1), data(n, 2), 0.75f32);
    let dx = stream.clone_htod(&x).map_err(dev)?;
    let db = stream.clone_htod(&b).map_err(dev)?;
    let dy = stream.alloc_zeros::<f32>(m * n).map_err(dev)?;
    scale_add::launch(
        stream,
        tessera::device_tensor(&dx, stream, DType::F32, &[m, n])?,
        tessera::device_tensor(&db, stream, DType::F32, &[n])?,
        alpha,
        tessera::device_tensor(&dy, stream, DType::F32, &[m, n])?,
    )?;
    let y = stream.clone_dtoh(&dy).map_err(dev)?;
    stream.synchronize().map_err(dev)?;
    let want: Vec<f32> = (0..m * n).map(|i| x[i] * alpha + b[i % n]).collect();
    let err = max_err(&y, &want);
    if err > 1e-5 {
        return Err(dev(format!("scale_add differs from the CPU: max |err| {err}")));
    }
    Ok(format!(
        "scale_add on the GPU at M={m} N={n}: matches the CPU (max |err| {err:.2e})"
    ))
}

fn axpy_on_gpu(stream: &std::sync::Arc<CudaStream>, k: &tessera::Kernel, n: usize) -> Result<String, Error> {
    let (x, y, a) = (data(n, 3), data(n, 4), -1.5f32);
    let (dx, dy) = (
        stream.clone_htod(&x).map_err(dev)?,
        stream.clone_htod(&y).map_err(dev)?,
    );
    let dz = stream.alloc_zeros::<f32>(n).map_err(dev)?;
    let t = |s, shape: &[usize]| tessera::device_tensor(s, stream, DType::F32, shape);
    k.launch(
        stream,
        &[
            t(&dx, &[n])?.into(),
            t(&dy, &[n])?.into(),
            a.into(),
            t(&dz, &[n])?.into(),
        ],
    )?;
    let z = stream.clone_dtoh(&dz).map_err(dev)?;
    stream.synchronize().map_err(dev)?;
    let want: Vec<f32> = x.iter().zip(&y).map(|(x, y)| a * x + y).collect();
    let err = max_err(&z, &want);
    if err > 1e-5 {
        return Err(dev(format!("axpy differs from the CPU: max |err| {err}")));
    }
    Ok(format!(
        "axpy on the GPU at N={n}: matches the CPU (max |err| {err:.2e})"
    ))
}

#[cfg(feature = "compile")]
fn relu_on_gpu(stream: &std::sync::Arc<CudaStream>, n: usize) -> Result<String, Error> {
    let x = data(n, 5);
    let dx = stream.clone_htod(&x).map_err(dev)?;
    let dy = stream.alloc_zeros::<f32>(n).map_err(dev)?;
    inline::relu::launch(
        stream,
        tessera::device_tensor(&dx, stream, DType::F32, &[n])?,
        tessera::device_tensor(&dy, stream, DType::F32, &[n])?,
    )?;
    let y = stream.clone_dtoh(&dy).map_err(dev)?;
    stream.synchronize().map_err(dev)?;
    let want: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
    let err = max_err(&y, &want);
    if err > 0.0 {
        return Err(dev(format!("relu differs from the CPU: max |err| {err}")));
    }
    Ok(format!(
        "relu (inline kernel!, compiled at first use) on the GPU at N={n}: matches the CPU"
    ))
}
