//! The NVIDIA targets this crate compiles for, as data: the LLVM triple/CPU/features for codegen
//! and the capabilities the lowering relies on. Shared crates never match on a vendor; they read
//! these facts.

/// What an architecture offers the MMA-atom choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Warpgroup MMA from shared-memory descriptors (`wgmma.mma_async`).
    pub wgmma: bool,
    /// Tensor Memory Accelerator bulk tensor copies (`cp.async.bulk.tensor`) and tx-count mbarriers.
    pub tma: bool,
    /// A block-scaled MMA instruction (tcgen05 / mma.sync block_scale). Hopper has none: scales are
    /// applied in registers.
    pub block_scaled_mma: bool,
    /// The most dynamic shared memory a CTA can opt into, in bytes.
    pub max_dynamic_smem: u32,
    /// Shared memory of one SM, shared by its resident CTAs, in bytes (what occupancy is
    /// planned against).
    pub shared_per_sm: u32,
}

/// A compilation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The name users pass to `--target` and the bundle records.
    pub name: &'static str,
    pub triple: &'static str,
    pub cpu: &'static str,
    /// LLVM NVPTX features: the PTX ISA version (8.0 is the first with sm_90a and wgmma).
    pub features: &'static str,
    /// The `-arch` given to ptxas.
    pub ptxas_arch: &'static str,
    pub caps: Capabilities,
}

pub const SM90A: Target = Target {
    name: "sm_90a",
    triple: "nvptx64-nvidia-cuda",
    cpu: "sm_90a",
    features: "+ptx80",
    ptxas_arch: "sm_90a",
    caps: Capabilities {
        wgmma: true,
        tma: true,
        block_scaled_mma: false,
        max_dynamic_smem: 232_448,
        shared_per_sm: 233_472,
    },
};

/// Targets this crate can build for.
pub const TARGETS: [Target; 1] = [SM90A];

/// Look a target up by its `--target` name.
pub fn by_name(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}
