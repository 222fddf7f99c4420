//! `tessera::kernel!`: a Tessera kernel inside Rust source, checked by the Tessera front end while
//! `cargo build` runs. A kernel with errors fails the build: each Tessera diagnostic becomes a
//! `compile_error!` carrying its code, placed at the offending token (kernel written as tokens) or
//! at the source literal / path (string or file form, the message then names the line). A kernel
//! that checks becomes a module with its source, its signature and typed functions:
//!
//! ```ignore
//! tessera::kernel! {
//!     kernel axpy(x: f32[N], y: f32[N], a: f32, z: out f32[N]) tiles(B = 256) grid(cdiv(N, B)) {
//!         let i = program_id(0) * B;
//!         store(z[i .. +B], load(x[i .. +B]) * a + load(y[i .. +B]));
//!     }
//! }
//! // or: tessera::kernel!(path = "kernels/axpy.tsr");   relative to CARGO_MANIFEST_DIR
//! // or: tessera::kernel!(source = "kernel axpy(...) { ... }", target = "sm_90a");
//!
//! let k = axpy::kernel()?;                                // compiled once per process (cached on disk)
//! axpy::launch(&stream, x, y, 2.0, z)?;                   // typed: DeviceTensor / f32 / i32
//! ```

mod expand;

use proc_macro::TokenStream;

/// See the crate documentation.
#[proc_macro]
pub fn kernel(input: TokenStream) -> TokenStream {
    expand::expand(input.into(), &manifest_dir()).into()
}

fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from("."), std::path::PathBuf::from)
}
