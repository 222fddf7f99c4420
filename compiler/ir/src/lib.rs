//! Tessera's typed tile IR: the contract between the front end (`tessera-check`), the passes, the
//! reference interpreter and the lowerings. Plain data: no MLIR, no LLVM, no GPU.
//!
//! - [`DType`], [`Type`], [`TileType`], [`TensorType`], [`ScaleSpec`]: types, with block-scale
//!   contracts and layouts inside the type.
//! - [`Op`], [`OpKind`], [`Block`]: SSA ops with structured control flow; tensors are only reached
//!   through bounded, masked accesses.
//! - [`Kernel`], [`Module`]: what a source file compiles to.
//! - [`reference`]: the families and options of `@reference(...)`, shared by the checker and the
//!   validation oracle.

mod builder;
mod dtype;
mod kernel;
mod layout;
mod ops;
mod parse;
mod print;
pub mod reference;
pub mod samples;
mod span;
mod types;
mod verify;

pub use builder::KernelBuilder;
pub use dtype::DType;
pub use kernel::{Cta, DimExpr, Kernel, Module, Param, ParamKind, TileParam, ceil_div, floor_div};
pub use layout::{HwDim, LinearLayout, SharedLayout, erase_layouts, padded_extent};
pub use ops::{
    Access, BinOp, Block, Bound, CmpPred, Index, Op, OpKind, ParamId, ReduceKind, UnOp, ValueId, ValueInfo,
};
pub use parse::{IrParseError, parse_module};
pub use print::{print_kernel, print_module, tensor_type_to_string, type_to_string};
pub use span::Span;
pub use types::{Dim, MAX_TILE_ELEMENTS, ScaleLayout, ScaleSpec, TensorType, TileLayout, TileType, Type};
pub use verify::{VerifyError, verify_kernel, verify_module};
