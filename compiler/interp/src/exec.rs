//! Executing one program instance: walks the kernel body with an environment of SSA values, reads
//! tensors directly from the argument buffers, and records stores/atomics in a write log that the
//! driver (`lib.rs`) applies in program-id order — so runs are deterministic however rayon
//! schedules the programs.

use crate::dot::{DotFault, dot};
use crate::elementwise::{self as ew, Fault};
use crate::error::{E_ARITH, E_K_BLOCK, E_MISALIGNED, E_SCALE_MISSING, InterpError};
use crate::quant;
use crate::tensor::{Addr, Elem, Geometry, read_f32, read_i64, round_to};
use crate::value::{Data, Scales, Tile};
use std::rc::Rc;
use tessera_ir::{Access, Block, DType, Index, Kernel, Op, OpKind, ParamKind, Span, Type, ValueId};
use tessera_numerics::ArgValue;

/// One pending write of a program.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    pub param: u32,
    pub addr: Addr,
    pub v: Elem,
    /// `atomic_add` (read-modify-write) rather than a plain store.
    pub add: bool,
    /// Into the tensor's block-scale buffer rather than its data.
    pub scale: bool,
}

/// Per-launch facts shared (read-only) by all programs.
pub(crate) struct Launch<'a> {
    pub k: &'a Kernel,
    pub args: &'a [ArgValue],
    pub syms: Vec<i64>,
    pub grid: [u32; 3],
    /// Per param: geometry of its data (and of its scale buffer).
    pub geo: Vec<Option<Geometry>>,
    pub scale_geo: Vec<Option<Geometry>>,
    /// The run's work counter and budget.
    pub work: &'a crate::budget::Work<'a>,
}

pub(crate) struct Program<'a> {
    l: &'a Launch<'a>,
    pid: [u32; 3],
    env: Vec<Option<Rc<Tile>>>,
    pub log: Vec<Write>,
    written: Vec<bool>,
    /// Work units not yet added to `l.work`.
    pending: u64,
}

type R<T> = Result<T, InterpError>;

/// Per tensor dim of an access: coordinates, whether each is inside the view, and whether the dim
/// survives into the tile.
struct DimSel {
    coords: Vec<i64>,
    valid: Vec<bool>,
    keep: bool,
    lo: i64,
    hi: i64,
}

/// The scale-buffer side of a scaled access (see `Program::scale_sel`).
struct ScaleView<'a> {
    /// Per tensor dim: the block coordinates touched.
    sel: Vec<DimSel>,
    /// Per kept dim: the block extent.
    block: Vec<usize>,
    /// Per kept dim: the tensor's extent is a whole number of blocks.
    whole: Vec<bool>,
    geo: &'a Geometry,
}

impl<'a> Program<'a> {
    pub fn new(l: &'a Launch<'a>, pid: [u32; 3]) -> Program<'a> {
        Program {
            l,
            pid,
            env: vec![None; l.k.values.len()],
            log: Vec::new(),
            written: vec![false; l.k.params.len()],
            pending: 0,
        }
    }

    pub fn run(&mut self) -> R<()> {
        let k = self.l.k;
        let mut scalars = Vec::new();
        for (p, a) in k.params.iter().zip(self.l.args) {
            if let (ParamKind::Scalar(d), ArgValue::Scalar(v)) = (&p.kind, a) {
                scalars.push(Rc::new(if d.is_float() {
                    Tile::scalar_f(*d, round_to(*d, *v as f32))
                } else {
                    Tile::scalar_i(*d, *v as i64)
                }));
            }
        }
        self.block(&k.body, scalars)?;
        let n = std::mem::take(&mut self.pending);
        self.l
            .work
            .add(n, self.pid, k.body.ops.last().map(|o| o.span).unwrap_or_default())
    }

    /// Count `n` work units of `op` (see `budget.rs`); E0612 when the budget is exceeded.
    fn charge(&mut self, n: u64, op: &Op) -> R<()> {
        self.pending = self.pending.saturating_add(n);
        if self.pending >= crate::budget::FLUSH {
            let n = std::mem::take(&mut self.pending);
            self.l.work.add(n, self.pid, op.span)?;
        }
        Ok(())
    }

    /// The work units of one execution of `op` (loop bodies are counted as they run).
    fn cost(&self, op: &Op) -> u64 {
        let k = self.l.k;
        let elems = |v: ValueId| k.ty(v).as_tile().map_or(1, tessera_ir::TileType::elements);
        match &op.kind {
            OpKind::Dot { a, b, .. } => {
                let n = k
                    .ty(*b)
                    .as_tile()
                    .and_then(|t| t.shape.get(1))
                    .copied()
                    .unwrap_or(1);
                elems(*a).saturating_mul(u64::from(n))
            }
            OpKind::Store { value, .. } | OpKind::AtomicAdd { value, .. } => elems(*value),
            _ => op.results.iter().map(|r| elems(*r)).fold(1, u64::saturating_add),
        }
    }

    fn rt(&self, code: &'static str, span: Span, message: impl Into<String>) -> InterpError {
        InterpError::Runtime {
            code,
            span,
            program: self.pid,
            message: message.into(),
        }
    }

    fn unsupported(op: &Op, why: impl Into<String>) -> InterpError {
        InterpError::Unsupported {
            op: op.kind.mnemonic(),
            span: op.span,
            why: why.into(),
        }
    }

    fn get(&self, v: ValueId) -> R<Rc<Tile>> {
        self.env
            .get(v.0 as usize)
            .and_then(|x| x.clone())
            .ok_or_else(|| InterpError::Unsupported {
                op: "value",
                span: Span::default(),
                why: format!("value %{} read before it was computed (unverified IR?)", v.0),
            })
    }

    fn set(&mut self, v: ValueId, t: Tile) {
        if let Some(slot) = self.env.get_mut(v.0 as usize) {
            *slot = Some(Rc::new(t));
        }
    }

    fn int(&self, v: ValueId, op: &Op) -> R<i64> {
        self.get(v)?
            .as_i64()
            .ok_or_else(|| Self::unsupported(op, format!("%{} is not an integer scalar", v.0)))
    }

    /// Run a block with its arguments bound; returns what its `yield` produced (empty if none).
    fn block(&mut self, b: &Block, args: Vec<Rc<Tile>>) -> R<Vec<Rc<Tile>>> {
        for (a, v) in b.args.iter().zip(args) {
            if let Some(slot) = self.env.get_mut(a.0 as usize) {
                *slot = Some(v);
            }
        }
        for op in &b.ops {
            if let OpKind::Yield { values } = &op.kind {
                return values.iter().map(|v| self.get(*v)).collect();
            }
            self.charge(self.cost(op), op)?;
            self.op(op)?;
        }
        Ok(Vec::new())
    }

    fn result_type(&self, op: &Op) -> R<&'a Type> {
        match op.results.first() {
            Some(r) => Ok(self.l.k.ty(*r)),
            None => Err(Self::unsupported(op, "op has no result")),
        }
    }

    fn fault(&self, op: &Op, f: Fault) -> InterpError {
        match f {
            Fault::DivZero => self.rt(E_ARITH, op.span, "integer division by zero"),
            Fault::Unsupported(why) => Self::unsupported(op, why),
        }
    }

    fn op(&mut self, op: &Op) -> R<()> {
        let out = match &op.kind {
            OpKind::ConstInt { value } => Tile::scalar_i(self.result_type(op)?.dtype(), *value),
            OpKind::ConstFloat { value } => {
                let d = self.result_type(op)?.dtype();
                Tile::scalar_f(d, round_to(d, *value as f32))
            }
            OpKind::Full { value } => {
                let t = self.result_type(op)?;
                let Type::Tile(tt) = t else {
                    return Err(Self::unsupported(op, "full of a scalar type"));
                };
                let shape: Vec<usize> = tt.shape.iter().map(|d| *d as usize).collect();
                let n = shape.iter().product();
                if tt.dtype.is_float() {
                    Tile::floats(tt.dtype, shape, vec![round_to(tt.dtype, *value as f32); n])
                } else {
                    Tile::ints(tt.dtype, shape, vec![*value as i64; n])
                }
            }
            OpKind::ProgramId { axis } => Tile::scalar_i(
                DType::I32,
                self.pid.get(*axis as usize).copied().unwrap_or(0) as i64,
            ),
            OpKind::NumPrograms { axis } => Tile::scalar_i(
                DType::I32,
                self.l.grid.get(*axis as usize).copied().unwrap_or(1) as i64,
            ),
            OpKind::SymDim { sym } => match self.l.syms.get(*sym as usize) {
                Some(v) => Tile::scalar_i(DType::I32, *v),
                None => return Err(Self::unsupported(op, format!("sym index {sym} out of range"))),
            },
            OpKind::Arange { n } => Tile::ints(DType::I32, vec![*n as usize], (0..*n as i64).collect()),
            OpKind::Binary { op: b, lhs, rhs } => {
                let (x, y) = (self.get(*lhs)?, self.get(*rhs)?);
                ew::binary(*b, &x, &y).map_err(|f| self.fault(op, f))?
            }
            OpKind::Unary { op: u, x } => ew::unary(*u, &*self.get(*x)?).map_err(|f| self.fault(op, f))?,
            OpKind::Cmp { pred, lhs, rhs } => {
                let (x, y) = (self.get(*lhs)?, self.get(*rhs)?);
                ew::cmp(*pred, &x, &y).map_err(|f| self.fault(op, f))?
            }
            OpKind::Select { cond, a, b } => {
                let (c, x, y) = (self.get(*cond)?, self.get(*a)?, self.get(*b)?);
                ew::select(&c, &x, &y).map_err(|f| self.fault(op, f))?
            }
            OpKind::Cast { x, to } => {
                let x = self.get(*x)?;
                if x.scale.is_some() {
                    return Err(Self::unsupported(op, "cast of a scaled tile (dequant it first)"));
                }
                ew::cast(&x, *to)
            }
            OpKind::Broadcast { x } => {
                let t = self.result_type(op)?;
                let Type::Tile(tt) = t else {
                    return Err(Self::unsupported(op, "broadcast to a scalar"));
                };
                let to: Vec<usize> = tt.shape.iter().map(|d| *d as usize).collect();
                ew::broadcast(&*self.get(*x)?, &to)
            }
            OpKind::ExpandDims { x, axis } => ew::expand_dims(&*self.get(*x)?, *axis as usize),
            // Layouts say where data lives, not what it is: a conversion is the identity.
            OpKind::ConvertLayout { x } => (*self.get(*x)?).clone(),
            OpKind::Transpose { x } => {
                let x = self.get(*x)?;
                if x.shape.len() != 2 {
                    return Err(Self::unsupported(op, "transpose of a tile that is not rank 2"));
                }
                ew::transpose(&x)
            }
            OpKind::Reduce { kind, x, axis } => {
                let x = self.get(*x)?;
                if *axis as usize >= x.shape.len() {
                    return Err(Self::unsupported(op, "reduce axis out of range"));
                }
                ew::reduce(*kind, &x, *axis as usize)
            }
            OpKind::Load { access, other } => self.load(op, access, *other)?,
            OpKind::Store { access, value } | OpKind::AtomicAdd { access, value } => {
                let add = matches!(op.kind, OpKind::AtomicAdd { .. });
                self.store(op, access, *value, add)?;
                return Ok(());
            }
            OpKind::Dot { a, b, acc } => {
                let (x, y, c) = (self.get(*a)?, self.get(*b)?, self.get(*acc)?);
                dot(&x, &y, &c).map_err(|f| match f {
                    DotFault::PartialKBlock { which, block } => self.rt(
                        E_K_BLOCK,
                        op.span,
                        format!("the {which} operand is scaled in blocks of {block} along K, but K is not a multiple of {block}"),
                    ),
                    DotFault::Unsupported(why) => Self::unsupported(op, why),
                })?
            }
            OpKind::Dequant { x, scale, to } => {
                let x = self.get(*x)?;
                let s = match scale {
                    Some(s) => Some(self.get(*s)?),
                    None => None,
                };
                quant::dequant(&x, s.as_deref(), *to).map_err(|w| Self::unsupported(op, w))?
            }
            OpKind::Quantize {
                x,
                elem,
                spec,
                global,
            } => {
                let x = self.get(*x)?;
                let g = match global {
                    Some(g) => Some(
                        self.get(*g)?
                            .as_f32()
                            .ok_or_else(|| Self::unsupported(op, "global scale not a scalar"))?,
                    ),
                    None => None,
                };
                quant::quantize(&x, *elem, spec, g).map_err(|w| Self::unsupported(op, w))?
            }
            OpKind::For {
                lo,
                hi,
                step,
                inits,
                body,
            } => {
                let (lo, hi, step) = (self.int(*lo, op)?, self.int(*hi, op)?, self.int(*step, op)?);
                if step <= 0 {
                    return Err(self.rt(E_ARITH, op.span, format!("loop step {step} is not positive")));
                }
                let mut carried: Vec<Rc<Tile>> = inits.iter().map(|v| self.get(*v)).collect::<R<_>>()?;
                let mut iv = lo;
                while iv < hi {
                    self.charge(1, op)?;
                    let mut args = vec![Rc::new(Tile::scalar_i(DType::I32, iv))];
                    args.extend(carried.iter().cloned());
                    carried = self.block(body, args)?;
                    iv += step;
                }
                self.bind_results(op, carried)?;
                return Ok(());
            }
            OpKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let c = self.int(*cond, op)?;
                let r = self.block(if c != 0 { then_block } else { else_block }, Vec::new())?;
                self.bind_results(op, r)?;
                return Ok(());
            }
            OpKind::Yield { .. } => return Err(Self::unsupported(op, "yield outside a block")),
        };
        match op.results.first() {
            Some(r) => {
                self.set(*r, out);
                Ok(())
            }
            None => Err(Self::unsupported(op, "op has no result")),
        }
    }

    fn bind_results(&mut self, op: &Op, vals: Vec<Rc<Tile>>) -> R<()> {
        if vals.len() != op.results.len() {
            return Err(Self::unsupported(
                op,
                format!(
                    "block yields {} values for {} results",
                    vals.len(),
                    op.results.len()
                ),
            ));
        }
        for (r, v) in op.results.iter().zip(vals) {
            if let Some(slot) = self.env.get_mut(r.0 as usize) {
                *slot = Some(v);
            }
        }
        Ok(())
    }

    /// Coordinates and validity per tensor dim, for an access to a tensor of `shape`.
    fn select(&self, op: &Op, a: &Access, shape: &[usize]) -> R<Vec<DimSel>> {
        let mut out = Vec::with_capacity(a.index.len());
        for (d, (ix, bd)) in a.index.iter().zip(&a.bounds).enumerate() {
            let dim = shape
                .get(d)
                .copied()
                .ok_or_else(|| Self::unsupported(op, "access rank exceeds tensor rank"))?
                as i64;
            let lo = match bd.lo {
                Some(v) => self.int(v, op)?.max(0),
                None => 0,
            };
            let hi = match bd.hi {
                Some(v) => self.int(v, op)?.min(dim),
                None => dim,
            };
            let (coords, keep): (Vec<i64>, bool) = match ix {
                Index::Range { start, size } => {
                    let s = self.int(*start, op)?;
                    ((0..*size as i64).map(|i| s + i).collect(), true)
                }
                Index::Point(v) => (vec![self.int(*v, op)?], false),
                Index::Gather(v) => match &self.get(*v)?.data {
                    Data::I(ix) => (ix.clone(), true),
                    Data::F(_) => return Err(Self::unsupported(op, "gather index tile is not integer")),
                },
            };
            let valid = coords.iter().map(|c| *c >= lo && *c < hi).collect();
            out.push(DimSel {
                coords,
                valid,
                keep,
                lo,
                hi,
            });
        }
        Ok(out)
    }

    /// Visit every element of the selection in row-major tile order: `f(flat, Some(addr))` for
    /// elements inside the view, `f(flat, None)` for masked ones.
    fn visit(sel: &[DimSel], geo: &Geometry, mut f: impl FnMut(usize, Option<Addr>)) {
        let parts: Vec<Vec<Option<Addr>>> = sel
            .iter()
            .enumerate()
            .map(|(d, s)| {
                s.coords
                    .iter()
                    .zip(&s.valid)
                    .map(|(c, v)| v.then(|| geo.part(d, *c as usize)))
                    .collect()
            })
            .collect();
        let r = parts.len();
        if r == 0 {
            f(0, Some(Addr { unit: 0, nib: 0 }));
            return;
        }
        let outer: Vec<usize> = parts[..r - 1].iter().map(|p| p.len()).collect();
        let n_outer: usize = outer.iter().product();
        let last = &parts[r - 1];
        let mut idx = vec![0usize; r - 1];
        let mut flat = 0;
        for _ in 0..n_outer {
            let mut base = Some(Addr { unit: 0, nib: 0 });
            for (d, i) in idx.iter().enumerate() {
                base = match (base, parts[d][*i]) {
                    (Some(b), Some(p)) => Some(Addr {
                        unit: b.unit + p.unit,
                        nib: b.nib + p.nib,
                    }),
                    _ => None,
                };
            }
            for p in last {
                let a = match (base, p) {
                    (Some(b), Some(p)) => Some(Addr {
                        unit: b.unit + p.unit,
                        nib: b.nib + p.nib,
                    }),
                    _ => None,
                };
                f(flat, a);
                flat += 1;
            }
            for d in (0..r - 1).rev() {
                idx[d] += 1;
                if idx[d] < outer[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }

    fn tensor(&self, op: &Op, p: u32) -> R<(&'a tessera_numerics::TensorArg, &'a Geometry)> {
        match (self.l.args.get(p as usize), self.l.geo.get(p as usize)) {
            (Some(ArgValue::Tensor(t)), Some(Some(g))) => Ok((t, g)),
            _ => Err(Self::unsupported(
                op,
                format!("parameter #{p} is not a bound tensor"),
            )),
        }
    }

    fn load(&mut self, op: &Op, a: &Access, other: f64) -> R<Tile> {
        if self.written.get(a.tensor.0 as usize).copied().unwrap_or(false) {
            return Err(Self::unsupported(
                op,
                "load from a tensor this program already wrote (writes are applied after the programs run)",
            ));
        }
        let (t, geo) = self.tensor(op, a.tensor.0)?;
        let sel = self.select(op, a, &geo.shape)?;
        let shape: Vec<usize> = sel.iter().filter(|s| s.keep).map(|s| s.coords.len()).collect();
        let n: usize = shape.iter().product();
        let dtype = geo.dtype;
        let bytes = &t.data.bytes;
        let data = if dtype.is_float() {
            let fill = if dtype.is_narrow_float() {
                if other != 0.0 {
                    return Err(Self::unsupported(
                        op,
                        format!(
                            "masked loads of {dtype} codes read the zero code; `other = {other}` cannot be honoured"
                        ),
                    ));
                }
                0.0
            } else {
                round_to(dtype, other as f32)
            };
            let mut v = vec![fill; n];
            Self::visit(&sel, geo, |i, addr| {
                if let Some(ad) = addr {
                    v[i] = read_f32(dtype, bytes, ad);
                }
            });
            Data::F(v)
        } else {
            let mut v = vec![other as i64; n];
            Self::visit(&sel, geo, |i, addr| {
                if let Some(ad) = addr {
                    v[i] = read_i64(dtype, bytes, ad);
                }
            });
            Data::I(v)
        };
        let scale = match self.l.k.params.get(a.tensor.0 as usize).map(|p| &p.kind) {
            Some(ParamKind::Tensor { ty, .. }) => match &ty.scale {
                Some(spec) => Some(self.load_scales(op, a, &sel, spec, t)?),
                None => None,
            },
            _ => None,
        };
        Ok(Tile {
            dtype,
            shape,
            data,
            scale,
        })
    }

    /// The block scales covering a scaled load: neutral 1.0 for blocks with no element inside the
    /// view; slices must start on block boundaries along blocked dims.
    fn load_scales(
        &self,
        op: &Op,
        a: &Access,
        sel: &[DimSel],
        spec: &tessera_ir::ScaleSpec,
        t: &tessera_numerics::TensorArg,
    ) -> R<Scales> {
        let Some(sbuf) = &t.scale else {
            return Err(Self::unsupported(op, "scaled tensor without a scale buffer"));
        };
        let ScaleView {
            sel: ssel,
            block,
            whole,
            geo: sgeo,
        } = self.scale_sel(op, a, sel, spec, false)?;
        let sshape: Vec<usize> = ssel.iter().filter(|s| s.keep).map(|s| s.coords.len()).collect();
        let mut v = vec![1.0f32; sshape.iter().product()];
        Self::visit(&ssel, sgeo, |i, addr| {
            if let Some(ad) = addr {
                v[i] = read_f32(spec.scale_dtype, &sbuf.bytes, ad);
            }
        });
        Ok(Scales {
            block,
            shape: sshape,
            v,
            global: t.global_scale,
            whole,
        })
    }

    /// The scale-buffer view of a scaled access whose data view is `sel`: per dim the block
    /// coordinates it touches (a block counts if any of its elements is inside the view), and per
    /// kept dim the block extent and whether the tensor's extent is whole blocks. Along blocked
    /// dims a slice starts on a block boundary; a load may also sit inside one block (a tile
    /// narrower than the block), but a store must cover every in-bounds element of each block it
    /// touches, because it writes that block's one scale and another program's part of the block
    /// would have been quantized against a different one.
    fn scale_sel(
        &self,
        op: &Op,
        a: &Access,
        sel: &[DimSel],
        spec: &tessera_ir::ScaleSpec,
        store: bool,
    ) -> R<ScaleView<'a>> {
        let sgeo = self
            .l
            .scale_geo
            .get(a.tensor.0 as usize)
            .and_then(|g| g.as_ref())
            .ok_or_else(|| Self::unsupported(op, "scaled tensor without a scale buffer"))?;
        let mut ssel = Vec::new();
        let mut block = Vec::new();
        let mut whole = Vec::new();
        for (d, (s, ix)) in sel.iter().zip(&a.index).enumerate() {
            let b = spec.block[d] as i64;
            let dim = self.l.geo[a.tensor.0 as usize]
                .as_ref()
                .map(|g| g.shape[d])
                .unwrap_or(0) as i64;
            if b == 1 {
                ssel.push(DimSel {
                    coords: s.coords.clone(),
                    valid: s.valid.clone(),
                    keep: s.keep,
                    lo: s.lo,
                    hi: s.hi,
                });
            } else {
                let Index::Range { start, size } = ix else {
                    return Err(Self::unsupported(
                        op,
                        format!("dim {d} is scale-blocked and must be sliced by a range"),
                    ));
                };
                let st = self.int(*start, op)?;
                let end = st + *size as i64;
                // A slice inside one block (a tile narrower than the block) needs no alignment.
                let one_block = st.div_euclid(b) == (end - 1).div_euclid(b);
                if st.rem_euclid(b) != 0 && (store || !one_block) {
                    return Err(self.rt(
                        E_MISALIGNED,
                        op.span,
                        format!(
                            "scaled slice along dim {d} starts at {st}, not a multiple of the scale block {b}"
                        ),
                    ));
                }
                if store && end.rem_euclid(b) != 0 && end < dim.min(s.hi) {
                    return Err(self.rt(
                        E_MISALIGNED,
                        op.span,
                        format!(
                            "a scaled store along dim {d} ends at {end}, inside a scale block of {b} that continues to {}: \
                             it would write that block's scale for part of its elements",
                            (end.div_euclid(b) + 1) * b
                        ),
                    ));
                }
                let nb = (*size as i64 + b - 1) / b;
                let sdim = sgeo.shape[d] as i64;
                let coords: Vec<i64> = (0..nb).map(|j| st.div_euclid(b) + j).collect();
                let valid = coords
                    .iter()
                    .map(|c| *c >= 0 && *c < sdim && (c * b).max(s.lo) < (c * b + b).min(s.hi))
                    .collect();
                ssel.push(DimSel {
                    coords,
                    valid,
                    keep: true,
                    lo: 0,
                    hi: sdim,
                });
            }
            if s.keep {
                block.push(b as usize);
                whole.push(dim % b == 0);
            }
        }
        Ok(ScaleView {
            sel: ssel,
            block,
            whole,
            geo: sgeo,
        })
    }

    /// Log a scaled tile's block scales into the tensor's scale buffer (its codes are logged by
    /// [`Self::store`] like any data). The tile's blocks must be the tensor's, and an NV tile's
    /// per-tensor scale must be the one the tensor declares, or the stored codes would decode to
    /// other values.
    fn store_scales(&mut self, op: &Op, a: &Access, sel: &[DimSel], sc: &Scales) -> R<()> {
        let p = a.tensor.0;
        let spec = match self.l.k.params.get(p as usize).map(|p| &p.kind) {
            Some(ParamKind::Tensor { ty, .. }) => ty.scale.clone(),
            _ => None,
        };
        let Some(spec) = spec else {
            return Err(Self::unsupported(
                op,
                "storing a scaled tile into a tensor without a scale contract (store its dequantized values or codes)",
            ));
        };
        let ScaleView {
            sel: ssel,
            block,
            geo: sgeo,
            ..
        } = self.scale_sel(op, a, sel, &spec, true)?;
        if block != sc.block {
            return Err(Self::unsupported(
                op,
                format!(
                    "the tile's scale blocks {:?} are not the tensor's {block:?}",
                    sc.block
                ),
            ));
        }
        let (t, _) = self.tensor(op, p)?;
        if let (Some(g), Some(want)) = (sc.global, t.global_scale)
            && !(g == want || (g.is_nan() && want.is_nan()))
        {
            return Err(self.rt(
                E_SCALE_MISSING,
                op.span,
                format!(
                    "the stored tile was quantized under global scale {g:e} but the tensor's is {want:e}"
                ),
            ));
        }
        let n: usize = ssel.iter().filter(|s| s.keep).map(|s| s.coords.len()).product();
        if n != sc.v.len() {
            return Err(Self::unsupported(
                op,
                format!("the tile has {} scales, the view {n}", sc.v.len()),
            ));
        }
        let log = &mut self.log;
        Self::visit(&ssel, sgeo, |i, addr| {
            if let Some(addr) = addr {
                log.push(Write {
                    param: p,
                    addr,
                    v: Elem::F(sc.v[i]),
                    add: false,
                    scale: true,
                });
            }
        });
        Ok(())
    }

    fn store(&mut self, op: &Op, a: &Access, value: ValueId, add: bool) -> R<()> {
        let (_, geo) = self.tensor(op, a.tensor.0)?;
        let val = self.get(value)?;
        let sel = self.select(op, a, &geo.shape)?;
        if let Some(ParamKind::Tensor { ty, .. }) = self.l.k.params.get(a.tensor.0 as usize).map(|p| &p.kind)
            && let Some(ax) = ty.packed_axis
            && let Some(Index::Range { start, .. }) = a.index.get(ax)
        {
            // Two codes share a byte: a store starting at an odd element would split bytes with
            // the neighbouring program's store (and the GPU writes whole bytes).
            let st = self.int(*start, op)?;
            if st.rem_euclid(2) != 0 {
                return Err(self.rt(
                    E_MISALIGNED,
                    op.span,
                    format!("a store into packed FP4 tensor along its packed axis {ax} starts at odd element {st}; FP4 stores start at an even element"),
                ));
            }
        }
        if let Some(sc) = &val.scale {
            if add {
                return Err(Self::unsupported(op, "atomic_add of a scaled tile"));
            }
            self.store_scales(op, a, &sel, sc)?;
        }
        let n: usize = sel.iter().filter(|s| s.keep).map(|s| s.coords.len()).product();
        if n != val.data.len() {
            return Err(Self::unsupported(
                op,
                format!("value has {} elements, the view {n}", val.data.len()),
            ));
        }
        let param = a.tensor.0;
        let log = &mut self.log;
        match &val.data {
            Data::F(v) => Self::visit(&sel, geo, |i, addr| {
                if let Some(addr) = addr {
                    log.push(Write {
                        param,
                        addr,
                        v: Elem::F(v[i]),
                        add,
                        scale: false,
                    });
                }
            }),
            Data::I(v) => Self::visit(&sel, geo, |i, addr| {
                if let Some(addr) = addr {
                    log.push(Write {
                        param,
                        addr,
                        v: Elem::I(v[i]),
                        add,
                        scale: false,
                    });
                }
            }),
        }
        if let Some(w) = self.written.get_mut(param as usize) {
            *w = true;
        }
        Ok(())
    }
}
