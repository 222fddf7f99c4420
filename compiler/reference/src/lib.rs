//! Plain references sharing no code with the interpreter: dequantize then f64 GEMM / attention
