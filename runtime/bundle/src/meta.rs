//! `meta.json`: the launch contract between a compiler build and the runtimes.

use serde::{Deserialize, Serialize};
use tessera_ir::DimExpr;

pub const BUNDLE_FORMAT_VERSION: u32 = 1;

/// Which buffer of a (possibly scaled) tensor parameter an ABI slot refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorPart {
    Data,
    Scale,
}

/// A TMA tensor map the runtime must encode on the host (`cuTensorMapEncodeTiled`), place in device
/// memory (64-byte aligned) and pass by pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmaSpec {
    /// Element type as the copy engine sees it ("u8" for fp8/fp4 codes and e8m0, "u16" for bf16/f16, "f32").
    pub elem: String,
    /// Box (tile) extent per dim, innermost first (TMA order).
    pub box_dims: Vec<u32>,
    /// Swizzle in bytes: 0 (none), 32, 64 or 128.
    pub swizzle: u32,
}

/// One kernel parameter slot, in the exact order of the entry point's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AbiArg {
    /// Device pointer to a tensor parameter's buffer (row-major, device storage format).
    Ptr { param: String, part: TensorPart },
    /// Device pointer to a 128-byte CUtensorMap describing the tensor parameter's buffer.
    TensorMap {
        param: String,
        part: TensorPart,
        tma: TmaSpec,
        /// The kernel also gets the buffer's pointer and copies another way where TMA cannot
        /// describe the buffer (a row pitch not a multiple of 16 bytes, an address not 16-byte
        /// aligned): the runtime then passes a null pointer instead of failing the launch.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        or_null: bool,
    },
    /// The value of a symbolic dim, as i32.
    SymI32 { sym: String },
    /// A scalar parameter, as i32.
    ScalarI32 { param: String },
    /// A scalar parameter, as f32 (also the NV per-tensor global scale of a tensor: `part`-less).
    ScalarF32 { param: String },
    /// The per-tensor f32 global scale of an NV-scaled tensor parameter.
    GlobalScaleF32 { param: String },
}

/// Contents of `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    pub format_version: u32,
    /// Kernel name in the source.
    pub kernel: String,
    /// Symbol of the device entry point.
    pub entry: String,
    /// Target name, e.g. "sm_90a", "sm_100a", "sm_120a", "gfx950".
    pub target: String,
    /// Source file name and SHA-256 of its bytes.
    pub source_file: String,
    pub source_sha256: String,
    /// Chosen tile-parameter values.
    pub tiles: Vec<(String, i64)>,
    /// Launch grid over symbolic dims (up to 3 entries).
    pub grid: Vec<DimExpr>,
    /// Threads per block (x, y, z).
    pub block: [u32; 3],
    /// Dynamic shared memory bytes to request at launch.
    pub dynamic_shared_bytes: u32,
    /// Parameter ABI of the entry point.
    pub abi: Vec<AbiArg>,
    /// Files in the bundle directory, by role.
    pub ptx: Option<String>,
    pub cubin: Option<String>,
    pub hsaco: Option<String>,
    /// File name of the checked tile IR text (parseable by `tessera_ir`'s text parser), normally `kernel.tir`.
    pub tile_ir: String,
    /// Width in bits of the kernel's element offsets: 64, or 32 for code that computes offsets in
    /// 32 bits (the native block-scaled targets; before session 12 also the sm_90a attention
    /// schedule). A launch
    /// where any tensor has more elements than such offsets reach is refused (E0866) instead of
    /// wrapping. Bundles written before this field existed read as 32: the safe assumption.
    #[serde(default = "index_bits_unknown")]
    pub index_bits: u32,
}

fn index_bits_unknown() -> u32 {
    32
}
