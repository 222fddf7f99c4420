//! AMD gfx950 target: pipeline, scaled-MFMA lowering choices, inkwell AMDGPU codegen, ld.lld
