//! Exact encode/decode/quantize of every element and scale format Tessera supports
