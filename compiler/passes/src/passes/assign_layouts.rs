//! `assign-layouts`: takes the kernel from the tile IR to the distributed level. Every tile value
//! gets a physical layout (a [`LinearLayout`] over the CTA's registers, lanes and warps), the
//! kernel gets its thread block (`cta`), and `convert_layout` ops appear wherever two uses need
//! the same value in different layouts.
//!
//! How layouts are chosen (anchors first, then propagation, as in Triton's TTGIR layout passes and
//! TileLang's layout inference; ideas, not code):
//! - **anchors**: a global `load` gets a coalesced, vectorised blocked layout (16 bytes per thread
//!   along the last dim); a `dot` accumulator gets the target's MMA accumulator layout from the
//!   target table; `full`/`arange`/scalar broadcasts get a blocked layout;
//! - **propagation** through every op in program order: elementwise ops take the layout of their
//!   first operand that is not cheap to recompute (the others are converted); `reduce` yields the
//!   slice of its operand's layout; `expand_dims`, `transpose` and broadcasts derive theirs (a
//!   broadcast picks, among the layouts already in use for its result shape, one whose projection
//!   is its operand's layout, so `x - max(x, 1)[:, None]` moves no data);
//! - **loops and ifs**: carried values keep one layout around the loop; when the body yields a
//!   carried value in another layout and the initial value is cheap to recompute (`zeros`), the
//!   loop is laid out again with the body's layout (the accumulator of a dot starts in the MMA
//!   layout instead of being converted every iteration);
//! - **removing conversions**: a conversion of a cheap op (`full`, `arange`, a scalar broadcast)
//!   is replaced by recomputing it in the wanted layout, and each (value, layout) pair is
//!   converted at most once per block.
//!
//! Stores and atomics accept any register layout (the lowering computes one address per
//! register); gathered index tiles are converted so each thread holds the index of each of its
//! elements.

use crate::{Changed, Pass, PassError, PassInfo, TargetCaps};
use std::collections::{HashMap, HashSet};
use tessera_ir::{
    Access, Block, Cta, DType, Index, Kernel, LinearLayout, Op, OpKind, Span, TileLayout, Type, ValueId,
    padded_extent,
};

pub const INFO: PassInfo = PassInfo {
    name: "assign-layouts",
    summary: "give every tile a register layout (the distributed level), inserting convert_layout where uses disagree",
    make: || Box::new(AssignLayouts { prefer_mma: false }),
};

pub struct AssignLayouts {
    prefer_mma: bool,
}

impl AssignLayouts {
    /// The pass with MMA-first propagation (`assign-layouts-mma`).
    pub fn mma_first() -> Self {
        AssignLayouts { prefer_mma: true }
    }
}

/// Kernel attribute asking `assign-layouts` for at least this many warp bits (log2 of the warps per
/// CTA), where the dots' accumulator rows leave another MMA warp group work. The build sets it when
/// ptxas spilled with fewer warps (api compiler `more_warps`); it is printed with the kernel, so a
/// reproducer replays the same choice.
pub const MIN_WARP_BITS_ATTR: &str = "layout.min_warp_bits";

/// log2 of the warps per CTA: the target's default, doubled while the kernel's `dot` accumulators
/// together would hold more than `acc_regs` registers per thread (or the kernel asks for more:
/// [`MIN_WARP_BITS_ATTR`]) and the largest has rows for another group of MMA warps (at most
/// `max_warp_bits`). One group keeps more CTAs per SM (they overlap each other's copies and MMAs);
/// past the register budget, spills cost more than that.
fn warp_bits_for(body: &Block, k: &Kernel, caps: &TargetCaps) -> u32 {
    let Some(rows) = caps.mma_acc.rows_per_group() else {
        return caps.warp_bits;
    };
    let (mut m, mut elems) = (0, 0u64);
    crate::walk::walk(body, &mut |op| {
        if let (OpKind::Dot { .. }, Some(r)) = (&op.kind, op.results.first())
            && let Type::Tile(t) = k.ty(*r)
        {
            let (pm, pn) = (padded_extent(t.shape[0]), padded_extent(t.shape[1]));
            m = m.max(pm);
            elems += u64::from(pm.max(rows)) * u64::from(pn.max(8));
        }
    });
    let asked = k
        .attr(MIN_WARP_BITS_ATTR)
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let mut wb = caps.warp_bits;
    while wb < caps.max_warp_bits
        && rows << (wb - caps.warp_bits + 1) <= m
        && (wb < asked || elems > u64::from(caps.acc_regs) << (caps.lane_bits + wb))
    {
        wb += 1;
    }
    wb
}

impl Pass for AssignLayouts {
    fn name(&self) -> &'static str {
        if self.prefer_mma {
            super::assign_layouts_mma::INFO.name
        } else {
            INFO.name
        }
    }

    fn run(&self, kernel: &mut Kernel, caps: &TargetCaps) -> Result<Changed, PassError> {
        if kernel.cta.is_some() {
            return Ok(Changed::No);
        }
        let cta = Cta {
            lane_bits: caps.lane_bits,
            warp_bits: warp_bits_for(&kernel.body, kernel, caps),
        };
        let body = std::mem::take(&mut kernel.body);
        let mut a = Assigner {
            k: kernel,
            caps,
            cta,
            remat: HashMap::new(),
            cache: vec![HashMap::new()],
            by_shape: Vec::new(),
            prefer_mma: self.prefer_mma,
            derived: HashSet::new(),
            flexible: HashSet::new(),
        };
        let body = a.block(body)?;
        a.k.body = body;
        // Values no op defines (listed as `dead` in the text form) still need a layout.
        for v in 0..a.k.values.len() {
            if let Type::Tile(t) = &a.k.values[v].ty
                && t.layout.is_logical()
            {
                let l = a.default_layout(&t.shape, t.dtype, t.scale.as_ref().map(|s| s.block.as_slice()));
                a.set(ValueId(v as u32), l);
            }
        }
        a.k.cta = Some(cta);
        Ok(Changed::Yes)
    }
}

struct Assigner<'k> {
    k: &'k mut Kernel,
    caps: &'k TargetCaps,
    cta: Cta,
    /// Ops cheap enough to recompute in another layout instead of converting their result.
    remat: HashMap<ValueId, Op>,
    /// Conversions already made in the enclosing blocks (innermost last).
    cache: Vec<HashMap<(ValueId, LinearLayout), ValueId>>,
    /// Layouts given to tiles so far, with their shapes (broadcast results pick from these).
    by_shape: Vec<(Vec<u32>, LinearLayout)>,
    /// MMA-first propagation (`assign-layouts-mma`).
    prefer_mma: bool,
    /// Values whose layout descends from a `dot` accumulator (MMA-first propagation).
    derived: HashSet<ValueId>,
    /// Loop-carried tiles of a trial run whose initial value is cheap: they follow the body.
    flexible: HashSet<ValueId>,
}

fn internal(message: impl Into<String>) -> PassError {
    PassError::Internal {
        pass: INFO.name,
        message: message.into(),
    }
}

impl Assigner<'_> {
    fn tile_shape(&self, v: ValueId) -> Option<Vec<u32>> {
        self.k.ty(v).as_tile().map(|t| t.shape.clone())
    }

    fn layout(&self, v: ValueId) -> Option<LinearLayout> {
        self.k.ty(v).as_tile().and_then(|t| t.layout.as_dist().cloned())
    }

    fn set(&mut self, v: ValueId, l: LinearLayout) {
        if let Type::Tile(t) = &mut self.k.values[v.0 as usize].ty {
            self.by_shape.push((t.shape.clone(), l.clone()));
            t.layout = TileLayout::Dist(l);
        }
    }

    /// How strongly an operand's layout should win an elementwise op (MMA-first propagation):
    /// descending from a dot, then any other computed tile, then cheap or flexible ones.
    fn rank(&self, v: ValueId) -> u8 {
        if self.derived.contains(&v) {
            2
        } else if self.remat.contains_key(&v) || self.flexible.contains(&v) {
            0
        } else {
            1
        }
    }

    /// The result of `op` is cheap to recompute when every tile operand is (MMA-first only:
    /// `n0 + arange(BN)`, its `[None, :]`, comparisons and masks built from them).
    fn mark_remat_chain(&mut self, op: &Op) {
        if !self.prefer_mma {
            return;
        }
        let Some(&r) = op.results.first() else {
            return;
        };
        let tiles = self.tile_operands(op);
        if !tiles.is_empty() && tiles.iter().all(|v| self.remat.contains_key(v)) {
            self.remat.insert(r, op.clone());
        }
    }

    /// The operands of `op` that are tiles with a layout.
    fn tile_operands(&self, op: &Op) -> Vec<ValueId> {
        op.kind
            .operands()
            .into_iter()
            .filter(|v| self.layout(*v).is_some())
            .collect()
    }

    /// Mark `r` as descending from a dot when `from` does.
    fn inherit(&mut self, r: ValueId, from: ValueId) {
        if self.derived.contains(&from) {
            self.derived.insert(r);
        }
    }

    /// The blocked layout of a fresh tile: 16 bytes per thread along the last dim (at least the
    /// scale block along it for scaled tiles, so a thread holds whole scale blocks).
    fn default_layout(&self, shape: &[u32], dtype: DType, block: Option<&[u32]>) -> LinearLayout {
        let mut vec = (128 / dtype.bits().max(1)).max(1);
        if let Some(b) = block.and_then(|b| b.last()) {
            vec = vec.max(*b);
        }
        let last = shape.last().map_or(1, |d| padded_extent(*d));
        LinearLayout::blocked(
            shape,
            vec.min(last),
            self.cta.lane_bits as usize,
            self.cta.warp_bits as usize,
        )
    }

    /// The packed axis of an FP4 tensor parameter.
    fn packed_axis(&self, p: tessera_ir::ParamId) -> Option<usize> {
        match &self.k.param(p).kind {
            tessera_ir::ParamKind::Tensor { ty, .. } => ty.packed_axis,
            _ => None,
        }
    }

    /// A blocked layout whose registers walk the packed axis `ax` first (two or more elements per
    /// thread along it): the blocked layout of the shape with `ax` moved last, mapped back.
    fn packed_layout(&self, shape: &[u32], ax: usize) -> LinearLayout {
        let last = shape.len() - 1;
        let mut s = shape.to_vec();
        s.swap(ax, last);
        let vec = padded_extent(s[last]).clamp(1, 8);
        LinearLayout::blocked(&s, vec, self.cta.lane_bits as usize, self.cta.warp_bits as usize)
            .swap_dims(ax, last)
    }

    fn default_for(&self, v: ValueId) -> Option<LinearLayout> {
        let t = self.k.ty(v).as_tile()?;
        Some(self.default_layout(&t.shape, t.dtype, t.scale.as_ref().map(|s| s.block.as_slice())))
    }

    /// `v` in layout `l`: itself, a cached conversion, a recomputation of a cheap op, or a new
    /// `convert_layout` appended to `out`.
    fn want(&mut self, out: &mut Vec<Op>, v: ValueId, l: &LinearLayout, span: Span) -> ValueId {
        match self.layout(v) {
            None => return v,
            Some(cur) if cur == *l => return v,
            _ => {}
        }
        let key = (v, l.clone());
        for c in self.cache.iter().rev() {
            if let Some(r) = c.get(&key) {
                return *r;
            }
        }
        let mut ty = self.k.ty(v).clone();
        if let Type::Tile(t) = &mut ty {
            t.layout = TileLayout::Dist(l.clone());
        }
        let name = self.k.value(v).name.clone();
        let r = self.k.new_value(ty, name);
        let op = match self.remat.get(&v).cloned() {
            Some(def) => {
                let mut op = def;
                // Tile operands of a recomputed chain are wanted in the layouts that give `l`.
                let rshape = self.tile_shape(v).unwrap_or_default();
                match &mut op.kind {
                    OpKind::Broadcast { x } if self.layout(*x).is_some() => {
                        let xshape = self.tile_shape(*x).unwrap_or_default();
                        let dims: Vec<bool> = xshape.iter().zip(&rshape).map(|(a, b)| a != b).collect();
                        *x = self.want(out, *x, &l.project(&dims), span);
                    }
                    OpKind::ExpandDims { x, axis } => {
                        let axis = *axis as usize;
                        *x = self.want(out, *x, &l.squeeze(axis), span);
                    }
                    OpKind::Full { .. } | OpKind::Arange { .. } | OpKind::Broadcast { .. } => {}
                    kind => {
                        let tiles: Vec<ValueId> = kind
                            .operands()
                            .into_iter()
                            .filter(|x| self.layout(*x).is_some())
                            .collect();
                        let mut map = HashMap::new();
                        for x in tiles {
                            let y = self.want(out, x, l, span);
                            map.insert(x, y);
                        }
                        kind.for_each_operand_mut(|x| {
                            if let Some(y) = map.get(x) {
                                *x = *y;
                            }
                        });
                    }
                }
                op.results = vec![r];
                self.remat.insert(r, op.clone());
                op
            }
            None => Op {
                kind: OpKind::ConvertLayout { x: v },
                results: vec![r],
                span,
            },
        };
        out.push(op);
        if let Some(c) = self.cache.last_mut() {
            c.insert(key, r);
        }
        r
    }

    fn block(&mut self, b: Block) -> Result<Block, PassError> {
        let mut out = Vec::with_capacity(b.ops.len());
        for op in b.ops {
            self.op(op, &mut out)?;
        }
        Ok(Block {
            args: b.args,
            ops: out,
        })
    }

    /// Convert the gather index tiles of an access to the layout `result` needs: each thread
    /// holds the index of each of its elements along the gathered dim.
    fn access(&mut self, out: &mut Vec<Op>, acc: &mut Access, result: Option<&LinearLayout>, span: Span) {
        let mut dim = 0;
        for ix in &mut acc.index {
            match ix {
                Index::Range { .. } => dim += 1,
                Index::Point(_) => {}
                Index::Gather(g) => {
                    if let Some(l) = result {
                        let want = l.along(dim);
                        *g = self.want(out, *g, &want, span);
                    }
                    dim += 1;
                }
            }
        }
    }

    fn op(&mut self, mut op: Op, out: &mut Vec<Op>) -> Result<(), PassError> {
        let span = op.span;
        let res = op.results.first().copied();
        let res_is_tile = res.is_some_and(|r| self.k.ty(r).as_tile().is_some());
        match &mut op.kind {
            OpKind::Full { .. } | OpKind::Arange { .. } => {
                let r = res.ok_or_else(|| internal("full/arange without a result"))?;
                let l = self
                    .default_for(r)
                    .ok_or_else(|| internal("full/arange of a scalar"))?;
                self.set(r, l);
                self.remat.insert(r, op.clone());
            }
            OpKind::Broadcast { x } => {
                let r = res.ok_or_else(|| internal("broadcast without a result"))?;
                let rshape = self
                    .tile_shape(r)
                    .ok_or_else(|| internal("broadcast to a scalar"))?;
                match self.tile_shape(*x) {
                    None => {
                        let l = self.default_for(r).ok_or_else(|| internal("broadcast type"))?;
                        self.set(r, l);
                        self.remat.insert(r, op.clone());
                    }
                    Some(xshape) => {
                        let dims: Vec<bool> = xshape.iter().zip(&rshape).map(|(a, b)| a != b).collect();
                        let xl = self.layout(*x);
                        let fits = |l: &LinearLayout| Some(l.project(&dims)) == xl;
                        let chosen = self
                            .by_shape
                            .iter()
                            .rev()
                            .filter(|(s, _)| *s == rshape)
                            .map(|(_, l)| l.clone())
                            .find(|l| l.is_axis_separable() && fits(l))
                            .or_else(|| {
                                (0..6).map(|v| 1u32 << v).find_map(|v| {
                                    let l = LinearLayout::blocked(
                                        &rshape,
                                        v.min(padded_extent(*rshape.last().unwrap_or(&1))),
                                        self.cta.lane_bits as usize,
                                        self.cta.warp_bits as usize,
                                    );
                                    fits(&l).then_some(l)
                                })
                            })
                            .or_else(|| self.default_for(r))
                            .ok_or_else(|| internal("broadcast type"))?;
                        *x = self.want(out, *x, &chosen.project(&dims), span);
                        let x = *x;
                        self.set(r, chosen);
                        self.inherit(r, x);
                        if self.prefer_mma {
                            // MMA-first: a broadcast is recomputed where another layout is
                            // wanted, its (smaller) source converted to the projection, instead
                            // of converting the broadcast tile whole.
                            self.remat.insert(r, op.clone());
                        }
                    }
                }
            }
            OpKind::Binary { .. }
            | OpKind::Unary { .. }
            | OpKind::Cmp { .. }
            | OpKind::Select { .. }
            | OpKind::Cast { .. }
            | OpKind::Dequant { scale: None, .. }
            | OpKind::Quantize { .. }
                if res_is_tile =>
            {
                let r = res.ok_or_else(|| internal("elementwise op without a result"))?;
                let operands = self.tile_operands(&op);
                let from = if self.prefer_mma {
                    // The first operand of the highest rank.
                    operands.iter().rev().max_by_key(|v| self.rank(**v)).copied()
                } else {
                    operands
                        .iter()
                        .find(|v| !self.remat.contains_key(v))
                        .or(operands.first())
                        .copied()
                };
                let target = from
                    .and_then(|v| self.layout(v))
                    .or_else(|| self.default_for(r))
                    .ok_or_else(|| internal("elementwise result type"))?;
                op.kind
                    .for_each_operand_mut(|v| *v = self.want(out, *v, &target, span));
                self.set(r, target);
                if let Some(f) = from {
                    self.inherit(r, f);
                }
                if !matches!(op.kind, OpKind::Quantize { .. } | OpKind::Dequant { .. }) {
                    self.mark_remat_chain(&op);
                }
            }
            OpKind::Dequant {
                x, scale: Some(s), ..
            } => {
                // An explicit scale tile is read per element by the lowering: give it the layout
                // of the codes' blocks (a blocked layout of its own shape).
                let r = res.ok_or_else(|| internal("dequant without a result"))?;
                let xl = self.layout(*x).ok_or_else(|| internal("dequant of a scalar"))?;
                if let Some(sl) = self.default_for(*s) {
                    *s = self.want(out, *s, &sl, span);
                }
                self.set(r, xl);
            }
            OpKind::ExpandDims { x, axis } => {
                let r = res.ok_or_else(|| internal("expand_dims without a result"))?;
                let xl = self
                    .layout(*x)
                    .ok_or_else(|| internal("expand_dims of a scalar"))?;
                self.set(r, xl.expand_dims(*axis as usize));
                let x = *x;
                self.inherit(r, x);
                self.mark_remat_chain(&op);
            }
            OpKind::Transpose { x } => {
                let r = res.ok_or_else(|| internal("transpose without a result"))?;
                let xl = self.layout(*x).ok_or_else(|| internal("transpose of a scalar"))?;
                self.set(r, xl.transpose());
                let x = *x;
                self.inherit(r, x);
            }
            OpKind::Reduce { x, axis, .. } => {
                let mut xl = self.layout(*x).ok_or_else(|| internal("reduce of a scalar"))?;
                if !xl.is_axis_separable() {
                    xl = self.default_for(*x).ok_or_else(|| internal("reduce type"))?;
                    *x = self.want(out, *x, &xl, span);
                }
                if let Some(r) = res
                    && res_is_tile
                {
                    self.set(r, xl.slice(*axis as usize));
                    let x = *x;
                    self.inherit(r, x);
                }
            }
            OpKind::Load { access, .. } => {
                if let Some(r) = res
                    && res_is_tile
                {
                    let l = self.default_for(r).ok_or_else(|| internal("load type"))?;
                    self.access(out, access, Some(&l), span);
                    self.set(r, l);
                }
            }
            OpKind::Store { access, value } | OpKind::AtomicAdd { access, value } => {
                // FP4 codes are stored two per byte along the packed axis: each thread must hold
                // both codes of its bytes (register bit 0 steps +1 along that axis).
                if let Some(ax) = self
                    .packed_axis(access.tensor)
                    .and_then(|d| access.range_tile_dim(d))
                    && let Some(l) = self.layout(*value)
                    && l.contiguous_regs(ax) < 2
                {
                    let shape = self.tile_shape(*value).ok_or_else(|| internal("store type"))?;
                    let want = self.packed_layout(&shape, ax);
                    *value = self.want(out, *value, &want, span);
                }
                let l = self.layout(*value);
                self.access(out, access, l.as_ref(), span);
            }
            OpKind::Dot { acc, .. } => {
                // The accumulator lives in the MMA's accumulator fragment; the operands keep their
                // register layouts and are staged through shared memory by the dot's lowering.
                let r = res.ok_or_else(|| internal("dot without a result"))?;
                let shape = self.tile_shape(r).ok_or_else(|| internal("dot result type"))?;
                let l = self
                    .caps
                    .mma_acc
                    .layout(
                        shape[0],
                        shape[1],
                        self.cta.lane_bits as usize,
                        self.cta.warp_bits as usize,
                    )
                    .or_else(|| self.default_for(r))
                    .ok_or_else(|| internal("dot type"))?;
                *acc = self.want(out, *acc, &l, span);
                self.set(r, l);
                self.derived.insert(r);
            }
            OpKind::ConvertLayout { .. } => {
                return Err(internal("convert_layout in a kernel without layouts"));
            }
            OpKind::For { inits, body, .. } => {
                let carried: Vec<Option<LinearLayout>> = inits.iter().map(|v| self.layout(*v)).collect();
                // A trial run of the body on a copy tells which layout each carried tile leaves
                // the body in.
                let trial = {
                    let mut k2 = self.k.clone();
                    let mut t = Assigner {
                        k: &mut k2,
                        caps: self.caps,
                        cta: self.cta,
                        remat: self.remat.clone(),
                        cache: vec![HashMap::new()],
                        by_shape: self.by_shape.clone(),
                        prefer_mma: self.prefer_mma,
                        derived: self.derived.clone(),
                        flexible: HashSet::new(),
                    };
                    for (i, (arg, l)) in body.args.iter().skip(1).zip(&carried).enumerate() {
                        if let Some(l) = l {
                            t.set(*arg, l.clone());
                        }
                        if t.prefer_mma && self.remat.contains_key(&inits[i]) {
                            t.flexible.insert(*arg);
                        }
                    }
                    let tb = t.block(body.clone())?;
                    let derived: Vec<bool> = match tb.ops.last().map(|o| &o.kind) {
                        Some(OpKind::Yield { values }) => {
                            values.iter().map(|v| t.derived.contains(v)).collect()
                        }
                        _ => Vec::new(),
                    };
                    (yield_layouts(&t, &tb), derived)
                };
                let (trial, trial_derived) = trial;
                let mut chosen = carried.clone();
                for (i, (c, y)) in carried.iter().zip(&trial).enumerate() {
                    if c.is_some() && y.is_some() && c != y && self.remat.contains_key(&inits[i]) {
                        chosen[i] = y.clone();
                    }
                }
                for (i, l) in chosen.iter().enumerate() {
                    if let Some(l) = l {
                        inits[i] = self.want(out, inits[i], l, span);
                        self.set(body.args[i + 1], l.clone());
                        if self.prefer_mma && chosen[i] == trial[i] && trial_derived.get(i) == Some(&true) {
                            self.derived.insert(body.args[i + 1]);
                            self.derived.insert(op.results[i]);
                        }
                    }
                }
                self.cache.push(HashMap::new());
                let mut nb = self.block(std::mem::take(body))?;
                conform_yield(self, &mut nb, &chosen, span)?;
                self.cache.pop();
                *body = nb;
                for (r, l) in op.results.iter().zip(&chosen) {
                    if let Some(l) = l {
                        self.set(*r, l.clone());
                    }
                }
            }
            OpKind::If {
                then_block,
                else_block,
                ..
            } => {
                self.cache.push(HashMap::new());
                let tb = self.block(std::mem::take(then_block))?;
                self.cache.pop();
                let chosen = yield_layouts(self, &tb);
                self.cache.push(HashMap::new());
                let mut eb = self.block(std::mem::take(else_block))?;
                conform_yield(self, &mut eb, &chosen, span)?;
                self.cache.pop();
                *then_block = tb;
                *else_block = eb;
                for (r, l) in op.results.iter().zip(&chosen) {
                    if let Some(l) = l {
                        self.set(*r, l.clone());
                    }
                }
            }
            OpKind::Yield { .. } => {}
            OpKind::ConstInt { .. }
            | OpKind::ConstFloat { .. }
            | OpKind::ProgramId { .. }
            | OpKind::NumPrograms { .. }
            | OpKind::SymDim { .. }
            | OpKind::Binary { .. }
            | OpKind::Unary { .. }
            | OpKind::Cmp { .. }
            | OpKind::Select { .. }
            | OpKind::Cast { .. }
            | OpKind::Dequant { .. }
            | OpKind::Quantize { .. } => {
                if res_is_tile {
                    return Err(internal(format!("unhandled tile op `{}`", op.kind.mnemonic())));
                }
            }
        }
        out.push(op);
        Ok(())
    }
}

/// The layouts of the values a block yields.
fn yield_layouts(a: &Assigner<'_>, b: &Block) -> Vec<Option<LinearLayout>> {
    match b.ops.last().map(|o| &o.kind) {
        Some(OpKind::Yield { values }) => values.iter().map(|v| a.layout(*v)).collect(),
        _ => Vec::new(),
    }
}

/// Convert the values a block yields to the layouts of its parent's results.
fn conform_yield(
    a: &mut Assigner<'_>,
    b: &mut Block,
    want: &[Option<LinearLayout>],
    span: Span,
) -> Result<(), PassError> {
    let Some(mut y) = b.ops.pop() else {
        return Ok(());
    };
    if let OpKind::Yield { values } = &mut y.kind {
        for (v, l) in values.iter_mut().zip(want) {
            if let Some(l) = l {
                *v = a.want(&mut b.ops, *v, l, span);
            }
        }
    }
    b.ops.push(y);
    Ok(())
}
