//! A kernel's typed signature, read from its tile IR: each parameter's name, whether it is a tensor
//! (dtype, dims over symbolic names, `out` or input, scale contract, FP4 packing) or a scalar, and
//! the symbolic dims a launch infers from the argument shapes.

use tessera_ir::{DType, Dim, Kernel, ParamKind, ScaleSpec};

/// One parameter of the signature.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSig {
    pub name: String,
    pub kind: ParamSigKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamSigKind {
    Tensor(TensorSig),
    /// `f32`, `i32`, ... (passed by value).
    Scalar(DType),
}

/// A tensor parameter. Shapes are logical element shapes, row-major (C order); an FP4 tensor is
/// stored two elements per byte along `packed_axis` (element 2i in the low nibble).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSig {
    pub dtype: DType,
    pub dims: Vec<Dim>,
    pub is_out: bool,
    /// Block-scale contract (`mx<...>`, `nv<...>`, blockscaled): the scale dtype, block extents,
    /// the physical layout (`linear` = row-major `ceil(dim / block)` grid; a swizzled layout takes
    /// the flat prepacked buffer, see `tessera_prepack`).
    pub scale: Option<ScaleSpec>,
    /// NVFP4: the scalar parameter that carries the per-tensor f32 scale (`global = ga`).
    pub global_param: Option<String>,
    pub packed_axis: Option<usize>,
}

/// The typed signature of a kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub kernel: String,
    pub params: Vec<ParamSig>,
    /// Symbolic dims, in the kernel's order; a launch infers them from the argument shapes.
    pub dims: Vec<String>,
}

impl Signature {
    pub fn of(k: &Kernel) -> Signature {
        let params = k
            .params
            .iter()
            .map(|p| ParamSig {
                name: p.name.clone(),
                kind: match &p.kind {
                    ParamKind::Tensor { ty, is_out } => ParamSigKind::Tensor(TensorSig {
                        dtype: ty.dtype,
                        dims: ty.dims.clone(),
                        is_out: *is_out,
                        scale: ty.scale.clone(),
                        global_param: k.attr(&format!("global_scale.{}", p.name)).map(str::to_string),
                        packed_axis: ty.packed_axis,
                    }),
                    ParamKind::Scalar(d) => ParamSigKind::Scalar(*d),
                },
            })
            .collect();
        Signature {
            kernel: k.name.clone(),
            params,
            dims: k.syms.clone(),
        }
    }

    pub fn param(&self, name: &str) -> Option<&ParamSig> {
        self.params.iter().find(|p| p.name == name)
    }

    /// `name(x: f32[M, N], alpha: f32, y: out f32[M, N])`, for messages and docs.
    pub fn display(&self) -> String {
        let ps: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.kind {
                ParamSigKind::Scalar(d) => format!("{}: {d}", p.name),
                ParamSigKind::Tensor(t) => {
                    let dims: Vec<String> = t.dims.iter().map(dim_text).collect();
                    let scale = t.scale.as_ref().map_or(String::new(), |s| {
                        format!(
                            " scaled({} blocks {:?}, {})",
                            s.scale_dtype,
                            s.block,
                            s.layout.name()
                        )
                    });
                    format!(
                        "{}: {}{}[{}]{scale}",
                        p.name,
                        if t.is_out { "out " } else { "" },
                        t.dtype,
                        dims.join(", ")
                    )
                }
            })
            .collect();
        format!("{}({})", self.kernel, ps.join(", "))
    }
}

pub(crate) fn dim_text(d: &Dim) -> String {
    match d {
        Dim::Const(c) => c.to_string(),
        Dim::Sym(s) => s.clone(),
        Dim::CeilDiv(s, by) => format!("cdiv({s}, {by})"),
    }
}
