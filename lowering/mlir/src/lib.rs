//! Tile IR to MLIR (upstream dialects) to LLVM IR; the only crate that names melior
