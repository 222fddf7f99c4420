//! LLVM-free runner binary.
fn main() {}
