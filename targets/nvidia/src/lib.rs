//! NVIDIA targets (sm_90a, sm_100a, sm_120a): pipelines, MMA-atom choices, inkwell NVPTX codegen, ptxas
