//! Compile the kernels ahead of time; their bundles are embedded in the binary.
use tessera::build::{KernelSpec, compile_kernels};

fn main() {
    let specs = [
        // Also used by `tessera::kernel!(path = "kernels/scale_add.tsr")` in src/lib.rs: the macro
        // finds this bundle in OUT_DIR and embeds it instead of compiling at run time.
        KernelSpec::new("kernels/scale_add.tsr", "sm_90a"),
        KernelSpec::new("kernels/axpy.tsr", "sm_90a"),
    ];
    if let Err(e) = compile_kernels(&specs) {
        panic!("{e}");
    }
}
