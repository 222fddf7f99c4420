//! The epilogue: the IR's elementwise ops after the mainloop (scalar and per-row/per-column scales,
//! casts, selects, ...) evaluated per accumulator-fragment element in registers, then masked stores
//! of `[BM, BN]` tiles. Tile values are evaluated lazily at symbolic coordinates (which fragment row,
//! which fragment column), so a per-row scale vector is loaded once per distinct row, not per element.

use crate::LoweringError;
use crate::lower::Lower;
use crate::mainloop::{Geometry, MainloopPlan};
use crate::pattern::GemmPattern;
use crate::scalar;
use crate::wgmma::reg_index;
use std::collections::HashMap;
use tessera_ir::{Index, Op, OpKind, ParamKind, Span, Type, ValueId};

/// Where one tile coordinate of a fragment element comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ix {
    /// Accumulator row half `h` (tile-local row `Geometry::rows[h]`).
    Row(u32),
    /// Column group `j`, parity `e`: tile-local column 8j + 2(t%4) + e.
    Col(u32, u32),
    /// Coordinate 0 (a size-1 dim being broadcast).
    Zero,
}

struct Eval<'a, 'p> {
    pat: &'a GemmPattern<'p>,
    geo: &'a Geometry,
    defs: HashMap<ValueId, &'p Op>,
    acc: String,
    memo: HashMap<(ValueId, Vec<Ix>), String>,
    cols: HashMap<(u32, u32), String>,
}

impl Eval<'_, '_> {
    fn coord(&mut self, lw: &mut Lower, ix: Ix) -> String {
        match ix {
            Ix::Row(h) => self.geo.rows[h as usize].clone(),
            Ix::Zero => lw.b.i32(0),
            Ix::Col(j, e) => {
                if let Some(c) = self.cols.get(&(j, e)) {
                    return c.clone();
                }
                let off = lw.b.i32((8 * j + e) as i64);
                let c =
                    lw.b.op("col", format!("arith.addi {}, {off} : i32", self.geo.col_base));
                self.cols.insert((j, e), c.clone());
                c
            }
        }
    }

    fn eval(&mut self, lw: &mut Lower, v: ValueId, at: &[Ix], span: Span) -> Result<String, LoweringError> {
        if let Some(s) = lw.scalars.get(&v) {
            return Ok(s.clone());
        }
        let key = (v, at.to_vec());
        if let Some(s) = self.memo.get(&key) {
            return Ok(s.clone());
        }
        let r = self.eval_uncached(lw, v, at, span)?;
        self.memo.insert(key, r.clone());
        Ok(r)
    }

    fn eval_uncached(
        &mut self,
        lw: &mut Lower,
        v: ValueId,
        at: &[Ix],
        span: Span,
    ) -> Result<String, LoweringError> {
        if v == self.pat.acc {
            let [Ix::Row(h), Ix::Col(j, e)] = at else {
                return Err(LoweringError::unsupported(
                    "the accumulator is used other than elementwise over its own [BM, BN] tile",
                    span,
                ));
            };
            let i = reg_index(*h, *j, *e);
            return Ok(lw
                .b
                .op("a", format!("llvm.extractvalue {}[{i}] : !acc", self.acc)));
        }
        let op = self.defs.get(&v).copied().ok_or_else(|| {
            LoweringError::unsupported(format!("value %{} is not available in the epilogue", v.0), span)
        })?;
        let out_ty = lw.k.ty(v).clone();
        let out = out_ty.dtype();
        match &op.kind {
            OpKind::Full { .. } => scalar::elementwise(&mut lw.b, &op.kind, &[], out, op.span),
            OpKind::Arange { .. } => {
                let ix = at.first().copied().unwrap_or(Ix::Zero);
                Ok(self.coord(lw, ix))
            }
            OpKind::Broadcast { x } => match lw.k.ty(*x).clone() {
                Type::Scalar(_) => self.eval(lw, *x, &[], op.span),
                Type::Tile(xt) => {
                    let Type::Tile(ot) = &out_ty else {
                        return Err(LoweringError::unsupported("broadcast to a scalar", op.span));
                    };
                    if xt.shape.len() != ot.shape.len() || at.len() != ot.shape.len() {
                        return Err(LoweringError::unsupported(
                            "rank-changing broadcast in the epilogue",
                            op.span,
                        ));
                    }
                    let inner: Vec<Ix> = at
                        .iter()
                        .zip(xt.shape.iter().zip(&ot.shape))
                        .map(|(ix, (xs, os))| if *xs == 1 && *os != 1 { Ix::Zero } else { *ix })
                        .collect();
                    self.eval(lw, *x, &inner, op.span)
                }
            },
            OpKind::ExpandDims { x, axis } => {
                let mut inner = at.to_vec();
                if (*axis as usize) < inner.len() {
                    inner.remove(*axis as usize);
                }
                self.eval(lw, *x, &inner, op.span)
            }
            OpKind::Transpose { x } => {
                let inner: Vec<Ix> = at.iter().rev().copied().collect();
                self.eval(lw, *x, &inner, op.span)
            }
            OpKind::Binary { .. }
            | OpKind::Unary { .. }
            | OpKind::Cmp { .. }
            | OpKind::Select { .. }
            | OpKind::Cast { .. } => {
                let mut args = Vec::new();
                for a in op.kind.operands() {
                    let s = self.eval(lw, a, at, op.span)?;
                    args.push((s, lw.k.ty(a).dtype()));
                }
                scalar::elementwise(&mut lw.b, &op.kind, &args, out, op.span)
            }
            OpKind::Load { access, other } => {
                let ranges = access
                    .index
                    .iter()
                    .filter(|i| matches!(i, Index::Range { .. }))
                    .count();
                if ranges != at.len() {
                    return Err(LoweringError::unsupported(
                        "load tile rank differs from its use",
                        op.span,
                    ));
                }
                let mut offs = Vec::new();
                for ix in at {
                    offs.push(self.coord(lw, *ix));
                }
                lw.masked_load(access, &offs, *other, op.span)
            }
            other => Err(LoweringError::unsupported(
                format!(
                    "`{}` in the epilogue of a wgmma mainloop (not lowered yet)",
                    other.mnemonic()
                ),
                op.span,
            )),
        }
    }
}

/// Emit every top-level store: evaluate its value on this thread's fragment elements, then store
/// those inside the tensor (and view bounds).
pub(crate) fn emit(
    lw: &mut Lower,
    pat: &GemmPattern,
    plan: &MainloopPlan,
    geo: &Geometry,
    acc: &str,
) -> Result<(), LoweringError> {
    let mut defs = HashMap::new();
    for op in &pat.top {
        for r in &op.results {
            defs.insert(*r, *op);
        }
    }
    let mut ev = Eval {
        pat,
        geo,
        defs,
        acc: acc.to_string(),
        memo: HashMap::new(),
        cols: HashMap::new(),
    };
    let stores: Vec<&Op> = pat
        .top
        .iter()
        .copied()
        .filter(|o| matches!(o.kind, OpKind::Store { .. }))
        .collect();
    if stores.is_empty() {
        return Err(LoweringError::unsupported(
            "a GEMM kernel with no store of its result",
            pat.loop_op.span,
        ));
    }
    for op in stores {
        let OpKind::Store { access, value } = &op.kind else {
            continue;
        };
        let shape_ok = matches!(lw.k.ty(*value), Type::Tile(t) if t.shape == [plan.bm, plan.bn]);
        let index_ok = matches!(
            access.index.as_slice(),
            [Index::Range { size: r, .. }, Index::Range { size: c, .. }] if *r == plan.bm && *c == plan.bn
        );
        if !shape_ok || !index_ok {
            return Err(LoweringError::unsupported(
                format!(
                    "a store other than a [{}, {}] tile `c[m .. +BM, n .. +BN]` after the mainloop",
                    plan.bm, plan.bn
                ),
                op.span,
            ));
        }
        let dtype = match &lw.k.params.get(access.tensor.0 as usize).map(|p| &p.kind) {
            Some(ParamKind::Tensor { ty, .. }) => ty.dtype,
            _ => return Err(LoweringError::unsupported("store to a non-tensor", op.span)),
        };
        let elem_ty = scalar::mlir_type(dtype, op.span)?;
        // Values first (loads of scales can then be scheduled freely), stores after.
        let mut vals = Vec::new();
        for j in 0..plan.bn / 8 {
            for h in 0..2 {
                for e in 0..2 {
                    let at = [Ix::Row(h), Ix::Col(j, e)];
                    let v = ev.eval(lw, *value, &at, op.span)?;
                    vals.push((at, v));
                }
            }
        }
        for (at, v) in vals {
            let offs = [ev.coord(lw, at[0]), ev.coord(lw, at[1])];
            let el = lw.element(access, &offs, op.span)?;
            if el.elem_ty != elem_ty {
                return Err(LoweringError::unsupported("store element type mismatch", op.span));
            }
            lw.b.open(format!("scf.if {}", el.mask));
            lw.b.line(format!("llvm.store {v}, {} : {elem_ty}, !llvm.ptr<1>", el.ptr));
            lw.b.close("");
        }
    }
    Ok(())
}
