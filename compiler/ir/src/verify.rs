//! Structural and type verifier of the tile IR. A failure is always a compiler bug (the checker or a
//! pass produced bad IR), so errors are precise internal errors: kernel, op path, mnemonic, what is
//! wrong. Rules: SSA (each value defined once, defined before use, visible only in its block and
//! the blocks nested in it), operand and result types per op, identical types for elementwise ops,
//! dot shapes `[M,K] x [K,N] + [M,N]`, scaled dot operands agreeing on their K block, access rank = tensor
//! rank, positive range sizes, stores only into `out` params, `yield` arity/types match the parent,
//! `for` body arguments `[iv: i32, carried...]`.

use crate::{
    Access, BinOp, Block, DType, Dim, DimExpr, Index, Kernel, Module, Op, OpKind, ParamKind, ScaleSpec,
    TensorType, TileType, Type, UnOp, ValueId, type_to_string,
};
use std::fmt;

/// Where a verifier error is: `op 3 > body > op 1` means the second op of the body of the fourth op.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct VerifyError {
    pub kernel: String,
    /// Op path from the kernel body, e.g. `["op 3", "body", "op 1"]`; empty for kernel-level errors.
    pub path: Vec<String>,
    /// Mnemonic of the offending op (`"kernel"` for signature errors).
    pub op: &'static str,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "signature".to_string()
        } else {
            self.path.join(" > ")
        };
        write!(
            f,
            "IR verifier: kernel `{}`, {} (`{}`): {}",
            self.kernel, path, self.op, self.message
        )
    }
}

/// Verify every kernel of a module; the first error is returned.
pub fn verify_module(m: &Module) -> Result<(), VerifyError> {
    m.kernels.iter().try_for_each(verify_kernel)
}

/// Verify one kernel.
pub fn verify_kernel(k: &Kernel) -> Result<(), VerifyError> {
    let mut v = V {
        k,
        path: Vec::new(),
        op: "kernel",
        defined: vec![false; k.values.len()],
        scope: Vec::new(),
    };
    v.signature()?;
    v.tile_layouts()?;
    v.block(&k.body, None)
}

/// `t` with its layout erased: the tile-IR type that layouts refine.
fn logical(t: &Type) -> Type {
    match t {
        Type::Tile(tt) => Type::Tile(TileType {
            layout: crate::TileLayout::Logical,
            ..tt.clone()
        }),
        s => s.clone(),
    }
}

type R = Result<(), VerifyError>;

struct V<'a> {
    k: &'a Kernel,
    path: Vec<String>,
    op: &'static str,
    /// Defined anywhere so far (each value once).
    defined: Vec<bool>,
    /// Values visible at the current point, innermost block last.
    scope: Vec<Vec<ValueId>>,
}

fn shape_str(t: &Type) -> String {
    type_to_string(t)
}

impl<'a> V<'a> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, VerifyError> {
        Err(VerifyError {
            kernel: self.k.name.clone(),
            path: self.path.clone(),
            op: self.op,
            message: message.into(),
        })
    }

    fn signature(&mut self) -> R {
        let k = self.k;
        for (i, p) in k.params.iter().enumerate() {
            if k.params[..i].iter().any(|q| q.name == p.name) {
                return self.fail(format!("parameter `{}` is declared twice", p.name));
            }
            if let ParamKind::Tensor { ty, .. } = &p.kind {
                self.tensor_type(&p.name, ty)?;
            }
        }
        let scalars: Vec<DType> = k
            .params
            .iter()
            .filter_map(|p| match p.kind {
                ParamKind::Scalar(d) => Some(d),
                ParamKind::Tensor { .. } => None,
            })
            .collect();
        if scalars.len() != k.body.args.len() {
            return self.fail(format!(
                "{} scalar parameters but the body has {} arguments",
                scalars.len(),
                k.body.args.len()
            ));
        }
        for (d, a) in scalars.iter().zip(&k.body.args) {
            let t = self.ty(*a)?;
            if *t != Type::Scalar(*d) {
                return self.fail(format!(
                    "body argument %{} has type {} but its parameter is {d}",
                    a.0,
                    shape_str(t)
                ));
            }
        }
        if k.grid.is_empty() || k.grid.len() > 3 {
            return self.fail(format!("grid has {} dims; 1 to 3 expected", k.grid.len()));
        }
        for g in &k.grid {
            self.dim_expr(g)?;
        }
        Ok(())
    }

    fn dim_expr(&self, e: &DimExpr) -> R {
        match e {
            DimExpr::Const(_) => Ok(()),
            DimExpr::Sym(s) => self.sym_known(s),
            DimExpr::Add(a, b)
            | DimExpr::Sub(a, b)
            | DimExpr::Mul(a, b)
            | DimExpr::FloorDiv(a, b)
            | DimExpr::CeilDiv(a, b)
            | DimExpr::Max(a, b)
            | DimExpr::Min(a, b) => {
                self.dim_expr(a)?;
                self.dim_expr(b)
            }
        }
    }

    fn sym_known(&self, s: &str) -> R {
        if self.k.syms.iter().any(|x| x == s) {
            Ok(())
        } else {
            self.fail(format!("symbolic dim `{s}` is not in syms"))
        }
    }

    fn tensor_type(&self, name: &str, t: &TensorType) -> R {
        for d in &t.dims {
            match d {
                Dim::Sym(s) | Dim::CeilDiv(s, _) => self.sym_known(s)?,
                Dim::Const(_) => {}
            }
            if let Dim::CeilDiv(_, 0) = d {
                return self.fail(format!("`{name}`: ceil-div by zero in a dim"));
            }
        }
        if let Some(s) = &t.scale {
            self.scale_spec(name, s, t.dims.len())?;
        }
        match (t.dtype, t.packed_axis) {
            (DType::F4E2M1, Some(ax)) if ax < t.dims.len() => {}
            (DType::F4E2M1, _) => {
                return self.fail(format!(
                    "`{name}`: f4e2m1 tensor needs an explicit packed axis < rank"
                ));
            }
            (_, Some(_)) => return self.fail(format!("`{name}`: only f4e2m1 tensors have a packed axis")),
            (_, None) => {}
        }
        Ok(())
    }

    fn scale_spec(&self, what: &str, s: &ScaleSpec, rank: usize) -> R {
        if !s.scale_dtype.is_scale_format() {
            return self.fail(format!("`{what}`: {} is not a scale format", s.scale_dtype));
        }
        if s.block.len() != rank {
            return self.fail(format!(
                "`{what}`: scale block has {} extents for rank {rank}",
                s.block.len()
            ));
        }
        if s.block.contains(&0) {
            return self.fail(format!("`{what}`: scale block extent 0"));
        }
        Ok(())
    }

    fn ty(&self, v: ValueId) -> Result<&'a Type, VerifyError> {
        match self.k.values.get(v.0 as usize) {
            Some(i) => Ok(&i.ty),
            None => self.fail(format!(
                "value %{} is not in the value arena ({} values)",
                v.0,
                self.k.values.len()
            )),
        }
    }

    fn tile(&self, v: ValueId, what: &str) -> Result<&'a TileType, VerifyError> {
        match self.ty(v)? {
            Type::Tile(t) => Ok(t),
            t => self.fail(format!("{what} %{} must be a tile, found {}", v.0, shape_str(t))),
        }
    }

    fn scalar(&self, v: ValueId, d: DType, what: &str) -> R {
        let t = self.ty(v)?;
        if *t != Type::Scalar(d) {
            return self.fail(format!(
                "{what} %{} must be a scalar {d}, found {}",
                v.0,
                shape_str(t)
            ));
        }
        Ok(())
    }

    fn define(&mut self, v: ValueId) -> R {
        self.ty(v)?;
        if std::mem::replace(&mut self.defined[v.0 as usize], true) {
            return self.fail(format!("value %{} is defined more than once", v.0));
        }
        if let Some(s) = self.scope.last_mut() {
            s.push(v);
        }
        Ok(())
    }

    fn visible(&self, v: ValueId) -> R {
        self.ty(v)?;
        if self.scope.iter().any(|s| s.contains(&v)) {
            Ok(())
        } else if self.defined[v.0 as usize] {
            self.fail(format!(
                "value %{} is used outside the block that defines it",
                v.0
            ))
        } else {
            self.fail(format!("value %{} is used before it is defined", v.0))
        }
    }

    /// Verify a block; `parent_results` are the types its `yield` must produce (None: no yield).
    fn block(&mut self, b: &Block, parent_results: Option<&[Type]>) -> R {
        self.scope.push(Vec::new());
        for a in &b.args {
            self.define(*a)?;
        }
        for (i, op) in b.ops.iter().enumerate() {
            self.path.push(format!("op {i}"));
            self.op = op.kind.mnemonic();
            let last = i + 1 == b.ops.len();
            if let OpKind::Yield { values } = &op.kind {
                let Some(want) = parent_results else {
                    return self.fail("`yield` outside a `for`/`if` block");
                };
                if !last {
                    return self.fail("`yield` must be the last op of its block");
                }
                for v in values {
                    self.visible(*v)?;
                }
                let got: Vec<&Type> = values.iter().map(|v| self.ty(*v)).collect::<Result<_, _>>()?;
                if got.len() != want.len() || got.iter().zip(want).any(|(g, w)| *g != w) {
                    let g: Vec<String> = got.iter().map(|t| shape_str(t)).collect();
                    let w: Vec<String> = want.iter().map(shape_str).collect();
                    return self.fail(format!(
                        "yields ({}) but the parent op produces ({})",
                        g.join(", "),
                        w.join(", ")
                    ));
                }
            } else if matches!(op.kind, OpKind::For { .. } | OpKind::If { .. }) {
                // Ops with regions are verified by a small function, so the large frame of `op_`
                // is never part of the recursion over nested regions.
                self.region_op(op)?;
            } else {
                self.op_(op)?;
            }
            self.path.pop();
        }
        if let Some(want) = parent_results
            && !want.is_empty()
            && !matches!(b.ops.last().map(|o| &o.kind), Some(OpKind::Yield { .. }))
        {
            self.op = "yield";
            return self.fail(format!(
                "block of an op with {} results does not end with `yield`",
                want.len()
            ));
        }
        self.scope.pop();
        Ok(())
    }

    fn results(&self, op: &Op, n: usize) -> R {
        if op.results.len() != n {
            return self.fail(format!("has {} results, expected {n}", op.results.len()));
        }
        Ok(())
    }

    fn res(&self, op: &Op) -> Result<&'a Type, VerifyError> {
        self.results(op, 1)?;
        self.ty(op.results[0])
    }

    /// The result type must be `t`, layouts aside (layout rules are checked by `layouts`).
    fn want(&self, op: &Op, t: &Type) -> R {
        let r = self.res(op)?;
        if logical(r) != logical(t) {
            return self.fail(format!(
                "result type is {} but {} is expected",
                shape_str(r),
                shape_str(t)
            ));
        }
        Ok(())
    }

    /// The distributed level is all or nothing: with `cta` set every tile has a valid physical
    /// layout for that thread block, without it every tile is logical.
    fn tile_layouts(&self) -> R {
        for (i, info) in self.k.values.iter().enumerate() {
            let Type::Tile(t) = &info.ty else { continue };
            let bad = |m: String| self.fail(format!("value %{i}: {m}"));
            match (&self.k.cta, &t.layout) {
                (None, crate::TileLayout::Logical) => {}
                (None, _) => return bad("has a physical layout but the kernel has no `cta`".into()),
                (Some(_), crate::TileLayout::Logical) => {
                    return bad("is logical in a distributed kernel (every tile needs a layout)".into());
                }
                (Some(c), crate::TileLayout::Dist(l)) => {
                    if let Err(e) = l.check(&t.shape, c.lane_bits as usize, c.warp_bits as usize) {
                        return bad(format!("invalid layout: {e}"));
                    }
                }
                (Some(_), crate::TileLayout::Shared(sh)) => {
                    if let Err(e) = sh.check(&t.shape) {
                        return bad(format!("invalid shared layout: {e}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Layout rules of the ops whose result layout follows from the operand's (distributed level):
    /// they move no data, so the layouts must agree exactly.
    fn op_layouts(&self, op: &Op) -> R {
        if self.k.cta.is_none() {
            return Ok(());
        }
        let dist = |v: ValueId| -> Result<Option<&crate::LinearLayout>, VerifyError> {
            Ok(match self.ty(v)? {
                Type::Tile(t) => match &t.layout {
                    crate::TileLayout::Dist(l) => Some(l),
                    _ => return self.fail(format!("%{} must be in registers here", v.0)),
                },
                Type::Scalar(_) => None,
            })
        };
        let expect = |got: Option<&crate::LinearLayout>, want: crate::LinearLayout| -> R {
            if got != Some(&want) {
                return self.fail("result layout does not follow from the operand's layout");
            }
            Ok(())
        };
        match &op.kind {
            OpKind::Broadcast { x } => {
                if let (Some(src), Some(r)) = (dist(*x)?, dist(op.results[0])?) {
                    let (Type::Tile(xt), Type::Tile(rt)) = (self.ty(*x)?, self.ty(op.results[0])?) else {
                        return Ok(());
                    };
                    let dims: Vec<bool> = xt.shape.iter().zip(&rt.shape).map(|(a, b)| a != b).collect();
                    if *src != r.project(&dims) {
                        return self.fail("a broadcast's operand layout must be its result layout projected onto the operand");
                    }
                }
            }
            OpKind::ExpandDims { x, axis } => {
                if let Some(src) = dist(*x)? {
                    expect(dist(op.results[0])?, src.expand_dims(*axis as usize))?;
                }
            }
            OpKind::Transpose { x } => {
                if let Some(src) = dist(*x)? {
                    expect(dist(op.results[0])?, src.transpose())?;
                }
            }
            OpKind::Reduce { x, axis, .. } => {
                if let Some(src) = dist(*x)? {
                    if !src.is_axis_separable() {
                        return self.fail("a reduction's operand layout must be axis-separable");
                    }
                    if let Type::Tile(_) = self.ty(op.results[0])? {
                        expect(dist(op.results[0])?, src.slice(*axis as usize))?;
                    }
                }
            }
            OpKind::Dot { acc: x, .. } | OpKind::Dequant { x, .. } | OpKind::Quantize { x, .. }
                if dist(*x)? != dist(op.results[0])? =>
            {
                return self.fail("the result must be in the layout of the accumulator / operand");
            }
            OpKind::ConvertLayout { x } => {
                let (a, b) = (self.ty(*x)?, self.res(op)?);
                if logical(a) != logical(b) || matches!(a, Type::Scalar(_)) {
                    return self.fail("convert_layout changes only the layout of a tile");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `for` and `if`: their operands, their regions (recursively) and their results.
    #[inline(never)]
    fn region_op(&mut self, op: &Op) -> R {
        for v in op.kind.operands() {
            self.visible(v)?;
        }
        match &op.kind {
            OpKind::For {
                lo,
                hi,
                step,
                inits,
                body,
            } => {
                self.scalar(*lo, DType::I32, "lower bound")?;
                self.scalar(*hi, DType::I32, "upper bound")?;
                self.scalar(*step, DType::I32, "step")?;
                let init_tys: Vec<Type> = inits
                    .iter()
                    .map(|v| self.ty(*v).cloned())
                    .collect::<Result<_, _>>()?;
                let res: Vec<Type> = op
                    .results
                    .iter()
                    .map(|v| self.ty(*v).cloned())
                    .collect::<Result<_, _>>()?;
                if res != init_tys {
                    return self.fail(format!(
                        "{} inits but {} results of matching types expected",
                        inits.len(),
                        res.len()
                    ));
                }
                let args: Vec<Type> = body
                    .args
                    .iter()
                    .map(|v| self.ty(*v).cloned())
                    .collect::<Result<_, _>>()?;
                let mut want = vec![Type::Scalar(DType::I32)];
                want.extend(res.iter().cloned());
                if args != want {
                    return self.fail("body arguments must be [iv: i32, carried values with the init types]");
                }
                self.path.push("body".into());
                self.block(body, Some(&res))?;
                self.path.pop();
                self.op = op.kind.mnemonic();
                for r in &op.results {
                    self.define(*r)?;
                }
                Ok(())
            }
            OpKind::If {
                cond,
                then_block,
                else_block,
            } => {
                self.scalar(*cond, DType::I1, "condition")?;
                let res: Vec<Type> = op
                    .results
                    .iter()
                    .map(|v| self.ty(*v).cloned())
                    .collect::<Result<_, _>>()?;
                for (name, b) in [("then", then_block), ("else", else_block)] {
                    if !b.args.is_empty() {
                        return self.fail(format!("`{name}` block has arguments"));
                    }
                    self.path.push(name.into());
                    self.block(b, Some(&res))?;
                    self.path.pop();
                    self.op = op.kind.mnemonic();
                }
                for r in &op.results {
                    self.define(*r)?;
                }
                Ok(())
            }
            _ => self.op_(op),
        }
    }

    #[inline(never)]
    fn op_(&mut self, op: &Op) -> R {
        for v in op.kind.operands() {
            self.visible(v)?;
        }
        self.op_types(op)?;
        self.op_layouts(op)
    }

    fn op_types(&mut self, op: &Op) -> R {
        match &op.kind {
            OpKind::ConstInt { .. } => match self.res(op)? {
                Type::Scalar(d) if d.is_int() || *d == DType::I1 => {}
                t => return self.fail(format!("integer constant of type {}", shape_str(t))),
            },
            OpKind::ConstFloat { .. } => match self.res(op)? {
                Type::Scalar(d) if d.is_float() && !d.is_narrow_float() => {}
                t => return self.fail(format!("float constant of type {}", shape_str(t))),
            },
            OpKind::Full { .. } => match self.res(op)? {
                Type::Tile(t) if t.scale.is_none() => {}
                t => return self.fail(format!("`full` must produce a plain tile, not {}", shape_str(t))),
            },
            OpKind::ProgramId { axis } | OpKind::NumPrograms { axis } => {
                if *axis as usize >= self.k.grid.len() {
                    return self.fail(format!("axis {axis} but the grid has {} dims", self.k.grid.len()));
                }
                self.want(op, &Type::Scalar(DType::I32))?;
            }
            OpKind::SymDim { sym } => {
                if *sym as usize >= self.k.syms.len() {
                    return self.fail(format!(
                        "sym index {sym} but the kernel has {} syms",
                        self.k.syms.len()
                    ));
                }
                self.want(op, &Type::Scalar(DType::I32))?;
            }
            OpKind::Arange { n } => {
                if *n == 0 {
                    return self.fail("arange of length 0");
                }
                self.want(op, &Type::Tile(TileType::plain(DType::I32, vec![*n])))?;
            }
            OpKind::Binary { op: bop, lhs, rhs } => {
                let t = self.same(*lhs, *rhs)?;
                let d = t.dtype();
                let ok = match bop {
                    BinOp::And | BinOp::Or => d == DType::I1,
                    _ => d != DType::I1 && !d.is_narrow_float(),
                };
                if !ok {
                    return self.fail(format!("`{bop:?}` is not defined on {d}"));
                }
                self.want(op, t)?;
            }
            OpKind::Unary { op: uop, x } => {
                let t = self.ty(*x)?;
                self.plain(t, *x)?;
                let d = t.dtype();
                let ok = match uop {
                    UnOp::Not => d == DType::I1,
                    UnOp::Neg | UnOp::Abs => d != DType::I1 && !d.is_narrow_float(),
                    _ => d.is_float() && !d.is_narrow_float(),
                };
                if !ok {
                    return self.fail(format!("`{uop:?}` is not defined on {d}"));
                }
                self.want(op, t)?;
            }
            OpKind::Cmp { lhs, rhs, .. } => {
                let t = self.same(*lhs, *rhs)?;
                self.want(op, &with_dtype(t, DType::I1))?;
            }
            OpKind::Select { cond, a, b } => {
                let t = self.same(*a, *b)?;
                let c = self.ty(*cond)?;
                if *c != with_dtype(t, DType::I1) {
                    return self.fail(format!(
                        "condition has type {} but the branches are {}",
                        shape_str(c),
                        shape_str(t)
                    ));
                }
                self.want(op, t)?;
            }
            OpKind::Cast { x, to } => {
                let t = self.ty(*x)?;
                self.plain(t, *x)?;
                if *to == DType::I1 {
                    return self.fail("cast to i1 (use a comparison)");
                }
                self.want(op, &with_dtype(t, *to))?;
            }
            OpKind::Broadcast { x } => {
                let t = self.ty(*x)?;
                let r = self.res(op)?;
                let Type::Tile(rt) = r else {
                    return self.fail("broadcast must produce a tile");
                };
                if rt.dtype != t.dtype() || rt.scale.is_some() {
                    return self.fail(format!("broadcast of {} to {}", shape_str(t), shape_str(r)));
                }
                if let Type::Tile(xt) = t {
                    self.plain(t, *x)?;
                    let fits = xt.shape.len() == rt.shape.len()
                        && xt.shape.iter().zip(&rt.shape).all(|(a, b)| a == b || *a == 1);
                    if !fits {
                        return self.fail(format!(
                            "cannot broadcast {:?} to {:?} (only size-1 dims expand, rank is kept)",
                            xt.shape, rt.shape
                        ));
                    }
                }
            }
            OpKind::ExpandDims { x, axis } => {
                let t = self.tile(*x, "operand")?;
                if *axis as usize > t.shape.len() || t.scale.is_some() {
                    return self.fail(format!(
                        "expand_dims axis {axis} of a rank-{} tile",
                        t.shape.len()
                    ));
                }
                let mut s = t.shape.clone();
                s.insert(*axis as usize, 1);
                self.want(
                    op,
                    &Type::Tile(TileType {
                        shape: s,
                        ..t.clone()
                    }),
                )?;
            }
            OpKind::ConvertLayout { x } => {
                self.tile(*x, "operand")?;
                self.res(op)?;
            }
            OpKind::Transpose { x } => {
                let t = self.tile(*x, "operand")?;
                if t.shape.len() != 2 {
                    return self.fail(format!("transpose of a rank-{} tile", t.shape.len()));
                }
                let mut r = t.clone();
                r.shape.reverse();
                if let Some(s) = &mut r.scale {
                    s.block.reverse();
                }
                self.want(op, &Type::Tile(r))?;
            }
            OpKind::Reduce { x, axis, .. } => {
                let t = self.tile(*x, "operand")?;
                self.plain(&Type::Tile(t.clone()), *x)?;
                if *axis as usize >= t.shape.len() {
                    return self.fail(format!("reduce axis {axis} of a rank-{} tile", t.shape.len()));
                }
                let mut s = t.shape.clone();
                s.remove(*axis as usize);
                let r = self.res(op)?;
                let ok = match r {
                    Type::Tile(rt) => {
                        logical(&Type::Tile(rt.clone()))
                            == logical(&Type::Tile(TileType {
                                shape: s,
                                ..t.clone()
                            }))
                    }
                    Type::Scalar(d) => s.is_empty() && *d == t.dtype,
                };
                if !ok {
                    return self.fail(format!(
                        "reduce of {:?} along {axis} gives {}",
                        t.shape,
                        shape_str(r)
                    ));
                }
            }
            OpKind::Load { access, .. } => {
                let (tt, _) = self.access(access)?;
                let want = self.access_type(access, tt)?;
                self.want(op, &want)?;
            }
            OpKind::Store { access, value } | OpKind::AtomicAdd { access, value } => {
                self.results(op, 0)?;
                let (tt, is_out) = self.access(access)?;
                if !is_out {
                    let n = &self.k.params[access.tensor.0 as usize].name;
                    return self.fail(format!("writes to `{n}`, which is not an `out` parameter"));
                }
                let want = self.access_type(access, tt)?;
                let got = self.ty(*value)?;
                if logical(got) != want {
                    return self.fail(format!(
                        "value has type {} but the view is {}",
                        shape_str(got),
                        shape_str(&want)
                    ));
                }
                if matches!(op.kind, OpKind::AtomicAdd { .. })
                    && !matches!(tt.dtype, DType::F32 | DType::BF16 | DType::F16 | DType::I32)
                {
                    return self.fail(format!(
                        "atomic_add into {} (f32, bf16, f16 or i32 only)",
                        tt.dtype
                    ));
                }
            }
            OpKind::Dot { a, b, acc } => self.dot(op, *a, *b, *acc)?,
            OpKind::Dequant { x, scale, to } => {
                let t = self.tile(*x, "operand")?;
                if !matches!(to, DType::F32 | DType::BF16 | DType::F16) {
                    return self.fail(format!("dequant to {to} (f32, bf16 or f16 only)"));
                }
                match scale {
                    None if t.scale.is_none() => {
                        return self.fail("dequant of a plain tile without a scale operand");
                    }
                    None => {}
                    Some(s) => {
                        let st = self.tile(*s, "scale")?;
                        if t.scale.is_some() || st.scale.is_some() {
                            return self.fail(
                                "explicit-scale dequant takes a plain code tile and a plain scale tile",
                            );
                        }
                        if !st.dtype.is_scale_format() {
                            return self.fail(format!("scale tile of {} is not a scale format", st.dtype));
                        }
                        let ok = st.shape.len() == t.shape.len()
                            && t.shape.iter().zip(&st.shape).all(|(d, s)| *s > 0 && d % s == 0);
                        if !ok {
                            return self.fail(format!(
                                "scale shape {:?} does not evenly block data shape {:?}",
                                st.shape, t.shape
                            ));
                        }
                    }
                }
                self.want(op, &Type::Tile(TileType::plain(*to, t.shape.clone())))?;
            }
            OpKind::Quantize {
                x,
                elem,
                spec,
                global,
            } => {
                let t = self.tile(*x, "operand")?;
                if t.scale.is_some() || !t.dtype.is_float() || t.dtype.is_narrow_float() {
                    return self.fail(format!(
                        "quantize of {} (a plain f32/bf16/f16 tile expected)",
                        t.dtype
                    ));
                }
                if !elem.is_narrow_float() {
                    return self.fail(format!("quantize to {elem} (a narrow float expected)"));
                }
                self.scale_spec("quantize", spec, t.shape.len())?;
                match (spec.global, global) {
                    (true, Some(g)) => self.scalar(*g, DType::F32, "global scale")?,
                    (false, None) => {}
                    (true, None) => return self.fail("contract needs a global scale operand"),
                    (false, Some(_)) => return self.fail("global scale given to a contract without one"),
                }
                let want = TileType {
                    dtype: *elem,
                    shape: t.shape.clone(),
                    scale: Some(spec.clone()),
                    layout: t.layout.clone(),
                };
                self.want(op, &Type::Tile(want))?;
            }
            OpKind::For { .. } | OpKind::If { .. } => return self.region_op(op),
            OpKind::Yield { .. } => return self.fail("`yield` outside a `for`/`if` block"),
        }
        for r in &op.results {
            self.define(*r)?;
        }
        Ok(())
    }

    /// Both operands have one identical type; elementwise ops never take scaled tiles.
    fn same(&self, a: ValueId, b: ValueId) -> Result<&'a Type, VerifyError> {
        let (ta, tb) = (self.ty(a)?, self.ty(b)?);
        if ta != tb {
            return self.fail(format!(
                "operands have different types: {} and {}",
                shape_str(ta),
                shape_str(tb)
            ));
        }
        self.plain(ta, a)?;
        Ok(ta)
    }

    fn plain(&self, t: &Type, v: ValueId) -> R {
        if let Type::Tile(tt) = t
            && tt.scale.is_some()
        {
            return self.fail(format!("%{} is a scaled tile; dequant it first", v.0));
        }
        Ok(())
    }

    /// Checks an access; returns the tensor type and whether it is writable.
    fn access(&self, a: &Access) -> Result<(&'a TensorType, bool), VerifyError> {
        let Some(p) = self.k.params.get(a.tensor.0 as usize) else {
            return self.fail(format!(
                "access to parameter #{} which does not exist",
                a.tensor.0
            ));
        };
        let ParamKind::Tensor { ty, is_out } = &p.kind else {
            return self.fail(format!("`{}` is a scalar, not a tensor", p.name));
        };
        if a.index.len() != ty.dims.len() || a.bounds.len() != ty.dims.len() {
            return self.fail(format!(
                "access to `{}` has {} indices and {} bounds for a rank-{} tensor",
                p.name,
                a.index.len(),
                a.bounds.len(),
                ty.dims.len()
            ));
        }
        for (d, i) in a.index.iter().enumerate() {
            match i {
                Index::Range { start, size } => {
                    if *size == 0 {
                        return self.fail(format!("range of size 0 on dim {d} of `{}`", p.name));
                    }
                    self.scalar(*start, DType::I32, "range start")?;
                }
                Index::Point(v) => self.scalar(*v, DType::I32, "index")?,
                Index::Gather(v) => {
                    let t = self.tile(*v, "gather index")?;
                    if t.dtype != DType::I32 || t.shape.len() != 1 || t.scale.is_some() {
                        return self.fail(format!("gather index must be an i32 [n] tile, found {}", t.dtype));
                    }
                }
            }
            if let Some(sc) = &ty.scale
                && sc.block[d] > 1
                && !matches!(i, Index::Range { .. })
            {
                return self.fail(format!(
                    "scaled dim {d} of `{}` must be indexed by a range",
                    p.name
                ));
            }
        }
        for b in &a.bounds {
            for v in b.lo.iter().chain(&b.hi) {
                self.scalar(*v, DType::I32, "view bound")?;
            }
        }
        Ok((ty, *is_out))
    }

    /// The value type an access produces/consumes.
    fn access_type(&self, a: &Access, tt: &TensorType) -> Result<Type, VerifyError> {
        let mut shape = Vec::new();
        let mut block = Vec::new();
        for (d, i) in a.index.iter().enumerate() {
            let n = match i {
                Index::Range { size, .. } => *size,
                Index::Point(_) => continue,
                Index::Gather(v) => self.tile(*v, "gather index")?.shape[0],
            };
            shape.push(n);
            block.push(tt.scale.as_ref().map(|s| s.block[d]).unwrap_or(1));
        }
        let scale = tt.scale.as_ref().map(|s| ScaleSpec { block, ..s.clone() });
        if shape.is_empty() {
            if scale.is_some() {
                return self.fail("scalar access to a scaled tensor");
            }
            return Ok(Type::Scalar(tt.dtype));
        }
        Ok(Type::Tile(TileType {
            dtype: tt.dtype,
            shape,
            scale,
            layout: crate::TileLayout::Logical,
        }))
    }

    fn dot(&self, op: &Op, a: ValueId, b: ValueId, acc: ValueId) -> R {
        let ta = self.tile(a, "lhs")?;
        let tb = self.tile(b, "rhs")?;
        let tc = self.tile(acc, "accumulator")?;
        if ta.shape.len() != 2 || tb.shape.len() != 2 || tc.shape.len() != 2 {
            return self.fail("dot operands must be rank-2 tiles");
        }
        let (m, k, k2, n) = (ta.shape[0], ta.shape[1], tb.shape[0], tb.shape[1]);
        if k != k2 || tc.shape != [m, n] {
            return self.fail(format!(
                "dot shapes {:?} x {:?} + {:?} do not match [M,K] x [K,N] + [M,N]",
                ta.shape, tb.shape, tc.shape
            ));
        }
        let int = ta.dtype == DType::I8 && tb.dtype == DType::I8;
        let acc_ok = if int {
            tc.dtype == DType::I32
        } else {
            tc.dtype == DType::F32
        };
        if !acc_ok || tc.scale.is_some() {
            return self.fail(format!(
                "accumulator must be a plain {} tile",
                if int { "i32" } else { "f32" }
            ));
        }
        for (t, what) in [(ta, "lhs"), (tb, "rhs")] {
            if !int && !t.dtype.is_float() {
                return self.fail(format!("{what} of dtype {} in a float dot", t.dtype));
            }
            if matches!(t.dtype, DType::E8M0 | DType::UE4M3) {
                return self.fail(format!("{what} is a scale format ({})", t.dtype));
            }
        }
        // Scales multiply per-K-block partial sums, so both scaled operands must agree on the K
        // block (lhs axis 1, rhs axis 0); blocks along M/N (DeepSeek 128x128 weights) are fine.
        if let (Some(sa), Some(sb)) = (&ta.scale, &tb.scale)
            && sa.block[1] != sb.block[0]
        {
            return self.fail(format!(
                "scaled operands disagree on the K block: lhs block {:?} (K = axis 1), rhs block {:?} (K = axis 0)",
                sa.block, sb.block
            ));
        }
        self.want(op, &Type::Tile(tc.clone()))
    }
}

fn with_dtype(t: &Type, d: DType) -> Type {
    match t {
        Type::Scalar(_) => Type::Scalar(d),
        Type::Tile(tt) => Type::Tile(TileType {
            dtype: d,
            ..tt.clone()
        }),
    }
}
