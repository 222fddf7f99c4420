//! Types of the tile IR: tensor parameters (global memory, symbolic dims), tiles (values held by one
//! program instance), scalars, and the block-scale contract that travels inside tensor and tile types.

use crate::DType;
use serde::{Deserialize, Serialize};

/// One dimension of a tensor parameter. Symbolic dims are bound at launch from the argument shapes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dim {
    Const(u64),
    Sym(String),
    /// `ceil(sym / by)`: e.g. the K/32 extent of a separate scale tensor.
    CeilDiv(String, u64),
}

/// Physical layout of a block-scale tensor. Part of the type: several layouts have the same element
/// count at some shapes, so a layout can never be inferred from a buffer (pytorch #190290).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScaleLayout {
    /// Row-major `[ceil(d0/b0), ceil(d1/b1), ...]`, as the user wrote it.
    Linear,
    /// NVIDIA 128x4 scale-factor atoms (cuBLAS/CUTLASS, tcgen05): MN padded to 128, scale-K to 4.
    Nv128x4,
    /// AMD gfx950 scaled MFMA: one scale byte per lane, arranged for `v_mfma_scale_f32_16x16x128`.
    AmdLane16x16x128,
    /// AMD gfx950 scaled MFMA: one scale byte per lane, arranged for `v_mfma_scale_f32_32x32x64`.
    AmdLane32x32x64,
    /// Hopper (no block-scaled MMA): scales applied in registers by the kernel's dot; the buffer is
    /// linear, but the type records that the kernel, not the MMA, consumes them.
    HopperRegister,
}

impl ScaleLayout {
    pub fn name(self) -> &'static str {
        match self {
            ScaleLayout::Linear => "linear",
            ScaleLayout::Nv128x4 => "nv128x4",
            ScaleLayout::AmdLane16x16x128 => "amd_lane16x16x128",
            ScaleLayout::AmdLane32x32x64 => "amd_lane32x32x64",
            ScaleLayout::HopperRegister => "hopper_reg",
        }
    }

    pub fn from_name(s: &str) -> Option<ScaleLayout> {
        [
            ScaleLayout::Linear,
            ScaleLayout::Nv128x4,
            ScaleLayout::AmdLane16x16x128,
            ScaleLayout::AmdLane32x32x64,
            ScaleLayout::HopperRegister,
        ]
        .into_iter()
        .find(|l| l.name() == s)
    }
}

/// A block-scale contract: element `i` of the data is multiplied by `scale[i / block]` (per dim),
/// and by a per-tensor f32 `global` scale when present.
///
/// - MX (OCP MX v1.0): `scale_dtype = E8M0`, block 32 along one axis, no global.
/// - NVFP4: `scale_dtype = UE4M3`, block 16 along one axis, `global = true`.
/// - DeepSeek-style FP8: `scale_dtype = F32`, block `[1, 128]` (activations) or `[128, 128]` (weights).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScaleSpec {
    pub scale_dtype: DType,
    /// Block extent per data dimension; 1 means "not blocked along this dim".
    pub block: Vec<u32>,
    /// A per-tensor f32 second-level scale is part of the contract (NVFP4).
    pub global: bool,
    pub layout: ScaleLayout,
}

impl ScaleSpec {
    /// The axes along which the block extent is > 1.
    pub fn scaled_axes(&self) -> Vec<usize> {
        self.block
            .iter()
            .enumerate()
            .filter(|(_, b)| **b > 1)
            .map(|(i, _)| i)
            .collect()
    }

    /// Conventional family name, for messages and reports: "mx", "nv" or "block".
    pub fn family(&self) -> &'static str {
        match (self.scale_dtype, self.global) {
            (DType::E8M0, false) => "mx",
            (DType::UE4M3, true) => "nv",
            _ => "block",
        }
    }

    /// Shape of the scale tile/tensor for data of shape `shape` (ceil-divided per dim).
    pub fn scale_shape(&self, shape: &[u32]) -> Vec<u32> {
        shape
            .iter()
            .zip(&self.block)
            .map(|(d, b)| d.div_ceil(*b))
            .collect()
    }
}

/// A global-memory tensor parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorType {
    pub dtype: DType,
    pub dims: Vec<Dim>,
    pub scale: Option<ScaleSpec>,
    /// FP4 only: the axis along which two consecutive elements share a byte (element 2i in the low
    /// nibble). Weights `[N, K]` pack along K (axis 1); the axis is always explicit, never implied.
    pub packed_axis: Option<usize>,
}

/// Layout of a tile's data. `Logical` until a target's `assign-layouts` pass gives every tile of
/// the kernel a physical one (the distributed level; see `layout.rs` and docs/IR.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TileLayout {
    /// No placement yet: the tile IR level.
    #[default]
    Logical,
    /// Held in registers of the CTA's threads, as a linear layout over the padded shape.
    Dist(crate::LinearLayout),
    /// Held in shared memory.
    Shared(crate::SharedLayout),
}

impl TileLayout {
    pub fn is_logical(&self) -> bool {
        matches!(self, TileLayout::Logical)
    }

    pub fn as_dist(&self) -> Option<&crate::LinearLayout> {
        match self {
            TileLayout::Dist(l) => Some(l),
            _ => None,
        }
    }
}

/// A tile: a small dense array held by one program instance. Shapes are compile-time constants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TileType {
    pub dtype: DType,
    pub shape: Vec<u32>,
    /// Present for scaled tiles (loaded from a scaled tensor, or made by `quantize`): the tile then
    /// carries its scale tile (`scale.scale_shape(shape)`) and, for NV, the global scale.
    pub scale: Option<ScaleSpec>,
    pub layout: TileLayout,
}

/// The most elements a tile may have (docs/LANGUAGE.md, "Limits"): the checker refuses larger
/// tiles (E0143) and the interpreter refuses IR that has one (E0611) before allocating anything.
/// Far above what any GPU holds in registers or shared memory (256 x 256 = 65536).
pub const MAX_TILE_ELEMENTS: u64 = 1 << 20;

impl TileType {
    /// The number of elements (saturating: a shape too large for u64 reads u64::MAX).
    pub fn elements(&self) -> u64 {
        self.shape
            .iter()
            .fold(1u64, |n, d| n.saturating_mul(u64::from(*d)))
    }

    pub fn plain(dtype: DType, shape: Vec<u32>) -> TileType {
        TileType {
            dtype,
            shape,
            scale: None,
            layout: TileLayout::Logical,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().map(|d| *d as usize).product()
    }
}

/// The type of an SSA value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    Scalar(DType),
    Tile(TileType),
}

impl Type {
    pub fn dtype(&self) -> DType {
        match self {
            Type::Scalar(d) => *d,
            Type::Tile(t) => t.dtype,
        }
    }

    pub fn as_tile(&self) -> Option<&TileType> {
        match self {
            Type::Tile(t) => Some(t),
            Type::Scalar(_) => None,
        }
    }
}
