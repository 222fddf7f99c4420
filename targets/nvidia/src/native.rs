//! The native block-scaled NVIDIA targets (sm_100a tcgen05, sm_120a / sm_121a `mma.sync ...
//! block_scale`) as data, their `--list-targets` entries, the build of the MXFP8 scaled-GEMM
//! kernel (lane maps → MLIR → LLVM IR → inkwell PTX → pinned ptxas) and the PTX instruction
//! audit (expected family present, no software-dequantize conversions).

use crate::sm100::{BlockScaleKind, Sm100Plan, format_code};
use crate::sm120::{MxMmaSync, Sm120Kind};
use crate::target::{Capabilities, Target};
use std::collections::BTreeMap;
use tessera_ir::{DType, DimExpr, Kernel, ScaleSpec, Span};
use tessera_lowering_mlir::native_scaled::{GemmAbi, GemmPattern, recognise};

const NATIVE_CAPS: Capabilities = Capabilities {
    wgmma: false,
    tma: true,
    block_scaled_mma: true,
    max_dynamic_smem: 232_448,
    shared_per_sm: 233_472,
};

/// Datacenter Blackwell: tcgen05 (TMEM accumulators, block-scaled kinds). PTX ISA 8.8 is needed
/// for `kind::mxf4nvf4` with an explicit block16/block32 (NVFP4).
pub const SM100A: Target = Target {
    name: "sm_100a",
    triple: "nvptx64-nvidia-cuda",
    cpu: "sm_100a",
    features: "+ptx88",
    ptxas_arch: "sm_100a",
    caps: NATIVE_CAPS,
};

/// Consumer Blackwell (RTX 50xx): warp-level `mma.sync ... block_scale`, no tcgen05, 99 KiB smem.
pub const SM120A: Target = Target {
    name: "sm_120a",
    triple: "nvptx64-nvidia-cuda",
    cpu: "sm_120a",
    features: "+ptx88",
    ptxas_arch: "sm_120a",
    caps: Capabilities {
        max_dynamic_smem: 101_376,
        shared_per_sm: 102_400,
        ..NATIVE_CAPS
    },
};

/// DGX Spark (GB10): the sm_120a instruction set.
pub const SM121A: Target = Target {
    name: "sm_121a",
    cpu: "sm_121a",
    ptxas_arch: "sm_121a",
    ..SM120A
};

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
            capabilities: s(&[
                "plain fp8/bf16 dots -> wgmma.mma_async",
                "MX/NV formats -> fused dequant in registers feeding wgmma (no block-scaled MMA)",
            ]),
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
                "MXFP8/FP8 -> mma.sync.m16n8k32 kind::mxf8f6f4 block_scale scale_vec::1X (ue8m0)",
                "MXFP4 -> m16n8k64 kind::mxf4nvf4 scale_vec::2X (ue8m0); NVFP4 -> scale_vec::4X (ue4m3)",
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
        self.block_scaled
            .iter()
            .chain(&self.tcgen05)
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Scan PTX text (comments skipped, predicate guards dropped).
pub fn audit_ptx(ptx: &str) -> NativeAudit {
    let mut a = NativeAudit::default();
    for (op, l) in crate::report::ptx_instructions(ptx) {
        if op == ".version" {
            a.ptx_version = l.split_whitespace().nth(1).map(str::to_string);
        } else if op.contains("block_scale") && (op.starts_with("mma.sync") || op.starts_with("tcgen05.mma"))
        {
            *a.block_scaled.entry(op.to_string()).or_default() += 1;
        } else if op.starts_with("tcgen05.") {
            *a.tcgen05.entry(op.to_string()).or_default() += 1;
        } else if op.starts_with("cvt.")
            && ["e4m3", "e5m2", "e2m1", "e2m3", "e3m2", "ue8m0"]
                .iter()
                .any(|t| op.contains(&format!(".f16x2.{t}")) || op.contains(&format!(".bf16x2.{t}")))
        {
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

impl NativeBuild {
    /// The build report's instruction section (`report.txt`): expected family and whether it is
    /// present, every block-scaled MMA and tcgen05 instruction, and the dequant check. Register
    /// and spill figures come from ptxas (`PtxasInfo`), which the caller runs.
    pub fn report_text(&self) -> String {
        let mut t = format!(
            "target: {}
ptx version: {}
",
            self.target.name,
            self.audit.ptx_version.as_deref().unwrap_or("?")
        );
        let n = self.audit.count(&self.family);
        t.push_str(&format!(
            "expected MMA family: {} ({})
",
            self.family,
            if n > 0 {
                format!("present x{n}")
            } else {
                "MISSING".into()
            }
        ));
        for (k, v) in self.audit.block_scaled.iter().chain(&self.audit.tcgen05) {
            t.push_str(&format!(
                "  {k} x{v}
"
            ));
        }
        t.push_str(&if self.audit.dequant.is_empty() {
            "dequant: fused into the block-scaled MMA (no software conversion)
"
            .to_string()
        } else {
            format!(
                "dequant: software conversions present {:?}
",
                self.audit.dequant
            )
        });
        t
    }
}

/// Build the MXFP8 scaled GEMM for an sm_120-class target (sm_120a / sm_121a) up to PTX.
pub fn build_sm120_mx_gemm(
    name: &str,
    mma: &MxMmaSync,
    target: &Target,
    abi: &GemmAbi,
) -> Result<NativeBuild, String> {
    let mlir = crate::sm120_kernel::mx_gemm_mlir(name, mma, abi)?;
    let ir = tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir(&mlir, None).map_err(|e| e.to_string())?;
    let ptx = crate::codegen::llvm_ir_to_ptx(&ir, target)?;
    let audit = audit_ptx(&ptx);
    let family = mma.ptx_family();
    if audit.block_scaled.get(&family).copied().unwrap_or(0) == 0 {
        return Err(format!(
            "{}: expected `{family}` in the PTX, found {:?}",
            target.name, audit.block_scaled
        ));
    }
    Ok(NativeBuild {
        target: *target,
        mlir,
        ptx,
        audit,
        family,
    })
}

/// Build the tcgen05 block-scaled GEMM for sm_100a up to PTX (`convert-nvvm-to-llvm` turns the
/// mbarrier waits into PTX loops first).
pub fn build_sm100_gemm(
    name: &str,
    g: &crate::sm100::Sm100Plan,
    abi: &GemmAbi,
) -> Result<NativeBuild, String> {
    let mlir = crate::sm100_kernel::gemm_mlir(name, g, abi)?;
    let ir = tessera_lowering_mlir::native_scaled::mlir_to_llvm_ir(
        &mlir,
        Some("builtin.module(convert-nvvm-to-llvm,reconcile-unrealized-casts)"),
    )
    .map_err(|e| e.to_string())?;
    let ptx = crate::codegen::llvm_ir_to_ptx(&ir, &SM100A)?;
    let audit = audit_ptx(&ptx);
    let family = g.kind.ptx_prefix().to_string();
    if audit.count(&family) == 0 {
        return Err(format!(
            "sm_100a: expected `{family}` in the PTX, found {:?}",
            audit.block_scaled
        ));
    }
    Ok(NativeBuild {
        target: SM100A,
        mlir,
        ptx,
        audit,
        family,
    })
}

/// Stable diagnostic codes of the native NVIDIA backends (docs/TARGETS.md).
pub mod code {
    /// The kernel is not GEMM-shaped (the only shape the native lowering compiles).
    pub const NOT_A_GEMM: &str = "E0711";
    /// An operand / scale contract this target's block-scaled MMA lowering does not cover.
    pub const UNSUPPORTED_OPERAND: &str = "E0712";
}

/// A kernel the target cannot express (yet), with the source span to point at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("error[{code}]: target {target} cannot lower {what}: {reason}")]
pub struct NativeError {
    pub code: &'static str,
    pub target: &'static str,
    pub what: String,
    pub reason: String,
    pub span: Option<Span>,
}

/// The MMA a native target chose for a recognised GEMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeChoice {
    Sm120(MxMmaSync),
    Sm100(Sm100Plan),
}

fn is_mx(s: Option<&ScaleSpec>) -> bool {
    s.is_none_or(|s| s.scale_dtype == DType::E8M0 && s.scaled_axes() == [1] && s.block.get(1) == Some(&32))
}

fn is_nv(s: Option<&ScaleSpec>) -> bool {
    s.is_some_and(|s| s.scale_dtype == DType::UE4M3 && s.scaled_axes() == [1] && s.block.get(1) == Some(&16))
}

/// Map the recognised GEMM's operand contracts onto `target`'s block-scaled MMA.
pub fn select(p: &GemmPattern, target: &Target) -> Result<NativeChoice, NativeError> {
    let refuse = |reason: &str| NativeError {
        code: code::UNSUPPORTED_OPERAND,
        target: target.name,
        what: format!("a dot of {} x {}", p.a_elem.name(), p.b_elem.name()),
        reason: reason.to_string(),
        span: Some(p.dot_span),
    };
    let (sa, sb) = (p.a_scale.as_ref(), p.b_scale.as_ref());
    let fp8 = |d: DType| crate::sm120::Fp8Type::from_dtype(d);
    match target.name {
        "sm_120a" | "sm_121a" => match (fp8(p.a_elem), fp8(p.b_elem)) {
            (Some(a), Some(b)) if is_mx(sa) && is_mx(sb) => Ok(NativeChoice::Sm120(MxMmaSync::fp8(a, b))),
            _ if p.a_elem == DType::F4E2M1 && p.b_elem == DType::F4E2M1 && is_nv(sa) && is_nv(sb) => {
                Ok(NativeChoice::Sm120(MxMmaSync {
                    kind: Sm120Kind::Nvf4,
                }))
            }
            _ if p.a_elem == DType::F4E2M1
                && p.b_elem == DType::F4E2M1
                && sa.is_some()
                && sb.is_some()
                && is_mx(sa)
                && is_mx(sb) =>
            {
                Ok(NativeChoice::Sm120(MxMmaSync {
                    kind: Sm120Kind::Mxf4,
                }))
            }
            _ => Err(refuse(
                "the sm_120-class lowering covers MXFP8/FP8 x MXFP8/FP8 (kind::mxf8f6f4) and MXFP4 / NVFP4 x same (kind::mxf4nvf4); mixed FP4 x FP8 and bf16 are not lowered yet",
            )),
        },
        "sm_100a" => {
            if let (Some(_), Some(_)) = (fp8(p.a_elem), fp8(p.b_elem))
                && is_mx(sa)
                && is_mx(sb)
            {
                let kind = BlockScaleKind::Mxf8f6f4;
                let f = |d| format_code(kind, d).unwrap_or(0);
                return Ok(NativeChoice::Sm100(Sm100Plan {
                    kind,
                    a_fmt: f(p.a_elem),
                    b_fmt: f(p.b_elem),
                    ue8m0: true,
                }));
            }
            if p.a_elem == DType::F4E2M1 && p.b_elem == DType::F4E2M1 {
                let nv = is_nv(sa) && is_nv(sb);
                if nv || (sa.is_some() && sb.is_some() && is_mx(sa) && is_mx(sb)) {
                    let kind = BlockScaleKind::Mxf4nvf4 { block16: nv };
                    return Ok(NativeChoice::Sm100(Sm100Plan {
                        kind,
                        a_fmt: 1,
                        b_fmt: 1,
                        ue8m0: !nv,
                    }));
                }
            }
            Err(refuse(
                "the sm_100a lowering covers MXFP8/FP8 x MXFP8/FP8 (kind::mxf8f6f4) and MXFP4 / NVFP4 x same (kind::mxf4nvf4); mixed FP4 x FP8 needs the padded-FP4 shared-memory layout and bf16 needs kind::f16, neither lowered yet",
            ))
        }
        _ => Err(NativeError {
            code: code::UNSUPPORTED_OPERAND,
            target: target.name,
            what: "a block-scaled dot".into(),
            reason: "not a native block-scaled target (sm_100a, sm_120a, sm_121a)".into(),
            span: Some(p.dot_span),
        }),
    }
}

/// A kernel compiled for a native target, with its launch contract.
#[derive(Clone, Debug)]
pub struct NativeKernelBuild {
    pub build: NativeBuild,
    pub entry: String,
    pub abi: Vec<tessera_bundle::AbiArg>,
    pub grid: Vec<DimExpr>,
    pub block: [u32; 3],
    pub choice: NativeChoice,
}

/// Compile a checked GEMM-shaped kernel for sm_100a / sm_120a / sm_121a up to PTX (run the
/// pinned ptxas on `build.ptx` with `target.ptxas_arch`). User-level refusals are coded, spanned
/// [`NativeError`]s; internal failures come back as `Err` with code `E0710`.
pub fn build_kernel(kernel: &Kernel, target: &Target) -> Result<NativeKernelBuild, NativeError> {
    let p = recognise(kernel).map_err(|e| NativeError {
        code: code::NOT_A_GEMM,
        target: target.name,
        what: format!("kernel `{}`", kernel.name),
        reason: e.reason,
        span: Some(e.span),
    })?;
    let choice = select(&p, target)?;
    let abi = GemmAbi::of(&p);
    let internal = |e: String| NativeError {
        code: "E0710",
        target: target.name,
        what: format!("kernel `{}`", kernel.name),
        reason: format!("internal: {e}"),
        span: None,
    };
    let cdiv = |s: &str, t: i64| {
        DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.to_string())), Box::new(DimExpr::Const(t)))
    };
    let (build, grid, block) = match choice {
        NativeChoice::Sm120(mma) => (
            build_sm120_mx_gemm(&kernel.name, &mma, target, &abi).map_err(internal)?,
            vec![cdiv(&p.m, 16), cdiv(&p.n, 8)],
            [32, 1, 1],
        ),
        NativeChoice::Sm100(plan) => (
            build_sm100_gemm(&kernel.name, &plan, &abi).map_err(internal)?,
            vec![cdiv(&p.m, 128), cdiv(&p.n, 128)],
            [128, 1, 1],
        ),
    };
    Ok(NativeKernelBuild {
        build,
        entry: kernel.name.clone(),
        abi: p.abi(),
        grid,
        block,
        choice,
    })
}

/// Look up a native target by its `--target` name.
pub fn native_by_name(name: &str) -> Option<Target> {
    NATIVE_TARGETS.iter().copied().find(|t| t.name == name)
}
