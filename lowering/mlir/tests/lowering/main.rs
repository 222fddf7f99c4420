//! The MLIR lowering's integration tests, as one test binary (each binary links LLVM and MLIR
//! statically, about 270 MB in the dev profile, so fewer binaries keep CI's disk use down).
mod async_ring;
mod fidelity;
mod lower_gemm;
