//! Dot operands copied from global to shared memory with `cp.async`, skipping registers.
//!
//! A `load` whose only use is a `dot` operand (the A tile `[M, K]`, or the B tile `[N, K]` under
//! the `transpose` that makes it `[K, N]`) in the same block is not lowered where it stands: the
//! dot issues it, each thread copying 16-byte chunks of K straight into the swizzled K-major
//! staging tile (`cp.async.cg`, zero-filled past the tensor's edge), so the tile never occupies
//! registers. This is instruction selection (a load folded into its user), not a change of
//! meaning: a deferred load that the dot cannot take this way (a scaled or FMA dot, a padded tile,
//! a run not 16-byte aligned at run time) is lowered as an ordinary load after all.

use super::*;

/// A load the dot may issue itself: its access and its `other` value.
#[derive(Clone)]
pub(super) struct Deferred {
    pub access: Access,
    pub other: f64,
    /// A packed FP4 tile: the dtype its dot stages it in (e4m3 codes for a dot taking scaled
    /// operands as codes, else bf16), set by [`keep_dot_taken`].
    pub packed_as: Option<DType>,
    /// Plain packed FP4 codes under an explicit `dequant(codes, scales)` to bf16 whose result
    /// only feeds the dot (as B, under its transpose): the dot stages `code * scale` from the
    /// codes' bytes, reading each chunk's scale where the scale tile's load would.
    pub explicit: Option<ExplicitScale>,
    /// A packed tile staged as bf16: the most codes (a power of two, at most 32) from a multiple of
    /// which along K a run lies inside one scale block, so one thread converts it with one
    /// scale; set by [`keep_dot_taken`].
    pub scale_run: u32,
}

/// The scale side of an explicit `dequant` folded into a packed load's staging
/// ([`Deferred::explicit`]). Its load and the `dequant` are not lowered where they stand: the
/// dot reads the scales itself, or ([`Gen::materialize`]) lowers all three ops as written.
#[derive(Clone)]
pub(super) struct ExplicitScale {
    /// The scale tile's load, its access and its `other` value.
    pub load: ValueId,
    pub access: Access,
    pub other: f64,
    /// The `dequant` result and its dtype.
    pub dequant: ValueId,
    pub to: DType,
    /// Codes per scale along the tile's rows and along K (the two tiles' shape ratio, as
    /// `dequant` infers it).
    pub block: [u32; 2],
}

/// What [`candidates`] finds: the deferrable loads, the `transpose` results that carry B loads
/// to their dots, and the plain loads a dot takes as its B directly (`[K, N]`, N contiguous:
/// not K-major, so no dot copies them itself; a ring may carry them as they are, `ring::Rider`).
pub(super) struct Candidates {
    pub loads: HashMap<ValueId, Deferred>,
    pub transposed: HashMap<ValueId, ValueId>,
    pub n_major: HashMap<ValueId, Deferred>,
}

/// The loads of `k` that only feed a dot operand in their own block (directly for A, through one
/// `transpose` for B), read a 2-D tensor the kernel never writes with a K-contiguous range tile,
/// and fill masked elements with 0; with, for each, the `transpose` result that carries it to the
/// dot (B operands); and the plain loads of the same kind a dot takes as B without a transpose.
pub(super) fn candidates(k: &Kernel, scaled: bool, packed: bool) -> Candidates {
    let mut uses: HashMap<ValueId, u32> = HashMap::new();
    let mut written = std::collections::HashSet::new();
    fn walk<'k>(b: &'k IrBlock, f: &mut dyn FnMut(&'k IrBlock, &'k Op)) {
        for op in &b.ops {
            f(b, op);
            for inner in op.kind.blocks() {
                walk(inner, f);
            }
        }
    }
    walk(&k.body, &mut |_, op| {
        for v in op.kind.operands() {
            *uses.entry(v).or_default() += 1;
        }
        if let OpKind::Store { access, .. } | OpKind::AtomicAdd { access, .. } = &op.kind {
            written.insert(access.tensor);
        }
    });
    let eligible = |op: &Op| -> Option<Deferred> {
        let OpKind::Load { access, other } = &op.kind else {
            return None;
        };
        let r = *op.results.first()?;
        let t = k.ty(r).as_tile()?;
        let ParamKind::Tensor { ty, .. } = &k.param(access.tensor).kind else {
            return None;
        };
        // Plain tiles, or (`scaled`) fp8 codes with e8m0 (MXFP8) or f32 block scales: one byte
        // each, the scales read by the dot.
        let mx_codes = scaled
            && matches!(t.dtype, DType::F8E4M3 | DType::F8E5M2)
            && ty
                .scale
                .as_ref()
                .is_some_and(|s| matches!(s.scale_dtype, DType::E8M0 | DType::F32) && !s.global);
        // (`packed`) FP4 codes packed along K, staged from their bytes by the dot (`packed`).
        let packed_fp4 = packed && super::packed::is_packed_fp4(t, ty);
        let plain = ((mx_codes || (t.scale.is_none() && ty.scale.is_none())) && ty.packed_axis.is_none())
            || packed_fp4;
        // A 2-D tile: leading point coordinates (batch, head), then a row and a K range.
        let n = access.index.len();
        let two_ranges = n >= 2
            && access.index[..n - 2].iter().all(|i| matches!(i, Index::Point(_)))
            && access.index[n - 2..]
                .iter()
                .all(|i| matches!(i, Index::Range { .. }))
            && access.bounds.iter().all(|b| b.lo.is_none() && b.hi.is_none());
        let dtype_ok = packed_fp4
            || matches!(
                t.dtype,
                DType::BF16 | DType::F16 | DType::F8E4M3 | DType::F8E5M2 | DType::I8
            );
        (plain
            && two_ranges
            && dtype_ok
            && *other == 0.0
            && !written.contains(&access.tensor)
            && uses.get(&r) == Some(&1))
        .then(|| Deferred {
            access: access.clone(),
            other: *other,
            packed_as: None,
            explicit: None,
            scale_run: 0,
        })
    };
    // `dequant<bf16>(load codes, load scales)`: plain FP4 codes packed along K, their scale tile
    // a 2-D slice the kernel never writes, each op's result used once.
    let explicit = |blk: &IrBlock, dq: &Op| -> Option<(ValueId, Deferred)> {
        let OpKind::Dequant {
            x,
            scale: Some(s),
            to: DType::BF16,
        } = &dq.kind
        else {
            return None;
        };
        let def = |v: ValueId| blk.ops.iter().find(|o| o.results.first() == Some(&v));
        let w = *dq.results.first()?;
        let (qop, sop) = (def(*x)?, def(*s)?);
        let (
            OpKind::Load {
                access: qa,
                other: qo,
            },
            OpKind::Load {
                access: sa,
                other: so,
            },
        ) = (&qop.kind, &sop.kind)
        else {
            return None;
        };
        let (tq, ts) = (k.ty(*x).as_tile()?, k.ty(*s).as_tile()?);
        let (ParamKind::Tensor { ty: qty, .. }, ParamKind::Tensor { ty: sty, .. }) =
            (&k.param(qa.tensor).kind, &k.param(sa.tensor).kind)
        else {
            return None;
        };
        let slice = |a: &Access| {
            let n = a.index.len();
            n >= 2
                && a.index[..n - 2].iter().all(|i| matches!(i, Index::Point(_)))
                && a.index[n - 2..].iter().all(|i| matches!(i, Index::Range { .. }))
                && a.bounds.iter().all(|b| b.lo.is_none() && b.hi.is_none())
        };
        let codes = tq.dtype == DType::F4E2M1
            && tq.scale.is_none()
            && qty.scale.is_none()
            && qty.packed_axis == qty.dims.len().checked_sub(1)
            && *qo == 0.0;
        let scales = matches!(ts.dtype, DType::E8M0 | DType::UE4M3 | DType::F32)
            && ts.scale.is_none()
            && sty.scale.is_none()
            && sty.packed_axis.is_none();
        let (&[r, kk], &[rs, ks]) = (tq.shape.as_slice(), ts.shape.as_slice()) else {
            return None;
        };
        let divides = rs > 0 && ks > 0 && r.is_multiple_of(rs) && kk.is_multiple_of(ks);
        let once = [w, *x, *s].iter().all(|v| uses.get(v) == Some(&1));
        (codes
            && scales
            && divides
            && once
            && slice(qa)
            && slice(sa)
            && ![qa.tensor, sa.tensor].iter().any(|t| written.contains(t)))
        .then(|| {
            (
                *x,
                Deferred {
                    access: qa.clone(),
                    other: *qo,
                    packed_as: None,
                    explicit: Some(ExplicitScale {
                        load: *s,
                        access: sa.clone(),
                        other: *so,
                        dequant: w,
                        to: DType::BF16,
                        block: [r / rs, kk / ks],
                    }),
                    scale_run: 0,
                },
            )
        })
    };
    let mut loads = HashMap::new();
    let mut transposed = HashMap::new();
    let mut n_major = HashMap::new();
    walk(&k.body, &mut |blk, op| {
        let OpKind::Dot { a, b, .. } = &op.kind else {
            return;
        };
        let def = |v: ValueId| blk.ops.iter().find(|o| o.results.first() == Some(&v));
        if let Some(d) = def(*a).and_then(eligible) {
            loads.insert(*a, d);
        }
        if let Some(d) = def(*b).and_then(eligible)
            && k.ty(*b)
                .as_tile()
                .is_some_and(|t| t.scale.is_none() && t.dtype != DType::F4E2M1)
        {
            n_major.insert(*b, d);
        }
        if let Some(t) = def(*b)
            && let OpKind::Transpose { x } = &t.kind
            && uses.get(b) == Some(&1)
        {
            if let Some(d) = def(*x).and_then(eligible) {
                loads.insert(*x, d);
                transposed.insert(*b, *x);
            } else if packed && let Some((l, d)) = def(*x).and_then(|o| explicit(blk, o)) {
                loads.insert(l, d);
                transposed.insert(*b, l);
            }
        }
    });
    Candidates {
        loads,
        transposed,
        n_major,
    }
}

/// Scaled loads stay deferrable only where their dot takes them without registers: as codes with
/// per-K-group scales (`dot::group_size`), or, packed FP4 with a partner that goes on bf16 too,
/// staged as bf16 from their bytes (`packed`), each staged chunk of 8 codes inside one scale
/// block. Any other dot dequantizes its scaled operands from registers. Packed loads kept get
/// the dtype they are staged in (`Deferred::packed_as`).
pub(super) fn keep_dot_taken(
    k: &Kernel,
    align: &super::align::Align,
    nvfp4_wgmma: bool,
    deferrable: &mut HashMap<ValueId, Deferred>,
    transposed: &HashMap<ValueId, ValueId>,
) {
    fn walk(b: &IrBlock, f: &mut dyn FnMut(&Op)) {
        for op in &b.ops {
            f(op);
            for inner in op.kind.blocks() {
                walk(inner, f);
            }
        }
    }
    let mut loads: HashMap<ValueId, ParamId> = HashMap::new();
    walk(&k.body, &mut |op| {
        if let (OpKind::Load { access, .. }, Some(r)) = (&op.kind, op.results.first()) {
            loads.insert(*r, access.tensor);
        }
    });
    let mut drop = Vec::new();
    // (load, dtype staged in, scale run)
    let mut staged = Vec::new();
    walk(&k.body, &mut |op| {
        let OpKind::Dot { a, b, .. } = &op.kind else {
            return;
        };
        let ls = [*a, transposed.get(b).copied().unwrap_or(*b)];
        let packed = |l: ValueId| {
            deferrable.contains_key(&l) && k.ty(l).as_tile().is_some_and(|t| t.dtype == DType::F4E2M1)
        };
        if super::dot::group_size(k, align, *a, *b).is_some() {
            // Codes: the per-K-group tables hold block scales only, so a packed tile with a
            // per-tensor scale (NVFP4) is not taken this way.
            for l in ls.into_iter().filter(|l| packed(*l)) {
                if deferrable.get(&l).is_some_and(|d| d.explicit.is_some()) {
                    // (An explicit dequant's result is bf16, never taken as codes.)
                    drop.push(l);
                    continue;
                }
                let global = k
                    .ty(l)
                    .as_tile()
                    .and_then(|t| t.scale.as_ref())
                    .is_some_and(|s| s.global);
                if global {
                    drop.push(l);
                } else {
                    staged.push((l, DType::F8E4M3, 32));
                }
            }
            return;
        }
        let explicit = |l: &ValueId| deferrable.get(l).and_then(|d| d.explicit.as_ref());
        let bf16 = ls.iter().all(|l| {
            explicit(l).is_some_and(|e| e.to == DType::BF16)
                || on_bf16_static(k, *l, loads.get(l).copied(), nvfp4_wgmma)
        });
        // The dot operand (`a`, or `b` over its transposed load) and its K axis.
        for ((v, axis), l) in [(*a, 1), (*b, 0)].into_iter().zip(ls) {
            let chunk = super::packed::codes_per_chunk(DType::BF16);
            // Each staged chunk inside one scale block: an explicit scale tile's blocks are
            // in tile coordinates (the chunks start at multiples of `chunk` in the tile).
            let in_block = |run: u32| match explicit(&l) {
                Some(e) => e.block[1].is_multiple_of(run),
                None => super::packed::chunk_in_block(k, align, v, axis, run),
            };
            if bf16 && packed(l) && in_block(chunk) {
                let run = [32, 16].into_iter().find(|r| in_block(*r)).unwrap_or(chunk);
                staged.push((l, DType::BF16, run));
            } else {
                drop.push(l);
            }
        }
    });
    for l in drop {
        let explicit = deferrable.get(&l).is_some_and(|d| d.explicit.is_some());
        if explicit || k.ty(l).as_tile().is_some_and(|t| t.scale.is_some()) {
            deferrable.remove(&l);
        }
    }
    for (l, d, run) in staged {
        if let Some(x) = deferrable.get_mut(&l) {
            x.packed_as = Some(d);
            x.scale_run = run;
        }
    }
}

/// Whether dot operand (or its load) `v` reaches a bf16 wgmma, known before lowering: a bf16 tile,
/// an MX tile (dequantized to bf16), or an NVFP4 tile loaded from `tensor` whose per-tensor scale
/// the dot can apply to its partial (`nvfp4_wgmma`).
pub(super) fn on_bf16_static(k: &Kernel, v: ValueId, tensor: Option<ParamId>, nvfp4_wgmma: bool) -> bool {
    let Some(t) = k.ty(v).as_tile() else {
        return false;
    };
    match &t.scale {
        None => t.dtype == DType::BF16,
        Some(s) if s.scale_dtype == DType::E8M0 && !s.global => true,
        Some(s) => {
            nvfp4_wgmma
                && t.dtype == DType::F4E2M1
                && s.scale_dtype == DType::UE4M3
                && s.global
                && tensor.is_some_and(|p| k.attr(&format!("global_scale.{}", k.param(p).name)).is_some())
        }
    }
}

/// Whether dot `a @ b`'s operand tiles, staged as `da` and `db`, can be copied in whole: a plain
/// wgmma pair (or, `grouped` allowed, fp8 codes), rows a power of two (an atom taller than the tile, 64 rows for A and 8
/// for B, repeats them), K a power of two holding at least one wgmma step and whole 16-byte chunks.
/// `grouped`: the dot applies scales per K group, which only async scaled copies allow (off with `--no-async-scaled-copies`).
pub(super) fn whole_tiles(
    k: &Kernel,
    a: ValueId,
    bv: ValueId,
    grouped: bool,
    (da, db): (DType, DType),
) -> (bool, bool) {
    let (Some(ta), Some(tb)) = (k.ty(a).as_tile(), k.ty(bv).as_tile()) else {
        return (false, false);
    };
    let Some((kstep, eb)) = super::dot::wgmma_step(da, db) else {
        return (false, false);
    };
    let kk = ta.shape[1];
    let k_ok = !grouped && kk.is_power_of_two() && kk >= kstep && (kk * eb).is_multiple_of(16);
    let (m, n) = (ta.shape[0], tb.shape[1]);
    (k_ok && m.is_power_of_two(), k_ok && n.is_power_of_two())
}

impl<'c> Gen<'c, '_> {
    /// The deferred load behind dot operand `v` (`v` itself, or the load under its transpose).
    pub(super) fn deferred_of(&self, v: ValueId) -> Option<ValueId> {
        let l = self.transposed.get(&v).copied().unwrap_or(v);
        self.pending.contains_key(&l).then_some(l)
    }

    /// The deferred packed load whose explicit `dequant` folds `v` (that `dequant`'s result, or
    /// its scale tile's load), if any.
    pub(super) fn folded_into(&self, v: ValueId) -> Option<ValueId> {
        self.deferrable.iter().find_map(|(l, d)| {
            d.explicit
                .as_ref()
                .is_some_and(|e| e.load == v || e.dequant == v)
                .then_some(*l)
        })
    }

    /// Lower the deferred load behind `v` as an ordinary load (and its transpose as a renaming).
    pub(super) fn materialize(&mut self, b: &Block<'c>, v: ValueId, span: Span) -> Result<(), LoweringError> {
        let Some(l) = self.deferred_of(v) else {
            return Ok(());
        };
        let d = self.pending.remove(&l).ok_or_else(|| ice("deferred load"))?;
        if let Some(e) = &d.explicit {
            // The codes, their scales and the `dequant` as the program has them.
            let q = self.load_scaled(b, &d.access, l, span)?;
            self.env.insert(l, q);
            let s = self.load(b, &e.access, e.other, e.load, span)?;
            self.env.insert(e.load, s);
            let w = Val::Tile(self.dequant(b, l, Some(e.load), e.to, span)?);
            self.env.insert(e.dequant, w.clone());
            // (B's transpose renames the registers.)
            self.env.insert(v, w);
            return Ok(());
        }
        // (A packed FP4 tile's codes are nibbles: the scaled load unpacks them.)
        let packed = self.k.ty(l).as_tile().is_some_and(|t| t.dtype == DType::F4E2M1);
        let val = if packed {
            self.load_scaled(b, &d.access, l, span)?
        } else {
            self.load(b, &d.access, d.other, l, span)?
        };
        if l != v {
            // The transpose renames registers: a scaled tile keeps its scales.
            self.env.insert(v, val.clone());
            if let Some(x) = self.scales.get(&l).cloned() {
                self.scales.insert(v, x);
            }
            if let Some(x) = self.scale_codes.get(&l).cloned() {
                self.scale_codes.insert(v, x);
            }
            if let Some(g) = self.globals.get(&l).copied() {
                self.globals.insert(v, g);
            }
        }
        self.env.insert(l, val);
        Ok(())
    }

    /// Copy the `[rows, kk]` tile of deferred load `l` into the K-major swizzled staging tile at
    /// `region` bytes from `base` (see [`Self::issue_tile`]), and wait for this thread's copies.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage_async(
        &mut self,
        b: &Block<'c>,
        l: ValueId,
        shape: (u32, u32, u32),
        sw: u32,
        region: u32,
        base: V,
        span: Span,
    ) -> Result<(), LoweringError> {
        let d = self.pending.remove(&l).ok_or_else(|| ice("deferred load"))?;
        let at = self.tile_at(&tile_starts(&d.access)?)?;
        self.issue_tile(b, &d.access, &at, shape, sw, (region, base), true, span)
    }

    /// The lowered coordinates of a deferred load's tile.
    pub(super) fn tile_at(&self, t: &TileIndex) -> Result<TileAt, LoweringError> {
        Ok(TileAt {
            points: t
                .points
                .iter()
                .map(|p| self.scalar(*p))
                .collect::<Result<_, _>>()?,
            r0: self.scalar(t.r0)?,
            k0: self.scalar(t.k0)?,
        })
    }

    /// Copy the `[rows, kk]` tile of `access` at `at` (leading points, row `r0`, K `k0`) into the
    /// K-major swizzled staging tile at `region` bytes from `base`: `cp.async`, 16 bytes per copy,
    /// zero-filled out of bounds (a point out of its dimension zero-fills the whole tile), or,
    /// when the tensor's rows or the tile's K start are not 16-byte aligned at run time, element by
    /// element through registers. `complete`: commit the copies and wait for them; else the caller
    /// commits them as one group (the ring).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn issue_tile(
        &self,
        b: &Block<'c>,
        access: &Access,
        at: &TileAt,
        (rows, kk, eb): (u32, u32, u32),
        sw: u32,
        (region, base): (u32, V),
        complete: bool,
        span: Span,
    ) -> Result<(), LoweringError> {
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("deferred load of a scalar"));
        };
        // Staging rows past the tile's own (an atom taller than the tile) repeat its rows.
        let n = access.index.len();
        let real_rows = tile_rows(access)?;
        if !real_rows.is_power_of_two() || !rows.is_multiple_of(real_rows) {
            return Err(ice("deferred tile rows do not divide the staging rows"));
        }
        if at.points.len() != n - 2 {
            return Err(ice("deferred load points"));
        }
        let all_dims = self.dims(b, &ty.dims, span)?;
        let gbase = *self
            .tensors
            .get(&access.tensor)
            .ok_or_else(|| ice("tensor pointer"))?;
        let m = &self.m;
        let c64 = |b: &Block<'c>, x: i64| m.const_int(b, x, 64);
        let (r0, k0) = (
            m.conv(b, "arith.extsi", at.r0, m.i(64))?,
            m.conv(b, "arith.extsi", at.k0, m.i(64))?,
        );
        // The 2-D slice's first element (row-major).
        let (mut first, inside) = self.leading_points(b, &at.points, &all_dims)?;
        for d in &all_dims[n - 2..] {
            first = m.bin(b, "arith.muli", first, *d)?;
        }
        let dims = &all_dims[n - 2..];
        // Aligned when the row length and the K start are multiples of 16 bytes (buffers
        // themselves are 256-byte aligned by the runtime).
        let per = c64(b, (16 / eb) as i64)?;
        let z64 = c64(b, 0)?;
        let rem_row = m.bin(b, "arith.remsi", dims[1], per)?;
        let rem_k = m.bin(b, "arith.remsi", k0, per)?;
        let a1 = m.cmp(b, false, 0, rem_row, z64)?;
        let a2 = m.cmp(b, false, 0, rem_k, z64)?;
        let aligned = m.bin(b, "arith.andi", a1, a2)?;
        let tid = self.tid(b)?;
        // Unaligned at run time: the same chunks, element by element through registers (one
        // element live at a time, so the fallback costs no registers).
        let chunks = |blk: &Block<'c>, asynchronous: bool| -> Result<Vec<V>, LoweringError> {
            self.copy_chunks(
                blk,
                (gbase, (first, inside), r0, k0, dims),
                tid,
                (rows, real_rows, kk, eb),
                sw,
                region,
                base,
                asynchronous,
            )?;
            if asynchronous && complete {
                self.m.async_commit_wait(blk, 0)?;
            }
            Ok(vec![])
        };
        m.if_(b, aligned, &[], |tb| chunks(tb, true), |eb_| chunks(eb_, false))?;
        Ok(())
    }

    /// The leading point coordinates of a deferred load's tile, linearized row-major over their
    /// dimensions (the first `points.len()` of `dims`), and whether every point lies inside its
    /// dimension.
    pub(super) fn leading_points(
        &self,
        b: &Block<'c>,
        points: &[V],
        dims: &[V],
    ) -> Result<(V, V), LoweringError> {
        let m = &self.m;
        let z = m.const_int(b, 0, 64)?;
        let mut lin = z;
        let mut inside = m.const_int(b, 1, 1)?;
        for (p, d) in points.iter().zip(dims) {
            let p = m.conv(b, "arith.extsi", *p, m.i(64))?;
            let lo = m.cmp(b, false, 5, p, z)?; // sge
            let hi = m.cmp(b, false, 2, p, *d)?; // slt
            inside = m.bin(b, "arith.andi", inside, lo)?;
            inside = m.bin(b, "arith.andi", inside, hi)?;
            lin = m.bin(b, "arith.muli", lin, *d)?;
            lin = m.bin(b, "arith.addi", lin, p)?;
        }
        Ok((lin, inside))
    }

    /// Copy one `[rows, kk]` tile in 16-byte chunks of K, round-robin over the CTA's threads:
    /// `cp.async` copies (not committed), or (`asynchronous` false) element by element.
    #[allow(clippy::too_many_arguments)]
    fn copy_chunks(
        &self,
        tb: &Block<'c>,
        (gbase, (first, inside), r0, k0, dims): (V, (V, V), V, V, &[V]),
        tid: V,
        (rows, real_rows, kk, eb): (u32, u32, u32, u32),
        sw: u32,
        region: u32,
        base: V,
        asynchronous: bool,
    ) -> Result<(), LoweringError> {
        let m = &self.m;
        let cpr = kk * eb / 16; // chunks per row
        let total = rows * cpr;
        let copy = |cb: &Block<'c>, idx: V| -> Result<(), LoweringError> {
            let c = |x: u32| m.const_int(cb, x as i64, 32);
            let row = m.bin(cb, "arith.divui", idx, c(cpr)?)?;
            let ch = m.bin(cb, "arith.remui", idx, c(cpr)?)?;
            let kel = m.bin(cb, "arith.muli", ch, c(16 / eb)?)?;
            let dst = self.swizzled(cb, row, kel, rows, sw, eb, region, base)?;
            // Global element (r0 + row mod real_rows, k0 + kel); the bytes left in its row,
            // clamped to 16.
            let trow = if real_rows < rows {
                m.bin(cb, "arith.andi", row, c(real_rows - 1)?)?
            } else {
                row
            };
            let row64 = m.conv(cb, "arith.extui", trow, m.i(64))?;
            let kel64 = m.conv(cb, "arith.extui", kel, m.i(64))?;
            let gr = m.bin(cb, "arith.addi", r0, row64)?;
            let gk = m.bin(cb, "arith.addi", k0, kel64)?;
            let z = m.const_int(cb, 0, 64)?;
            let r_lo = m.cmp(cb, false, 5, gr, z)?; // sge
            let r_hi = m.cmp(cb, false, 2, gr, dims[0])?; // slt
            let k_lo = m.cmp(cb, false, 5, gk, z)?;
            let row_ok = m.bin(cb, "arith.andi", r_lo, r_hi)?;
            let row_ok = m.bin(cb, "arith.andi", row_ok, inside)?;
            let ok = m.bin(cb, "arith.andi", row_ok, k_lo)?;
            let left = m.bin(cb, "arith.subi", dims[1], gk)?;
            let eb64 = m.const_int(cb, eb as i64, 64)?;
            let left = m.bin(cb, "arith.muli", left, eb64)?;
            let sixteen = m.const_int(cb, 16, 64)?;
            let left = m.bin(cb, "arith.minsi", left, sixteen)?;
            let left = m.bin(cb, "arith.maxsi", left, z)?;
            let bytes = m.op1(cb, "arith.select", &[ok, left, z], m.i(64), &[])?;
            let bytes = m.conv(cb, "arith.trunci", bytes, m.i(32))?;
            let lin = m.bin(cb, "arith.muli", gr, dims[1])?;
            let lin = m.bin(cb, "arith.addi", lin, gk)?;
            let lin = m.bin(cb, "arith.addi", lin, first)?;
            if !asynchronous {
                let et = m.i(8 * eb);
                let zero = m.const_int(cb, 0, 8 * eb)?;
                for e in 0..16 / eb {
                    let ev = m.const_int(cb, e as i64, 64)?;
                    let ke = m.bin(cb, "arith.addi", gk, ev)?;
                    // Per element: an unaligned chunk may straddle K = 0 as well as K's end.
                    let k_lo = m.cmp(cb, false, 5, ke, z)?; // sge
                    let k_hi = m.cmp(cb, false, 2, ke, dims[1])?; // slt
                    let in_k = m.bin(cb, "arith.andi", k_lo, k_hi)?;
                    let valid = m.bin(cb, "arith.andi", row_ok, in_k)?;
                    let le = m.bin(cb, "arith.addi", lin, ev)?;
                    let x = m.load_or(cb, valid, gbase, le, et, zero)?;
                    let o = m.const_int(cb, (e * eb) as i64, 64)?;
                    let p = m.gep(cb, dst, o, m.i(8))?;
                    m.store(cb, x, p)?;
                }
                return Ok(());
            }
            // A copy of nothing (zero fill) reads from the tensor's first element.
            let z32 = m.const_int(cb, 0, 32)?;
            let has = m.cmp(cb, false, 1, bytes, z32)?; // ne
            let lin = m.op1(cb, "arith.select", &[has, lin, z], m.i(64), &[])?;
            let byte_off = m.bin(cb, "arith.muli", lin, eb64)?;
            let src = m.gep(cb, gbase, byte_off, m.i(8))?;
            m.cp_async_16(cb, dst, src, bytes)?;
            Ok(())
        };
        self.spread(tb, total, tid, &copy)
    }
}

/// Where a deferred load's tile lies: its leading point coordinates, then its row and K starts.
pub(super) struct TileIndex {
    pub points: Vec<ValueId>,
    pub r0: ValueId,
    pub k0: ValueId,
}

impl TileIndex {
    /// Every scalar the tile's position depends on.
    pub fn values(&self) -> impl Iterator<Item = ValueId> + '_ {
        self.points.iter().copied().chain([self.r0, self.k0])
    }
}

/// [`TileIndex`] lowered.
pub(super) struct TileAt {
    pub points: Vec<V>,
    pub r0: V,
    pub k0: V,
}

/// The rows of a deferred load's tile: the size of its row range (the second-to-last index).
pub(super) fn tile_rows(access: &Access) -> Result<u32, LoweringError> {
    match access.index.len().checked_sub(2).map(|i| &access.index[i]) {
        Some(Index::Range { size, .. }) => Ok(*size),
        _ => Err(ice("deferred load index")),
    }
}

/// The coordinates of a deferred load: leading points, then two ranges.
pub(super) fn tile_starts(access: &Access) -> Result<TileIndex, LoweringError> {
    let n = access.index.len();
    let (Some(lead), Some(last)) = (
        access.index.get(..n.wrapping_sub(2)),
        access.index.get(n.wrapping_sub(2)..),
    ) else {
        return Err(ice("deferred load index"));
    };
    let points = lead
        .iter()
        .map(|i| match i {
            Index::Point(p) => Ok(*p),
            _ => Err(ice("deferred load index")),
        })
        .collect::<Result<_, _>>()?;
    match last {
        [Index::Range { start: r0, .. }, Index::Range { start: k0, .. }] => Ok(TileIndex {
            points,
            r0: *r0,
            k0: *k0,
        }),
        _ => Err(ice("deferred load index")),
    }
}
