//! DeepSeek-style FP8 block scales on Hopper (no block-scaled MMA): each K tile's wgmmas produce a
//! partial accumulator from zero, which is then promoted into the f32 accumulator in registers:
//! `acc += partial * scale_a[row / ba_m, k / ba_k] * scale_b[col / bb_n, k / bb_k]`.
//! A K tile must lie inside one scale block along K, so one scale per row (and per column) serves
//! the whole tile. Scales are loaded right after the stage's barrier wait, before the wgmmas, so
//! their latency hides behind the MMA.

use crate::LoweringError;
use crate::lower::Lower;
use crate::mainloop::{Geometry, MainloopPlan};
use crate::pattern::{GemmPattern, OperandLoad};
use crate::text::f32_literal;
use crate::wgmma::reg_index;
use std::collections::HashMap;
use tessera_ir::{Dim, ParamKind, Span};

/// How one operand's scales are laid out relative to the CTA tile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OperandScale {
    /// Block extent along the operand's rows (M for A, N for B) and along K.
    pub block_rows: u32,
    pub block_k: u32,
    /// The whole tile's rows fall in one scale block (row start a multiple of the tile, block a
    /// multiple of the tile): one scale per K tile instead of one per fragment row/column.
    pub uniform: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockScalePlan {
    pub a: Option<OperandScale>,
    pub b: Option<OperandScale>,
}

fn operand(
    op: &OperandLoad,
    lo: Option<i64>,
    step: Option<i64>,
    span: Span,
) -> Result<Option<OperandScale>, LoweringError> {
    let Some(spec) = op
        .scale
        .as_ref()
        .filter(|s| s.scale_dtype == tessera_ir::DType::F32)
    else {
        // MX/NV scales are fused.rs's job.
        return Ok(None);
    };
    let (br, bk) = (spec.block[0], spec.block[1]);
    // k0 = lo + i * BK must stay inside one block of bk: BK | bk and bk | lo, step == BK.
    let aligned = matches!((lo, step), (Some(l), Some(s)) if s == op.bk as i64 && l % bk as i64 == 0);
    if bk % op.bk != 0 || !aligned {
        return Err(LoweringError::unsupported(
            format!(
                "f32 block scales with K block {bk}: the K loop must start at a multiple of {bk} and step by BK = {}, and BK must divide {bk}",
                op.bk
            ),
            span,
        ));
    }
    let uniform = br % op.rows == 0 && op.row_start_multiple.is_some_and(|m| m % op.rows as i64 == 0);
    Ok(Some(OperandScale {
        block_rows: br,
        block_k: bk,
        uniform,
    }))
}

pub(crate) fn plan(pat: &GemmPattern) -> Result<Option<BlockScalePlan>, LoweringError> {
    let span = pat.loop_op.span;
    let a = operand(&pat.a, pat.lo_const, pat.step_const, span)?;
    let b = operand(&pat.b, pat.lo_const, pat.step_const, span)?;
    Ok(if a.is_none() && b.is_none() {
        None
    } else {
        Some(BlockScalePlan { a, b })
    })
}

/// The per-element factors of one K tile: `factor(h, j, e)` multiplies register `reg_index(h, j, e)`.
pub(crate) struct TileFactors {
    rows: [Option<String>; 2],
    cols: HashMap<(u32, u32), String>,
    uniform_col: Option<String>,
}

impl TileFactors {
    /// Factors from per-fragment-row (`rows[h]`) and per-fragment-column (`cols[(j, e)]`) values.
    pub(crate) fn new(rows: [Option<String>; 2], cols: HashMap<(u32, u32), String>) -> TileFactors {
        TileFactors {
            rows,
            cols,
            uniform_col: None,
        }
    }

    /// Factors of 1: plain promotion (`acc += partial`, exact as an fma with 1.0).
    pub(crate) fn unit() -> TileFactors {
        TileFactors {
            rows: [None, None],
            cols: HashMap::new(),
            uniform_col: None,
        }
    }
}

impl Lower<'_> {
    /// One f32 scale: `scale[row / block_rows, kb]` of operand `op`, 1.0 outside the scale tensor.
    fn scale_at(
        &mut self,
        op: &OperandLoad,
        s: &OperandScale,
        row: &str,
        kb: &str,
        span: Span,
    ) -> Result<String, LoweringError> {
        let ptr =
            self.abi.scales.get(&op.tensor).cloned().ok_or_else(|| {
                LoweringError::unsupported("internal: scale buffer missing from the ABI", span)
            })?;
        let ParamKind::Tensor { ty, .. } = &self.k.params[op.tensor.0 as usize].kind else {
            return Err(LoweringError::unsupported(
                "internal: scaled operand is not a tensor",
                span,
            ));
        };
        let dims: Vec<Dim> = ty.dims.clone();
        let rows_ext = self.dim_extent(&dims[0], span)?;
        let k_ext = self.dim_extent(&dims[1], span)?;
        let b = &mut self.b;
        let br = b.i32(s.block_rows as i64);
        let bk = b.i32(s.block_k as i64);
        let sr_ext = b.op("sc", format!("arith.ceildivsi {rows_ext}, {br} : i32"));
        let sk_ext = b.op("sc", format!("arith.ceildivsi {k_ext}, {bk} : i32"));
        let rb = b.op("sc", format!("arith.divsi {row}, {br} : i32"));
        let zero = b.i32(0);
        let m0 = b.op("sc", format!("arith.cmpi sge, {rb}, {zero} : i32"));
        let m1 = b.op("sc", format!("arith.cmpi slt, {rb}, {sr_ext} : i32"));
        let m2 = b.op("sc", format!("arith.cmpi slt, {kb}, {sk_ext} : i32"));
        let m01 = b.op("sc", format!("arith.andi {m0}, {m1} : i1"));
        let mask = b.op("sc", format!("arith.andi {m01}, {m2} : i1"));
        let rb64 = b.op("sc", format!("arith.extsi {rb} : i32 to i64"));
        let kb64 = b.op("sc", format!("arith.extsi {kb} : i32 to i64"));
        let ext64 = b.op("sc", format!("arith.extsi {sk_ext} : i32 to i64"));
        let lin0 = b.op("sc", format!("arith.muli {rb64}, {ext64} : i64"));
        let lin = b.op("sc", format!("arith.addi {lin0}, {kb64} : i64"));
        let z64 = b.i64(0);
        let safe = b.op("sc", format!("arith.select {mask}, {lin}, {z64} : i64"));
        let p = b.op(
            "sc",
            format!("llvm.getelementptr {ptr}[{safe}] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, f32"),
        );
        let v = b.op("sc", format!("llvm.load {p} : !llvm.ptr<1> -> f32"));
        let one = b.cst(f32_literal(1.0), "f32");
        Ok(b.op("sc", format!("arith.select {mask}, {v}, {one} : f32")))
    }

    /// Load the scales the K tile whose induction value is `iv` needs (emitted inside the K loop).
    pub(crate) fn tile_scales(
        &mut self,
        pat: &GemmPattern,
        plan: &MainloopPlan,
        bs: &BlockScalePlan,
        geo: &Geometry,
        iv: &str,
    ) -> Result<TileFactors, LoweringError> {
        let span = pat.loop_op.span;
        let iv = iv.to_string();
        let mut memo = HashMap::new();
        let mut out = TileFactors {
            rows: [None, None],
            cols: HashMap::new(),
            uniform_col: None,
        };
        if let Some(s) = &bs.a {
            let k0 = self.loop_scalar(pat, pat.a.k_start, &iv, &mut memo)?;
            let bk = self.b.i32(s.block_k as i64);
            let kb = self.b.op("kb", format!("arith.divsi {k0}, {bk} : i32"));
            let r0 = self.loop_scalar(pat, pat.a.row_start, &iv, &mut memo)?;
            if s.uniform {
                let v = self.scale_at(&pat.a, s, &r0, &kb, span)?;
                out.rows = [Some(v.clone()), Some(v)];
            } else {
                for h in 0..2 {
                    let row = self.b.op("sr", format!("arith.addi {r0}, {} : i32", geo.rows[h]));
                    out.rows[h] = Some(self.scale_at(&pat.a, s, &row, &kb, span)?);
                }
            }
        }
        if let Some(s) = &bs.b {
            let k0 = self.loop_scalar(pat, pat.b.k_start, &iv, &mut memo)?;
            let bk = self.b.i32(s.block_k as i64);
            let kb = self.b.op("kb", format!("arith.divsi {k0}, {bk} : i32"));
            let n0 = self.loop_scalar(pat, pat.b.row_start, &iv, &mut memo)?;
            if s.uniform {
                out.uniform_col = Some(self.scale_at(&pat.b, s, &n0, &kb, span)?);
            } else {
                let base = self
                    .b
                    .op("sn", format!("arith.addi {n0}, {} : i32", geo.col_base));
                for j in 0..plan.bn / 8 {
                    for e in 0..2 {
                        let off = self.b.i32((8 * j + e) as i64);
                        let col = self.b.op("sn", format!("arith.addi {base}, {off} : i32"));
                        let v = self.scale_at(&pat.b, s, &col, &kb, span)?;
                        out.cols.insert((j, e), v);
                    }
                }
            }
        }
        Ok(out)
    }

    /// `acc + partial * factor`, element by element (one fma per register).
    pub(crate) fn promote(
        &mut self,
        plan: &MainloopPlan,
        f: &TileFactors,
        partial: &str,
        acc: &str,
    ) -> String {
        let b = &mut self.b;
        let mut cur = acc.to_string();
        let mut products: HashMap<(u32, u32, u32), String> = HashMap::new();
        for j in 0..plan.bn / 8 {
            for h in 0..2 {
                for e in 0..2 {
                    let col = f.uniform_col.as_ref().or_else(|| f.cols.get(&(j, e)));
                    let factor = match (&f.rows[h as usize], col) {
                        (Some(r), Some(c)) => {
                            // The product depends on (h, j, e) only through the operands present.
                            let key = (
                                h,
                                if f.uniform_col.is_some() { 0 } else { j },
                                if f.uniform_col.is_some() { 0 } else { e },
                            );
                            if let Some(p) = products.get(&key) {
                                p.clone()
                            } else {
                                let p = b.op("fac", format!("arith.mulf {r}, {c} : f32"));
                                products.insert(key, p.clone());
                                p
                            }
                        }
                        (Some(r), None) => r.clone(),
                        (None, Some(c)) => c.clone(),
                        (None, None) => b.cst(f32_literal(1.0), "f32"),
                    };
                    let i = reg_index(h, j, e);
                    let p = b.op("pp", format!("llvm.extractvalue {partial}[{i}] : !acc"));
                    let a = b.op("pa", format!("llvm.extractvalue {cur}[{i}] : !acc"));
                    let r = b.op(
                        "pr",
                        format!("llvm.intr.fma({p}, {factor}, {a}) : (f32, f32, f32) -> f32"),
                    );
                    cur = b.op("acc", format!("llvm.insertvalue {r}, {cur}[{i}] : !acc"));
                }
            }
        }
        cur
    }
}
