//! Target capabilities as plain data: the one table that knows what each target's MMA consumes.
//! Passes and the pipeline read these fields; nothing outside this table branches on a target or
//! vendor name (DESIGN.md §2: "shared crates never match on a vendor").

use tessera_ir::{DType, LinearLayout, ScaleLayout, ScaleSpec};

/// A block-scale contract a target's MMA consumes natively (no dequantization in the kernel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeScaled {
    /// Scale family as [`ScaleSpec::family`] names it: "mx" or "nv".
    pub family: &'static str,
    /// Element types accepted under that family.
    pub elems: &'static [DType],
    /// Scale block along K.
    pub block: u32,
    /// Physical layout the instruction reads scales in.
    pub layout: ScaleLayout,
    /// The instruction, for reports.
    pub instr: &'static str,
}

/// What a target can do, as data. Add a target by adding an entry to [`TARGETS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetCaps {
    /// The `--target` spelling, e.g. "sm_90a".
    pub name: &'static str,
    /// The MMA family the lowering emits, for reports: "wgmma", "tcgen05", "mma.sync", "mfma".
    pub mma_family: &'static str,
    /// Block-scale contracts with a native block-scaled MMA.
    pub native_scaled: &'static [NativeScaled],
    /// Layout of scales the kernel applies itself (no native contract): the buffer stays
    /// row-major; the type records that registers, not the MMA, consume the scales.
    pub register_scale_layout: ScaleLayout,
    /// Element types the plain (unscaled) MMA takes as operands, e.g. e4m3/e5m2 for wgmma.
    pub mma_operand_types: &'static [DType],
    /// The pass pipeline, by registered pass name, in order.
    pub pipeline: &'static [&'static str],
    /// log2 of the threads per warp/wave.
    pub lane_bits: u32,
    /// log2 of the warps per CTA the distributed level lays tiles out for.
    pub warp_bits: u32,
    /// log2 of the most warps per CTA `assign-layouts` may choose: a kernel whose dots would hold
    /// more than `acc_regs` accumulator registers per thread, and have the rows for another MMA
    /// warp group, gets one more group (each thread then holds fewer), up to this.
    pub max_warp_bits: u32,
    /// Accumulator registers per thread (all dots of the kernel together) past which
    /// `assign-layouts` adds a warp group, where `max_warp_bits` allows.
    pub acc_regs: u32,
    /// The register fragment of the target's MMA accumulator.
    pub mma_acc: AccFragment,
}

/// The accumulator fragment of a target's MMA atom, as a layout constructor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccFragment {
    /// wgmma `m64nNk*`: warpgroups along M (PTX ISA 9.7.15.5.1).
    WgmmaM64,
    /// Not described yet (the target is not lowered from the distributed level).
    Undescribed,
}

impl AccFragment {
    /// Accumulator rows one group of `2^warp_bits` warps covers with one MMA atom, if described.
    pub fn rows_per_group(self) -> Option<u32> {
        match self {
            AccFragment::WgmmaM64 => Some(64),
            AccFragment::Undescribed => None,
        }
    }

    /// The layout of an `[m, n]` accumulator, or `None` where the atom does not tile that shape.
    pub fn layout(self, m: u32, n: u32, lane_bits: usize, warp_bits: usize) -> Option<LinearLayout> {
        match self {
            AccFragment::WgmmaM64 => LinearLayout::wgmma_acc(m, n, lane_bits, warp_bits),
            AccFragment::Undescribed => None,
        }
    }
}

const PIPELINE: &[&str] = &["canonicalize", "fuse-dequant", "assign-scale-layout"];
/// Targets lowered per op from the distributed level (the others still use their GEMM emitters).
/// MMA-first layouts (`assign-layouts-mma`): on the H200 the per-op FP8 attention ran 1.9x faster
/// with them than with operand-first `assign-layouts` (docs/PERFORMANCE.md).
const DIST_PIPELINE: &[&str] = &[
    "canonicalize",
    "fuse-dequant",
    "assign-scale-layout",
    "assign-layouts-mma",
];
const MX_ELEMS: &[DType] = &[
    DType::F8E4M3,
    DType::F8E5M2,
    DType::F6E2M3,
    DType::F6E3M2,
    DType::F4E2M1,
];
const NV_ELEMS: &[DType] = &[DType::F4E2M1];
const NV_MMA_TYPES: &[DType] = &[DType::F8E4M3, DType::F8E5M2, DType::BF16, DType::F16, DType::I8];

/// Every target Tessera knows.
pub const TARGETS: &[TargetCaps] = &[
    TargetCaps {
        name: "sm_90a",
        mma_family: "wgmma",
        // Hopper has no block-scaled MMA: every contract is applied by the kernel's dot.
        native_scaled: &[],
        register_scale_layout: ScaleLayout::HopperRegister,
        mma_operand_types: NV_MMA_TYPES,
        pipeline: DIST_PIPELINE,
        lane_bits: 5,
        warp_bits: 2,
        // A second warpgroup only when one would hold more than 128 accumulator registers per
        // thread: on the H200 a 128x128 per-op GEMM tile ran 2.6x slower as two warpgroups (one
        // CTA per SM, 864 us at 4096^3) than as one (two CTAs per SM overlap each other's staging
        // and MMA, 330 us), while the per-op FP8 attention (128x64 scores + 128x128 output, 192
        // registers in one warpgroup) spilled 1.5 KiB per thread in one warpgroup (session 7).
        max_warp_bits: 3,
        acc_regs: 128,
        mma_acc: AccFragment::WgmmaM64,
    },
    TargetCaps {
        name: "sm_100a",
        mma_family: "tcgen05",
        native_scaled: &[
            NativeScaled {
                family: "mx",
                elems: MX_ELEMS,
                block: 32,
                layout: ScaleLayout::Nv128x4,
                instr: "tcgen05.mma kind::mxf8f6f4 / kind::mxf4 block_scale",
            },
            NativeScaled {
                family: "nv",
                elems: NV_ELEMS,
                block: 16,
                layout: ScaleLayout::Nv128x4,
                instr: "tcgen05.mma kind::mxf4nvf4 block_scale scale_vec::4X",
            },
        ],
        register_scale_layout: ScaleLayout::HopperRegister,
        mma_operand_types: NV_MMA_TYPES,
        pipeline: PIPELINE,
        lane_bits: 5,
        warp_bits: 2,
        max_warp_bits: 2,
        acc_regs: 128,
        mma_acc: AccFragment::Undescribed,
    },
    TargetCaps {
        name: "sm_120a",
        mma_family: "mma.sync",
        // mma.sync block_scale takes scales per thread in registers, but CUTLASS's sm120
        // block-scaled GEMMs keep them in global memory in the same 128x4 SF-atom layout as sm_100a
        // (Sm1xxBlockScaledConfig) and load each thread's bytes from it, so that is the layout here.
        native_scaled: &[
            NativeScaled {
                family: "mx",
                elems: MX_ELEMS,
                block: 32,
                layout: ScaleLayout::Nv128x4,
                instr: "mma.sync kind::mxf8f6f4 block_scale scale_vec::1X",
            },
            NativeScaled {
                family: "nv",
                elems: NV_ELEMS,
                block: 16,
                layout: ScaleLayout::Nv128x4,
                instr: "mma.sync kind::mxf4nvf4 block_scale scale_vec::4X",
            },
        ],
        register_scale_layout: ScaleLayout::HopperRegister,
        mma_operand_types: NV_MMA_TYPES,
        pipeline: PIPELINE,
        lane_bits: 5,
        warp_bits: 2,
        max_warp_bits: 2,
        acc_regs: 128,
        mma_acc: AccFragment::Undescribed,
    },
    TargetCaps {
        name: "gfx950",
        mma_family: "mfma",
        // Only the MX contracts are native (v_mfma_scale_f32_*_f8f6f4); NVFP4 and f32 block
        // scales are applied by the kernel.
        native_scaled: &[NativeScaled {
            family: "mx",
            elems: MX_ELEMS,
            block: 32,
            layout: ScaleLayout::AmdLane16x16x128,
            instr: "v_mfma_scale_f32_16x16x128_f8f6f4",
        }],
        register_scale_layout: ScaleLayout::HopperRegister,
        mma_operand_types: &[DType::F8E4M3, DType::F8E5M2, DType::BF16, DType::F16, DType::I8],
        pipeline: PIPELINE,
        lane_bits: 6,
        warp_bits: 2,
        max_warp_bits: 2,
        acc_regs: 128,
        mma_acc: AccFragment::Undescribed,
    },
];

impl TargetCaps {
    /// The capabilities of `name`, or `None` for an unknown target.
    pub fn lookup(name: &str) -> Option<&'static TargetCaps> {
        TARGETS.iter().find(|t| t.name == name)
    }

    /// The native contract matching `spec` and element type `elem`, if the MMA consumes it.
    /// Only blocking along one axis, one of the last two (the matrix an MMA sees; leading axes
    /// are a batch such as MoE experts), qualifies: a native MMA scales along K only.
    pub fn native_for(&self, elem: DType, spec: &ScaleSpec) -> Option<&'static NativeScaled> {
        let rank = spec.block.len();
        let block = match spec.scaled_axes().as_slice() {
            [ax] if rank >= 2 && *ax + 2 >= rank => spec.block[*ax],
            _ => return None,
        };
        self.native_scaled
            .iter()
            .find(|n| n.family == spec.family() && n.block == block && n.elems.contains(&elem))
    }

    /// The layout scales of `spec` must have on this target: the native instruction's, or the
    /// register layout when the kernel applies them.
    pub fn scale_layout_for(&self, elem: DType, spec: &ScaleSpec) -> ScaleLayout {
        self.native_for(elem, spec)
            .map_or(self.register_scale_layout, |n| n.layout)
    }

    /// Names of all targets, for error messages.
    pub fn names() -> Vec<&'static str> {
        TARGETS.iter().map(|t| t.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(block: Vec<u32>) -> ScaleSpec {
        ScaleSpec {
            scale_dtype: DType::E8M0,
            block,
            global: false,
            layout: ScaleLayout::Linear,
        }
    }

    #[test]
    fn layouts_per_target() {
        let spec = mx(vec![1, 32]);
        let want = [
            ("sm_90a", ScaleLayout::HopperRegister),
            ("sm_100a", ScaleLayout::Nv128x4),
            ("sm_120a", ScaleLayout::Nv128x4),
            ("gfx950", ScaleLayout::AmdLane16x16x128),
        ];
        for (t, l) in want {
            let caps = TargetCaps::lookup(t).unwrap();
            assert_eq!(caps.scale_layout_for(DType::F8E4M3, &spec), l, "{t}");
        }
    }

    #[test]
    fn non_native_contracts_fall_back_to_registers() {
        let sm100 = TargetCaps::lookup("sm_100a").unwrap();
        let deepseek = ScaleSpec {
            scale_dtype: DType::F32,
            block: vec![128, 128],
            global: false,
            layout: ScaleLayout::Linear,
        };
        assert_eq!(
            sm100.scale_layout_for(DType::F8E4M3, &deepseek),
            ScaleLayout::HopperRegister
        );
        let nv = ScaleSpec {
            scale_dtype: DType::UE4M3,
            block: vec![1, 16],
            global: true,
            layout: ScaleLayout::Linear,
        };
        let gfx = TargetCaps::lookup("gfx950").unwrap();
        assert_eq!(
            gfx.scale_layout_for(DType::F4E2M1, &nv),
            ScaleLayout::HopperRegister
        );
        assert_eq!(sm100.scale_layout_for(DType::F4E2M1, &nv), ScaleLayout::Nv128x4);
        // bf16 under an MX contract is not an MMA element type anywhere.
        assert_eq!(
            sm100.scale_layout_for(DType::BF16, &mx(vec![1, 32])),
            ScaleLayout::HopperRegister
        );
    }

    #[test]
    fn batched_and_odd_blockings() {
        let sm100 = TargetCaps::lookup("sm_100a").unwrap();
        // MoE experts [E, N, K]: the batch axis leads, K is last.
        assert_eq!(
            sm100.scale_layout_for(DType::F8E4M3, &mx(vec![1, 1, 32])),
            ScaleLayout::Nv128x4
        );
        // Blocked along the batch axis, or rank 1: no MMA consumes that.
        assert_eq!(
            sm100.scale_layout_for(DType::F8E4M3, &mx(vec![32, 1, 1])),
            ScaleLayout::HopperRegister
        );
        assert_eq!(
            sm100.scale_layout_for(DType::F8E4M3, &mx(vec![32])),
            ScaleLayout::HopperRegister
        );
    }

    #[test]
    fn unknown_target() {
        assert!(TargetCaps::lookup("sm_75").is_none());
        assert_eq!(TargetCaps::names(), ["sm_90a", "sm_100a", "sm_120a", "gfx950"]);
    }
}
