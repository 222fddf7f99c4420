//! A kernel (parameters, symbolic dims, tile parameters, grid, body) and a module (the kernels of one
//! source file).

use crate::{Block, DType, Span, TensorType, Type, ValueId, ValueInfo};
use serde::{Deserialize, Serialize};

/// Integer expression over symbolic dims, used for the launch grid (`grid(cdiv(M, BM), ...)`).
/// Tile parameters are already substituted by their chosen values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DimExpr {
    Const(i64),
    Sym(String),
    Add(Box<DimExpr>, Box<DimExpr>),
    Sub(Box<DimExpr>, Box<DimExpr>),
    Mul(Box<DimExpr>, Box<DimExpr>),
    FloorDiv(Box<DimExpr>, Box<DimExpr>),
    CeilDiv(Box<DimExpr>, Box<DimExpr>),
    Max(Box<DimExpr>, Box<DimExpr>),
    Min(Box<DimExpr>, Box<DimExpr>),
}

impl DimExpr {
    /// Evaluate with the symbol values given by `lookup`; `None` if a symbol is unbound or a division
    /// by zero occurs.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
        let bin = |a: &DimExpr, b: &DimExpr| Some((a.eval(lookup)?, b.eval(lookup)?));
        Some(match self {
            DimExpr::Const(c) => *c,
            DimExpr::Sym(s) => lookup(s)?,
            DimExpr::Add(a, b) => {
                let (a, b) = bin(a, b)?;
                a.checked_add(b)?
            }
            DimExpr::Sub(a, b) => {
                let (a, b) = bin(a, b)?;
                a.checked_sub(b)?
            }
            DimExpr::Mul(a, b) => {
                let (a, b) = bin(a, b)?;
                a.checked_mul(b)?
            }
            DimExpr::FloorDiv(a, b) => {
                let (a, b) = bin(a, b)?;
                floor_div(a, b)?
            }
            DimExpr::CeilDiv(a, b) => {
                let (a, b) = bin(a, b)?;
                ceil_div(a, b)?
            }
            DimExpr::Max(a, b) => {
                let (a, b) = bin(a, b)?;
                a.max(b)
            }
            DimExpr::Min(a, b) => {
                let (a, b) = bin(a, b)?;
                a.min(b)
            }
        })
    }
}

/// `floor(a / b)` for every sign (`div_euclid` is the floor only for `b > 0`); `None` for a zero
/// divisor or an overflow.
pub fn floor_div(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    // The truncating quotient rounded toward zero; it is one too high when the exact quotient is
    // negative and inexact (remainder and divisor of opposite signs).
    if a % b != 0 && ((a % b < 0) != (b < 0)) {
        Some(q - 1)
    } else {
        Some(q)
    }
}

/// `ceil(a / b)` for every sign; `None` for a zero divisor or an overflow. The textbook
/// `(a + b - 1) / b` holds only for `a >= 0 < b` (and overflows near `i64::MAX`).
pub fn ceil_div(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    // One too low when the exact quotient is positive and inexact (remainder and divisor of the
    // same sign).
    if a % b != 0 && ((a % b > 0) == (b > 0)) {
        Some(q + 1)
    } else {
        Some(q)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ParamKind {
    /// A global-memory tensor; `is_out` marks it writable (stores/atomics only into `out` params).
    Tensor { ty: TensorType, is_out: bool },
    /// A scalar passed by value; it is the body's block argument `Kernel::body.args[i]` in the order
    /// scalar params appear.
    Scalar(DType),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub span: Span,
}

/// A compile-time tile parameter: its chosen value (already folded into the body) and the tuning
/// candidates the author listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileParam {
    pub name: String,
    pub value: i64,
    pub candidates: Vec<i64>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kernel {
    pub name: String,
    pub span: Span,
    pub params: Vec<Param>,
    /// Symbolic dims, in first-appearance order over the parameter list.
    pub syms: Vec<String>,
    pub tiles: Vec<TileParam>,
    /// Launch grid, up to 3 dims (missing dims are 1).
    pub grid: Vec<DimExpr>,
    /// Body; its args are the scalar parameters in declaration order.
    pub body: Block,
    /// Arena of SSA values; `ValueId(i)` indexes it.
    pub values: Vec<ValueInfo>,
    /// Source attributes such as `@reference(gemm)` → `("reference", "gemm")`, in source order.
    #[serde(default)]
    pub attrs: Vec<(String, String)>,
    /// The thread block of the distributed level: set by `assign-layouts`, together with a
    /// physical layout on every tile; `None` at the tile-IR level.
    #[serde(default)]
    pub cta: Option<Cta>,
}

/// The thread-block shape the distributed level was laid out for (powers of two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cta {
    /// log2 of the threads per warp (5 on NVIDIA, 6 for a 64-wide AMD wave).
    pub lane_bits: u32,
    /// log2 of the warps per CTA.
    pub warp_bits: u32,
}

impl Cta {
    pub fn threads(&self) -> u32 {
        1 << (self.lane_bits + self.warp_bits)
    }
}

impl Kernel {
    pub fn value(&self, v: ValueId) -> &ValueInfo {
        &self.values[v.0 as usize]
    }

    pub fn ty(&self, v: ValueId) -> &Type {
        &self.values[v.0 as usize].ty
    }

    /// Add a value to the arena.
    pub fn new_value(&mut self, ty: Type, name: Option<String>) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(ValueInfo { ty, name });
        id
    }

    pub fn param(&self, p: crate::ParamId) -> &Param {
        &self.params[p.0 as usize]
    }

    /// The value of attribute `key` (e.g. `attr("reference") == Some("gemm")`).
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// The kernels of one source file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    /// Name of the source file (for messages and reproducers).
    pub source_name: String,
    pub kernels: Vec<Kernel>,
}
