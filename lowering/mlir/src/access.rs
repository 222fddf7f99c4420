//! Bounded, masked element addressing of a global tensor: per-dim indices, the mask (tensor edge
//! and view bounds), and a clamped row-major offset so a masked-out lane never forms a wild address.

use crate::LoweringError;
use crate::lower::Lower;
use crate::scalar::mlir_type;
use tessera_ir::{Access, Dim, Index, ParamKind, Span, TensorType};

/// The pointer (`!llvm.ptr<1>`) and the in-bounds predicate (`i1`) of one element.
pub(crate) struct Element {
    pub ptr: String,
    pub mask: String,
    pub elem_ty: &'static str,
}

impl Lower<'_> {
    /// The i32 extent of a tensor dimension.
    pub(crate) fn dim_extent(&mut self, d: &Dim, span: Span) -> Result<String, LoweringError> {
        let sym = |l: &Lower, s: &str| -> Result<String, LoweringError> {
            l.k.syms
                .iter()
                .position(|x| x == s)
                .and_then(|i| l.abi.syms.get(i).cloned())
                .ok_or_else(|| LoweringError::unsupported(format!("unknown symbolic dim `{s}`"), span))
        };
        Ok(match d {
            Dim::Const(c) => self.b.i32(*c as i64),
            Dim::Sym(s) => sym(self, s)?,
            Dim::CeilDiv(s, by) => {
                let v = sym(self, s)?;
                let by = self.b.i32(*by as i64);
                self.b.op("d", format!("arith.ceildivsi {v}, {by} : i32"))
            }
        })
    }

    /// Address and mask of the element of `access` at the given tile offsets (i32 SSA, one per
    /// `Range` index in order; `Point` indices contribute their scalar).
    pub(crate) fn element(
        &mut self,
        access: &Access,
        offsets: &[String],
        span: Span,
    ) -> Result<Element, LoweringError> {
        let param = self
            .k
            .params
            .get(access.tensor.0 as usize)
            .ok_or_else(|| LoweringError::unsupported("access to an unknown parameter", span))?;
        let ParamKind::Tensor { ty, .. } = &param.kind else {
            return Err(LoweringError::unsupported(
                format!("`{}` is not a tensor", param.name),
                span,
            ));
        };
        let ty: TensorType = ty.clone();
        if ty.scale.is_some() {
            return Err(LoweringError::unsupported(
                format!("element access to scaled tensor `{}` in the epilogue", param.name),
                span,
            ));
        }
        let base = self.abi.tensors.get(&access.tensor).cloned().ok_or_else(|| {
            LoweringError::unsupported(format!("tensor `{}` has no pointer", param.name), span)
        })?;
        if self.tma_params.contains(&access.tensor) {
            return Err(LoweringError::unsupported(
                format!(
                    "`{}` is read through TMA in the mainloop and by element elsewhere",
                    param.name
                ),
                span,
            ));
        }
        if access.index.len() != ty.dims.len() || access.bounds.len() != ty.dims.len() {
            return Err(LoweringError::unsupported(
                "access rank differs from the tensor rank",
                span,
            ));
        }
        let elem_ty = mlir_type(ty.dtype, span)?;
        let mut offs = offsets.iter();
        let mut mask: Option<String> = None;
        let mut linear: Option<String> = None;
        for (d, (ix, bound)) in access.index.iter().zip(&access.bounds).enumerate() {
            let idx = match ix {
                Index::Range { start, .. } => {
                    let s = self.scalar(*start, span)?;
                    let o = offs
                        .next()
                        .ok_or_else(|| LoweringError::unsupported("internal: missing tile offset", span))?;
                    self.b.op("ix", format!("arith.addi {s}, {o} : i32"))
                }
                Index::Point(v) => self.scalar(*v, span)?,
                Index::Gather(_) => {
                    return Err(LoweringError::unsupported(
                        "gathered access on sm_90a (not lowered yet)",
                        span,
                    ));
                }
            };
            let extent = self.dim_extent(&ty.dims[d], span)?;
            let hi = match bound.hi {
                Some(h) => {
                    let h = self.scalar(h, span)?;
                    self.b.op("hi", format!("arith.minsi {h}, {extent} : i32"))
                }
                None => extent.clone(),
            };
            let lo = match bound.lo {
                Some(l) => {
                    let l = self.scalar(l, span)?;
                    let z = self.b.i32(0);
                    self.b.op("lo", format!("arith.maxsi {l}, {z} : i32"))
                }
                None => self.b.i32(0),
            };
            let ge = self.b.op("m", format!("arith.cmpi sge, {idx}, {lo} : i32"));
            let lt = self.b.op("m", format!("arith.cmpi slt, {idx}, {hi} : i32"));
            let both = self.b.op("m", format!("arith.andi {ge}, {lt} : i1"));
            mask = Some(match mask {
                Some(m) => self.b.op("m", format!("arith.andi {m}, {both} : i1")),
                None => both,
            });
            // Row-major linear offset in i64 (M*N may exceed 2^31).
            let idx64 = self.b.op("ix", format!("arith.extsi {idx} : i32 to i64"));
            linear = Some(match linear {
                Some(l) => {
                    let e64 = self.b.op("ix", format!("arith.extsi {extent} : i32 to i64"));
                    let sc = self.b.op("ix", format!("arith.muli {l}, {e64} : i64"));
                    self.b.op("ix", format!("arith.addi {sc}, {idx64} : i64"))
                }
                None => idx64,
            });
        }
        let (Some(mask), Some(linear)) = (mask, linear) else {
            return Err(LoweringError::unsupported("access to a rank-0 tensor", span));
        };
        let zero = self.b.i64(0);
        let safe = self
            .b
            .op("ix", format!("arith.select {mask}, {linear}, {zero} : i64"));
        let ptr = self.b.op(
            "ptr",
            format!("llvm.getelementptr {base}[{safe}] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, {elem_ty}"),
        );
        Ok(Element { ptr, mask, elem_ty })
    }

    /// A masked load: the element, or `other` where the mask is off.
    pub(crate) fn masked_load(
        &mut self,
        access: &Access,
        offsets: &[String],
        other: f64,
        span: Span,
    ) -> Result<String, LoweringError> {
        let e = self.element(access, offsets, span)?;
        let dtype = match &self.k.params[access.tensor.0 as usize].kind {
            ParamKind::Tensor { ty, .. } => ty.dtype,
            ParamKind::Scalar(d) => *d,
        };
        let v = self.b.op(
            "ld",
            format!("llvm.load {} : !llvm.ptr<1> -> {}", e.ptr, e.elem_ty),
        );
        let fill = crate::scalar::elementwise(
            &mut self.b,
            &tessera_ir::OpKind::ConstFloat { value: other },
            &[],
            dtype,
            span,
        )?;
        Ok(self.b.op(
            "ld",
            format!("arith.select {}, {v}, {fill} : {}", e.mask, e.elem_ty),
        ))
    }
}
