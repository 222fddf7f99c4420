//! CUDA runtime through cudarc (loaded at run time): load, allocate, launch, time
