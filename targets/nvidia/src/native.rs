//! The native block-scaled NVIDIA targets (sm_100a tcgen05, sm_120a / sm_121a `mma.sync ...
//! block_scale`) as data, their `--list-targets` entries, the build of the MXFP8 scaled-GEMM
//! kernel (lane maps → MLIR → LLVM IR → inkwell PTX → pinned ptxas) and the PTX instruction
//! audit (expected family present, no software-dequantize conversions).

use crate::sm120::MxMmaSync;
use crate::target::{Capabilities, Target};
use std::collections::BTreeMap;

const NATIVE_CAPS: Capabilities = Capabilities { wgmma: false, tma: true, block_scaled_mma: true, max_dynamic_smem: 232_448 };

/// Datacenter Blackwell: tcgen05 (TMEM accumulators, block-scaled kinds). PTX ISA 8.8 is needed
/// for `kind::mxf4nvf4` with an explicit block16/block32 (NVFP4).
pub const SM100A: Target =
    Target { name: "sm_100a", triple: "nvptx64-nvidia-cuda", cpu: "sm_100a", features: "+ptx88", ptxas_arch: "sm_100a", caps: NATIVE_CAPS };

/// Consumer Blackwell (RTX 50xx): warp-level `mma.sync ... block_scale`, no tcgen05, 99 KiB smem.
pub const SM120A: Target = Target {
    name: "sm_120a",
    triple: "nvptx64-nvidia-cuda",
    cpu: "sm_120a",
    features: "+ptx88",
    ptxas_arch: "sm_120a",
    caps: Capabilities { max_dynamic_smem: 101_376, ..NATIVE_CAPS },
};

/// DGX Spark (GB10): the sm_120a instruction set.
pub const SM121A: Target = Target { name: "sm_121a", cpu: "sm_121a", ptxas_arch: "sm_121a", ..SM120A };

pub const NATIVE_TARGETS: [Target; 3] = [SM100A, SM120A, SM121A];

/// One `--list-targets` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetListing {
    pub name: &'static str,
    pub summary: &'static str,
    pub capabilities: Vec<String>,
}

/// sm_90a (the Hopper path) and the native block-scaled targets, with capabilities.
pub fn list_targets() -> Vec<TargetListing> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    vec![
        TargetListing {
            name: "sm_90a",
            summary: "Hopper (H100/H200): TMA + mbarrier + wgmma; run on the lent GPUs",
            capabilities: s(&["plain fp8/bf16 dots -> wgmma.mma_async", "MX/NV formats -> fused dequant in registers feeding wgmma (no block-scaled MMA)"]),
        },
        TargetListing {
            name: "sm_100a",
            summary: "Datacenter Blackwell (B200): tcgen05, TMEM accumulators; compile-only here",
            capabilities: s(&[
                "MXFP8/MXFP6/MXFP4 x FP8 -> tcgen05.mma kind::mxf8f6f4 block_scale",
                "MXFP4 / NVFP4 (block16, PTX ISA 8.8) -> tcgen05.mma kind::mxf4nvf4",
                "scales copied to TMEM (tcgen05.cp 32x128b.warpx4) from nv128x4 atoms",
                "ptxas -arch=sm_100a verified; never run",
            ]),
        },
        TargetListing {
            name: "sm_120a",
            summary: "Consumer Blackwell (RTX 50xx): warp-level mma.sync block_scale; compile-only here",
            capabilities: s(&[
                "MXFP8 -> mma.sync.m16n8k32 kind::mxf8f6f4 block_scale scale_vec::1X (ue8m0)",
                "no tcgen05; scales read per lane from nv128x4 buffers (byte-id selects the K step)",
                "ptxas -arch=sm_120a verified (sm_121a too); never run",
            ]),
        },
    ]
}

/// What the PTX contains, for the build report and the tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NativeAudit {
    /// Block-scaled MMA instructions (full mnemonic incl. kind / block_scale qualifiers) → count.
    pub block_scaled: BTreeMap<String, usize>,
    /// Other tcgen05 instructions (alloc, cp, commit, ld, dealloc ...) → count.
    pub tcgen05: BTreeMap<String, usize>,
    /// Narrow-float conversions that would mean a software dequantize path → count.
    pub dequant: BTreeMap<String, usize>,
    pub ptx_version: Option<String>,
}

impl NativeAudit {
    /// Count of instructions whose mnemonic starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.block_scaled.iter().chain(&self.tcgen05).filter(|(k, _)| k.starts_with(prefix)).map(|(_, n)| n).sum()
    }
}

/// Scan PTX text (comments skipped, predicate guards dropped).
pub fn audit_ptx(ptx: &str) -> NativeAudit {
    let mut a = NativeAudit::default();
    for line in ptx.lines() {
        let l = line.trim_start();
        if l.starts_with("//") {
            continue;
        }
        let l = if l.starts_with('@') { l.split_once(char::is_whitespace).map_or("", |(_, r)| r.trim_start()) } else { l };
        let op = l.split(|c: char| c.is_whitespace() || c == ';').next().unwrap_or("");
        if op == ".version" {
            a.ptx_version = l.split_whitespace().nth(1).map(str::to_string);
        } else if op.contains("block_scale") && (op.starts_with("mma.sync") || op.starts_with("tcgen05.mma")) {
            *a.block_scaled.entry(op.to_string()).or_default() += 1;
        } else if op.starts_with("tcgen05.") {
            *a.tcgen05.entry(op.to_string()).or_default() += 1;
        } else if op.starts_with("cvt.") && ["e4m3", "e5m2", "e2m1", "e2m3", "e3m2", "ue8m0"].iter().any(|t| op.contains(&format!(".f16x2.{t}")) || op.contains(&format!(".bf16x2.{t}"))) {
            *a.dequant.entry(op.to_string()).or_default() += 1;
        }
    }
    a
}

/// Everything one native build produced.
#[derive(Clone, Debug)]
pub struct NativeBuild {
    pub target: Target,
    pub mlir: String,
    pub ptx: String,
    pub audit: NativeAudit,
    /// Expected MMA family (the audit must contain it).
    pub family: String,
}

/// Build the MXFP8 scaled GEMM for an sm_120-class target (sm_120a / sm_121a) up to PTX.
pub fn build_sm120_mx_gemm(name: &str, mma: &MxMmaSync, target: &Target) -> Result<NativeBuild, String> {
    let mlir = crate::sm120_kernel::mx_gemm_mlir(name, mma)?;
    let ir = tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir(&mlir, None).map_err(|e| e.to_string())?;
    let ptx = crate::codegen::llvm_ir_to_ptx(&ir, target)?;
    let audit = audit_ptx(&ptx);
    let family = mma.ptx_family();
    if audit.block_scaled.get(&family).copied().unwrap_or(0) == 0 {
        return Err(format!("{}: expected `{family}` in the PTX, found {:?}", target.name, audit.block_scaled));
    }
    Ok(NativeBuild { target: *target, mlir, ptx, audit, family })
}

/// Build the tcgen05 block-scaled GEMM for sm_100a up to PTX (`convert-nvvm-to-llvm` turns the
/// mbarrier waits into PTX loops first).
pub fn build_sm100_gemm(name: &str, g: &crate::sm100::Sm100Plan) -> Result<NativeBuild, String> {
    let mlir = crate::sm100_kernel::gemm_mlir(name, g)?;
    let ir = tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir(
        &mlir,
        Some("builtin.module(convert-nvvm-to-llvm,reconcile-unrealized-casts)"),
    )
    .map_err(|e| e.to_string())?;
    let ptx = crate::codegen::llvm_ir_to_ptx(&ir, &SM100A)?;
    let audit = audit_ptx(&ptx);
    let family = g.kind.ptx_prefix().to_string();
    if audit.count(&family) == 0 {
        return Err(format!("sm_100a: expected `{family}` in the PTX, found {:?}", audit.block_scaled));
    }
    Ok(NativeBuild { target: SM100A, mlir, ptx, audit, family })
}
