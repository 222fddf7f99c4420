//! `dot` from the distributed level: wgmma from operands staged in shared memory (plain bf16/f16,
//! fp8 and i8; fp8 partials promoted into f32; scaled operands either as codes with their scales
//! applied per K group, or dequantized), and f32 FMAs for operand pairs no wgmma takes exactly.

use super::*;

/// The K group size of a dot taken as codes: at least one operand scaled, both fp8/fp6/fp4,
/// and every scaled operand loaded at a K start and with a K block that the group divides
/// (so each group of each tile lies inside one scale block); a multiple of the fp8 wgmma's K
/// (32) and a power of two. `None`: dequantize instead.
pub(super) fn group_size(k: &Kernel, align: &align::Align, a: ValueId, bv: ValueId) -> Option<u32> {
    let code = |d: DType| {
        matches!(
            d,
            DType::F8E4M3 | DType::F8E5M2 | DType::F6E2M3 | DType::F6E3M2 | DType::F4E2M1
        )
    };
    let (ta, tb) = (k.ty(a).as_tile()?, k.ty(bv).as_tile()?);
    if (ta.scale.is_none() && tb.scale.is_none()) || !code(ta.dtype) || !code(tb.dtype) {
        return None;
    }
    let gcd = |mut x: u64, mut y: u64| {
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    let mut g = u64::from(ta.shape[1]);
    for (v, axis, t) in [(a, 1usize, ta), (bv, 0, tb)] {
        if t.scale.is_none() {
            continue;
        }
        let (access, d, start) = align.tile_start(v, axis)?;
        let ParamKind::Tensor { ty, .. } = &k.param(access.tensor).kind else {
            return None;
        };
        let block = u64::from(*ty.scale.as_ref()?.block.get(d)?);
        g = gcd(g, gcd(block, start));
    }
    (g % 32 == 0 && g.is_power_of_two()).then_some(g as u32)
}

/// The smallest operand tile a dot outside a ring copies with `cp.async`: without a ring nothing
/// overlaps the copy, and below this the per-copy address and bounds work costs more than the
/// register round trip it saves (H200, session 6: attention_bf16_d64's 4 KiB K tile took 129.9 us
/// copied vs 105.4 us through registers; the FP8 attention's 8 KiB K tile 1211.5 vs 1374.3 us).
const MIN_ASYNC_TILE_BYTES: u32 = 8 * 1024;

/// The K of one wgmma and the operand element bytes for an operand pair wgmma takes exactly:
/// bf16/f16 pairs k16, fp8 pairs and i8 pairs k32.
pub(super) fn wgmma_step(da: DType, db: DType) -> Option<(u32, u32)> {
    let fp8 = |d: DType| matches!(d, DType::F8E4M3 | DType::F8E5M2);
    match (da, db) {
        (DType::BF16, DType::BF16) | (DType::F16, DType::F16) => Some((16, 2)),
        (x, y) if fp8(x) && fp8(y) => Some((32, 1)),
        (DType::I8, DType::I8) => Some((32, 1)),
        _ => None,
    }
}

/// [`k_position`] as (mask, shift left) terms OR-ed together: bits 4 and up stay, bits 1-2 move up
/// one, bit 3 moves to bit 1, bit 0 stays. The emitted ops and the tested constant form
/// ([`k_position_of`]) both read it.
const K_POSITION: [(u32, i32); 4] = [(!15, 0), (6, 1), (8, -2), (1, 0)];

/// [`k_position`] on a constant.
#[cfg(test)]
fn k_position_of(k: u32) -> u32 {
    permute_bits(&K_POSITION, k)
}

/// Where K index `k` (an i32 value) of a dot whose 8-bit A comes from registers lies in the wgmma
/// step's K order: inside each 32-wide step, accumulator column `c` = `8 j + 2 q + e` (j < 4,
/// q < 4, e < 2) of thread `q` of a quad is fragment column `16 (j / 2) + 4 q + 2 (j % 2) + e` of
/// the 8-bit A fragment (`Gen::reg_fragment`): bit 3 of `c` moves to bit 1, bits 1-2 to bits 2-3.
/// Both operands are read in this order (A by its registers, B by its staging), so the dot's sum
/// is the same.
fn k_position<'c>(m: &Mlir<'c>, b: &Block<'c>, k: V) -> Result<V, LoweringError> {
    emit_permute_bits(m, b, &K_POSITION, k)
}

/// [`k_at_position`] as (mask, shift left) terms, the inverse of [`K_POSITION`]: bits 4 and up
/// stay, bits 2-3 move down one, bit 1 moves to bit 3, bit 0 stays.
pub(super) const K_AT_POSITION: [(u32, i32); 4] = [(!15, 0), (12, -1), (2, 2), (1, 0)];

/// `x` rearranged by (mask, shift left) `terms` OR-ed together, on a constant.
#[cfg(test)]
pub(super) fn permute_bits(terms: &[(u32, i32)], k: u32) -> u32 {
    terms.iter().fold(0, |acc, &(mask, sh)| {
        let x = k & mask;
        acc | if sh >= 0 { x << sh } else { x >> -sh }
    })
}

/// `k` (an i32 value) rearranged by (mask, shift left) `terms` OR-ed together.
fn emit_permute_bits<'c>(
    m: &Mlir<'c>,
    b: &Block<'c>,
    terms: &[(u32, i32)],
    k: V,
) -> Result<V, LoweringError> {
    let c = |x: i64| m.const_int(b, x, 32);
    let mut parts = Vec::with_capacity(terms.len());
    for &(mask, sh) in terms {
        let x = m.bin(b, "arith.andi", k, c(i64::from(mask as i32))?)?;
        parts.push(match sh {
            0 => x,
            s if s > 0 => m.bin(b, "arith.shli", x, c(i64::from(s))?)?,
            s => m.bin(b, "arith.shrui", x, c(i64::from(-s))?)?,
        });
    }
    let (first, rest) = parts
        .split_first()
        .ok_or_else(|| ice("an empty bit permutation"))?;
    rest.iter().try_fold(*first, |x, t| m.bin(b, "arith.ori", x, *t))
}

/// The K index whose element [`k_position`] sends to position `p` (an i32 value): where the
/// transposed B tile of a dot whose 8-bit A comes from registers finds position `p`'s row
/// (`Gen::rider_transpose`).
pub(super) fn k_at_position<'c>(m: &Mlir<'c>, b: &Block<'c>, p: V) -> Result<V, LoweringError> {
    emit_permute_bits(m, b, &K_AT_POSITION, p)
}

/// The most block scales one thread reads itself per K tile for one operand of a grouped dot
/// (`Gen::direct_scales`): DeepSeek-style operands need one per accumulator row (A, 1x128 blocks)
/// or one per tile (B, 128x128 blocks); MX operands, one per row or column and 32-wide group, stay
/// with the shared table all threads fill.
const MAX_DIRECT_SCALES: u32 = 4;

/// Which block scales may be read directly: f32 (DeepSeek-style), the kind validated this way on
/// the H200 (session 9: gemm_fp8_blockscale per op 312.1 -> 260.8 us); e8m0 scales keep the table.
fn direct_scale_dtype(sd: DType) -> bool {
    sd == DType::F32
}

/// Where a deferred scaled load's block scales are read (`Gen::scale_site`): its tile's
/// coordinates, the tensor's and the scale buffer's extents (i64), the scale buffer and contract.
struct ScaleSite {
    at: async_copy::TileAt,
    dims: Vec<V>,
    sdims: Vec<V>,
    sptr: V,
    spec: tessera_ir::ScaleSpec,
}

/// Where wgmma reads a dot's operand tiles (A `[M, K]`, B `[K, N]`) in shared memory: each
/// K-major with the widest swizzle its K extent allows, rows and K padded to the atom's.
#[derive(Clone, Copy, Debug)]
pub(super) struct Staging {
    /// Padded extents of M, N, K (the tile's, rounded up to a power of two).
    pub pm: u32,
    pub pn: u32,
    pub pk: u32,
    /// Staged rows of A and B (at least the atom's: 64, 8) and staged K (at least one step).
    pub mm: u32,
    pub nn: u32,
    pub kp: u32,
    /// Swizzle width in bytes (32, 64 or 128) and element bytes.
    pub sw: u32,
    pub eb: u32,
}

impl Staging {
    /// The staging of operands of shapes `sa` (`[M, K]`) and `sb` (`[K, N]`) for the wgmma step
    /// `(kstep, eb)` ([`wgmma_step`]).
    pub(super) fn of(sa: &[u32], sb: &[u32], (kstep, eb): (u32, u32)) -> Staging {
        let (pm, pk, pn) = (padded_extent(sa[0]), padded_extent(sa[1]), padded_extent(sb[1]));
        let kp = pk.max(kstep);
        Staging {
            pm,
            pn,
            pk,
            mm: pm.max(64),
            nn: pn.max(8),
            kp,
            sw: (kp * eb).min(128),
            eb,
        }
    }

    pub(super) fn a_bytes(&self) -> u32 {
        self.mm * self.kp * self.eb
    }

    pub(super) fn b_bytes(&self) -> u32 {
        self.nn * self.kp * self.eb
    }
}

impl<'c> Gen<'c, '_> {
    /// `acc + a @ b` on wgmma (`m64nNk16` for bf16/f16, `k32` for fp8 and i8): the operands are
    /// staged into shared memory (from registers, or copied there by `cp.async`/TMA), K-major with
    /// the widest swizzle their K extent allows (what the descriptors describe), fenced for the
    /// async proxy (an A already in the accumulator's fragment layout stays in registers), and the
    /// accumulator registers, already in the wgmma fragment (`assign-layouts`), are the `inouts`
    /// of one instruction chain per 64-row by up-to-256-column block. Tiles smaller than the atom are
    /// padded: rows/columns past the tile repeat real ones (so duplicates stay equal), K past the
    /// tile is zero.
    pub(super) fn dot(
        &mut self,
        b: &Block<'c>,
        a: ValueId,
        bv: ValueId,
        acc: ValueId,
        r: ValueId,
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        // Scaled fp8/fp6/fp4 operands whose scales are constant over aligned K groups go in as
        // codes, with the scales applied to each group's partial; others are dequantized.
        let grouped = self.group_size(a, bv);
        self.grouped_dots |= grouped.is_some();
        // Operands whose load the dot issues as cp.async copies: a plain wgmma pair, whole
        // (unpadded) tiles, K at least one wgmma step.
        // A dot streaming through a ring (`ring`) copies both operands there, ahead of time.
        let ring = self.rings.get(&r).cloned();
        // Loop-invariant operands staged once before the loop (`resident`).
        let res = self.resident_of(r);
        // A B operand an earlier dot's ring carried and transposed in this iteration
        // (`ring::Rider`): staged already, K-major, in its own tile.
        let rider = self
            .rings
            .values()
            .find_map(|x| x.rider.as_ref().filter(|rd| rd.dot == r))
            .cloned();
        if rider.is_some() && (ring.is_some() || !self.rider_done.remove(&r)) {
            return Err(ice(
                "a dot whose B operand rides a ring was reached without its transpose",
            ));
        }
        // NVFP4 operands go on bf16 wgmma (their per-tensor scales applied to the partial) when
        // the other operand is bf16 too.
        let pair_bf16 = self.on_bf16(a) && self.on_bf16(bv);
        // Packed FP4 loads the dot stages from their bytes (`packed`), as e4m3 codes (grouped)
        // or as bf16.
        let packed = [self.packed_of(a).is_some(), self.packed_of(bv).is_some()];
        let (async_a, async_b) = match &ring {
            Some(r) => (r.loads[0].is_some(), r.loads[1].is_some()),
            None => {
                let (x, y) = self.async_operands(a, bv, grouped.is_some());
                (x && res[0].is_none(), y && res[1].is_none())
            }
        };
        if !async_a {
            self.materialize(b, a, span)?;
        }
        if !async_b {
            self.materialize(b, bv, span)?;
        }
        let operand =
            |g: &mut Self, v: ValueId, issued: bool| -> Result<(Vec<V>, DType, Option<V>), LoweringError> {
                match (issued, grouped) {
                    (true, _) => {
                        let d = g.staged_dtype(v);
                        // A packed NVFP4 tile staged as `code * s`: its per-tensor scale
                        // multiplies the partial.
                        let factor = match g.packed_of(v) {
                            Some(l) if d == DType::BF16 => {
                                let tensor = g
                                    .pending
                                    .get(&l)
                                    .map(|p| p.access.tensor)
                                    .ok_or_else(|| ice("deferred packed load"))?;
                                g.global_of(tensor)?
                            }
                            _ => None,
                        };
                        Ok((Vec::new(), d, factor))
                    }
                    (false, Some(_)) => g.code_operand(b, v, span).map(|(r, d)| (r, d, None)),
                    (false, None) => g.mma_operand(b, v, pair_bf16, span),
                }
            };
        let (ra, da, fa) = operand(self, a, async_a || res[0].is_some())?;
        let (rb, db, fb) = operand(self, bv, async_b || res[1].is_some() || rider.is_some())?;
        // The factor the partial product is multiplied by (the NV per-tensor scales).
        let factor = match (fa, fb) {
            (Some(x), Some(y)) => Some(self.m.bin(b, "arith.mulf", x, y)?),
            (x, y) => x.or(y),
        };
        let dc = self.k.ty(acc).dtype();
        let fp8 = |d: DType| matches!(d, DType::F8E4M3 | DType::F8E5M2);
        let Some((kstep, eb)) = wgmma_step(da, db) else {
            // No wgmma takes this pair at the interpreter's precision (f32 operands would be
            // rounded to tf32; bf16 x f16 has no instruction): f32 FMAs from shared memory.
            return self.dot_fma(b, (a, &ra, da), (bv, &rb, db), acc, span);
        };
        let wty = |d: DType| match d {
            DType::BF16 => "bf16",
            DType::F16 => "f16",
            DType::F8E4M3 => "e4m3",
            DType::F8E5M2 => "e5m2",
            DType::I8 => "s8",
            DType::I32 => "s32",
            _ => "f32",
        };
        let promote =
            (fp8(da) && fp8(db) && !self.opts.fp8_fast_accum) || grouped.is_some() || factor.is_some();
        let (sa, sb) = (self.shape_of(a), self.shape_of(bv));
        let (m, kk, n) = (sa[0], sa[1], sb[1]);
        let st = Staging::of(&sa, &sb, (kstep, eb));
        let Staging {
            pm,
            pn,
            pk,
            mm,
            nn,
            kp,
            sw,
            ..
        } = st;
        let acc_l = self.layout_of(acc)?.clone();
        let want = LinearLayout::wgmma_acc(m, n, self.cta.lane_bits as usize, self.cta.warp_bits as usize);
        if want.as_ref() != Some(&acc_l) || self.cta.warp_bits < 2 {
            return Err(ice(
                "the dot accumulator is not in the wgmma fragment of the CTA's warpgroups (assign-layouts)",
            ));
        }
        // A computed in registers in the accumulator's own fragment layout (attention's P) goes into
        // wgmma from registers instead of through shared memory (`reg_fragment`). A 16-bit A
        // fragment is that layout; an 8-bit one holds each thread's K in another order, so K is
        // permuted inside every 32-wide step and B staged in that order (`k_position`), which
        // the register staging and a rider's transpose (`ring::Rider::kperm`) do; async copies
        // and rings copy B as it is in memory.
        let reg_a = !(async_a || res[0].is_some())
            && ring.is_none()
            && grouped.is_none()
            && fa.is_none()
            && matches!(da, DType::BF16 | DType::F16 | DType::F8E4M3 | DType::F8E5M2)
            // (Rows past a tile shorter than the atom are the layout's replicas, in A as in the
            // accumulator; K is not padded.)
            && (pm, pk, kp) == (m, kk, kk)
            // (Below 16 rows the layout clips the fragment's second row half.)
            && m >= 16
            // (An 8-bit B needs its K permuted: staged from registers, or transposed so.)
            && match &rider {
                Some(rd) => eb == 2 || rd.kperm,
                None => eb == 2 || !(async_b || res[1].is_some()),
            }
            && LinearLayout::wgmma_acc(m, kk, self.cta.lane_bits as usize, self.cta.warp_bits as usize).as_ref()
                == Some(self.layout_of(a)?);
        self.register_a_dots |= reg_a;
        if let Some(rd) = &rider
            && (rd.kperm != (reg_a && eb == 1) || (rd.k, rd.n, rd.eb, rd.tile_sw()) != (kp, nn, eb, sw))
        {
            return Err(ice("a rider tile transposed for another staging than its dot's"));
        }
        // Warpgroups split the rows in blocks of 64 (the layout's warp bits above the first two);
        // groups past the accumulator's rows hold replicas. Each group's rows start at
        // `64 * (warp / 4 mod row_groups)`; its registers cover the rest, `group_rows` apart.
        let groups = 1u32 << (self.cta.warp_bits - 2);
        let group_rows = mm.min(64 * groups);
        let row_groups = group_rows / 64;
        let (a_bytes, b_bytes) = (st.a_bytes(), st.b_bytes());
        // K groups: one wgmma chain each (a grouped dot: `group` elements, scales per group in
        // two f32 tables after the operand tiles, `[rows][groups]`), else one chain over all of K.
        let (group, ngroups) = match grouped {
            Some(g) => (g, kk / g),
            None => (kp, 1),
        };
        let table_bytes = if grouped.is_some() {
            (mm + nn) * ngroups * 4
        } else {
            0
        };
        // Where the B tile starts in scratch or the ring's stage (after the A tile, unless A is
        // resident).
        let b_off = if res[0].is_some() || reg_a { 0 } else { a_bytes };
        // Where the scale tables live: after the operand tiles in scratch, or, for a dot whose
        // operands stream through a ring, at the start of scratch.
        // Operand tiles staged apart from `base` (pointer, byte offset): a ring's packed operands,
        // converted from the stage's bytes into scratch.
        let mut apart: [Option<(V, u32)>; 2] = [None, None];
        // Scaled operands whose scales each thread reads itself, straight into registers, before
        // each group's chain (`direct_scales`), instead of through a shared table.
        let (direct, uniform) = self.direct_scales((a, bv), &acc_l, ngroups, grouped.is_some());
        // Whether (per launch) TMA filled the ring's stage this dot reads as it is.
        let mut tma_stage = None;
        self.direct_scale_dots |= direct.iter().any(|d| *d);
        let (base, tbase, tables) = match &ring {
            Some(r) => {
                if r.sw() != sw || r.rows != [mm, nn] || r.eb != eb {
                    return Err(ice("the ring's stage does not hold this dot's operand tiles"));
                }
                let (base, tma_on) = self.ring_step(b, r, span)?;
                // ring_step's barrier: every thread is done with scratch's earlier users.
                // Scratch: the scale tables, then the packed operands' staged tiles, from a
                // multiple of 1024 bytes (wgmma applies the swizzle to address bits: a tile must
                // start on a whole swizzle pattern, 8 rows of `sw` bytes).
                let staged = [a_bytes, b_bytes];
                let conv: u32 = (0..2).filter(|&i| r.packed[i]).map(|i| staged[i]).sum();
                let conv_at = if conv > 0 {
                    table_bytes.next_multiple_of(1024)
                } else {
                    table_bytes
                };
                let tbase = if grouped.is_some() || conv > 0 {
                    self.need_scratch(u64::from(conv_at + conv));
                    let t = self.scratch(b)?;
                    if grouped.is_some() {
                        self.deferred_tables(b, (a, bv), (group, ngroups, direct), (mm, t, 0))?;
                    }
                    if conv > 0 {
                        // `wait_group` made this thread's copies visible to it; the conversion
                        // reads bytes other threads copied.
                        self.m.barrier(b)?;
                    }
                    let mut off = conv_at;
                    for i in 0..2 {
                        if !r.packed[i] {
                            continue;
                        }
                        self.packed_dots = true;
                        let (rows, d) = if i == 0 { (mm, da) } else { (nn, db) };
                        let raw = (base, if i == 0 { 0 } else { r.a_bytes() });
                        let to = (d, grouped.is_none());
                        let l =
                            r.loads[i].ok_or_else(|| ice("a packed ring operand that does not stream"))?;
                        self.stage_packed(b, l, (rows, kk), to, sw, (off, t), Some(raw), span)?;
                        apart[i] = Some((t, off));
                        off += staged[i];
                    }
                    t
                } else {
                    base
                };
                // Filled by TMA, with nothing else written to shared memory since: the stage's
                // barrier phase already made the tiles visible to wgmma.
                if grouped.is_none() && conv == 0 {
                    tma_stage = tma_on;
                }
                (base, tbase, 0)
            }
            None => {
                let in_scratch =
                    |r: &Option<resident::Resident>, bytes: u32| if r.is_some() { 0 } else { bytes };
                let a_staged = if reg_a { 0 } else { in_scratch(&res[0], a_bytes) };
                let b_staged = if rider.is_some() {
                    0
                } else {
                    in_scratch(&res[1], b_bytes)
                };
                self.need_scratch((a_staged + b_staged + table_bytes) as u64);
                let base = self.scratch(b)?;
                let tables = a_bytes + b_bytes;
                self.m.barrier(b)?;
                if pk < kp {
                    // K past the tile must contribute nothing: zero both staging tiles first.
                    let z = self.m.const_int(b, 0, 32)?;
                    let tid = self.tid(b)?;
                    let words = (a_bytes + b_bytes) / 4;
                    let threads = self.cta.threads();
                    for w in 0..words.div_ceil(threads) {
                        let off = self.m.const_int(b, (w * threads) as i64, 32)?;
                        let idx = self.m.bin(b, "arith.addi", off, tid)?;
                        let lim = self.m.const_int(b, words as i64, 32)?;
                        let inb = self.m.cmp(b, false, 2, idx, lim)?;
                        let four = self.m.const_int(b, 4, 32)?;
                        let byte = self.m.bin(b, "arith.muli", idx, four)?;
                        let b64 = self.m.conv(b, "arith.extui", byte, self.m.i(64))?;
                        let m = &self.m;
                        m.if_(
                            b,
                            inb,
                            &[],
                            |tb| {
                                let p = m.gep(tb, base, b64, m.i(8))?;
                                m.store(tb, z, p).map(|_| vec![])
                            },
                            |_| Ok(vec![]),
                        )?;
                    }
                    self.m.barrier(b)?;
                }
                // Stage: element (row, k) of an R-row operand at slab (k*eb / sw), row, swizzled 16-byte chunk.
                let (la, lb) = (self.layout_of(a)?.clone(), self.layout_of(bv)?.clone());
                match self.deferred_of(a) {
                    _ if res[0].is_some() => {}
                    Some(l) if async_a && packed[0] => {
                        self.packed_dots = true;
                        self.stage_packed(b, l, (mm, kk), (da, grouped.is_none()), sw, (0, base), None, span)?
                    }
                    Some(l) if async_a => self.stage_async(b, l, (mm, kk, eb), sw, 0, base, span)?,
                    _ if reg_a => {}
                    _ => self.stage(b, (&la, &sa, &ra), false, false, pm, mm, sw, eb, 0, base)?,
                }
                match self.deferred_of(bv) {
                    _ if res[1].is_some() || rider.is_some() => {}
                    Some(l) if async_b && packed[1] => {
                        self.packed_dots = true;
                        self.stage_packed(
                            b,
                            l,
                            (nn, kk),
                            (db, grouped.is_none()),
                            sw,
                            (b_off, base),
                            None,
                            span,
                        )?
                    }
                    Some(l) if async_b => self.stage_async(b, l, (nn, kk, eb), sw, b_off, base, span)?,
                    _ => self.stage(
                        b,
                        (&lb, &sb, &rb),
                        true,
                        reg_a && eb == 1,
                        pn,
                        nn,
                        sw,
                        eb,
                        b_off,
                        base,
                    )?,
                }
                if grouped.is_some() {
                    self.scale_table(b, a, 1, group, ngroups, base, tables)?;
                    self.scale_table(b, bv, 0, group, ngroups, base, tables + mm * ngroups * 4)?;
                    self.deferred_tables(b, (a, bv), (group, ngroups, direct), (mm, base, tables))?;
                }
                (base, base, tables)
            }
        };
        match tma_stage {
            None => {
                self.m.fence_async_shared(b)?;
                self.m.barrier(b)?;
            }
            Some(on) => {
                // Only a stage `cp.async` filled (the launch passed no tensor map) needs them.
                let t = self.m.const_int(b, 1, 1)?;
                let off = self.m.bin(b, "arith.xori", on, t)?;
                let m = &self.m;
                m.if_(
                    b,
                    off,
                    &[],
                    |tb| {
                        m.fence_async_shared(tb)?;
                        m.barrier(tb)?;
                        Ok(vec![])
                    },
                    |_| Ok(vec![]),
                )?;
            }
        }
        // Descriptors: start address >> 4 | LBO 1 | SBO (8 rows x sw) >> 4 | swizzle mode.
        let mode: i64 = match sw {
            128 => 1,
            64 => 2,
            _ => 3,
        };
        let high = (mode << 62) | ((((8 * sw) >> 4) as i64) << 32) | (1 << 16);
        let base_addr = self.m.conv(b, "llvm.ptrtoint", base, self.m.i(64))?;
        // Each operand's tile: in the resident region, else in scratch / the ring's stage.
        // `fixed`: the tile's offset from the shared base (a resident operand's region, a rider's
        // transposed tile).
        let region_addr =
            |g: &Self, fixed: Option<u32>, apart: Option<(V, u32)>, off: u32| -> Result<V, LoweringError> {
                let (from, off) = match (fixed, apart) {
                    (Some(at), _) => {
                        let sb = g.shared_base(b)?;
                        (g.m.conv(b, "llvm.ptrtoint", sb, g.m.i(64))?, at)
                    }
                    (None, Some((p, off))) => (g.m.conv(b, "llvm.ptrtoint", p, g.m.i(64))?, off),
                    (None, None) => (base_addr, off),
                };
                if off == 0 {
                    return Ok(from);
                }
                let o = g.m.const_int(b, i64::from(off), 64)?;
                g.m.bin(b, "arith.addi", from, o)
            };
        // In a ring's stage, B follows A's region (A's packed bytes, for a packed A).
        let b_off = ring.as_ref().map_or(b_off, |r| r.a_bytes());
        let fixed = |i: usize| res[i].as_ref().map(|r| self.resident_offset(r));
        let a_base = region_addr(self, fixed(0), apart[0], 0)?;
        let b_fixed = rider.as_ref().map(|rd| rd.tile_off).or(fixed(1));
        let b_base = region_addr(self, b_fixed, apart[1], b_off)?;
        // This warpgroup's first A row, as a byte offset into every A slab.
        let a_addr = if row_groups > 1 {
            let m = &self.m;
            let two = m.const_int(b, 2, 32)?;
            let wg = m.bin(b, "arith.shrui", self.warp, two)?;
            let mask = m.const_int(b, (row_groups - 1) as i64, 32)?;
            let wg = m.bin(b, "arith.andi", wg, mask)?;
            let wg = m.conv(b, "arith.extui", wg, m.i(64))?;
            let rb = m.const_int(b, (64 * sw) as i64, 64)?;
            let off = m.bin(b, "arith.muli", wg, rb)?;
            m.bin(b, "arith.addi", a_base, off)?
        } else {
            a_base
        };
        let desc = |g: &Self, b: &Block<'c>, from: V, byte_off: u32| -> Result<V, LoweringError> {
            let o = g.m.const_int(b, byte_off as i64, 64)?;
            let addr = g.m.bin(b, "arith.addi", from, o)?;
            let mask = g.m.const_int(b, 0x3FFFF, 64)?;
            let am = g.m.bin(b, "arith.andi", addr, mask)?;
            let four = g.m.const_int(b, 4, 64)?;
            let sh = g.m.bin(b, "arith.shrui", am, four)?;
            let hi = g.m.const_int(b, high, 64)?;
            g.m.bin(b, "arith.ori", sh, hi)
        };
        let mut regs = self.regs(acc)?;
        let acc_et = self.m.elem(dc, span)?;
        // The packed A fragments of a register-A dot, per (row block, K group).
        let mut frags: HashMap<(u32, u32), Vec<[V; 4]>> = HashMap::new();
        // Each A register's (row, column) register coordinates, for `reg_fragment`.
        let la_regs: HashMap<Vec<u32>, usize> = if reg_a {
            let l = self.layout_of(a)?;
            (0..ra.len()).map(|r| (l.reg_coords(2, r as u32), r)).collect()
        } else {
            HashMap::new()
        };
        // Block scales per (group, row / column part of a register's coordinates; 0 for a scale
        // uniform over the tile): read directly (before the chain) or from the table (after it).
        let mut side_scale: [HashMap<(u32, u32), V>; 2] = [HashMap::new(), HashMap::new()];
        // The product of a register's scales, per (group, row key, column key).
        let mut factors: HashMap<(u32, u32, u32), Option<V>> = HashMap::new();
        let mut sites: [Option<ScaleSite>; 2] = [None, None];
        for (side, v) in [a, bv].into_iter().enumerate() {
            if direct[side] {
                let l = self.transposed.get(&v).copied().unwrap_or(v);
                let access = self
                    .deferrable
                    .get(&l)
                    .map(|d| d.access.clone())
                    .ok_or_else(|| ice("a direct-scaled dot operand without its load"))?;
                sites[side] = Some(self.scale_site(b, &access)?);
            }
        }
        let nw = nn.min(256);
        let col_bits = (nn / 8).trailing_zeros();
        let (scaled_a, scaled_b) = (self.is_scaled(a), self.is_scaled(bv));
        // The (64-row block, column block) chains of one K group. Chains that accumulate in place
        // are all issued before one wait, so the tensor cores run them back to back; a promoted
        // chain's partial needs its own registers until it is added, so those wait one by one
        // (two partials at once would spill).
        let blocks: Vec<(u32, u32)> = (0..mm / group_rows)
            .flat_map(|mi| (0..nn / nw).map(move |nj| (mi, nj)))
            .collect();
        let batch = if promote || !self.opts.async_copies {
            1
        } else {
            blocks.len()
        };
        let nregs = nw / 2;
        let idx = |mi: u32, nj: u32, i: u32| -> usize {
            ((i & 3) | ((nj * (nw / 8) + (i >> 2)) << 2) | (mi << (2 + col_bits))) as usize
        };
        let st = melior::dialect::llvm::r#type::r#struct(self.m.ctx, &vec![acc_et; nregs as usize], false);
        for j in 0..ngroups {
            for chunk in blocks.chunks(batch) {
                // This group's direct scales, read before its chain so their latency hides behind
                // the MMA.
                for &(mi, nj) in chunk {
                    for i in 0..nregs {
                        let r = idx(mi, nj, i);
                        let rc = acc_l.reg_coords(2, r as u32);
                        for side in 0..2 {
                            let Some(site) = &sites[side] else {
                                continue;
                            };
                            let key = if uniform[side] { 0 } else { rc[side] };
                            if side_scale[side].contains_key(&(j, key)) {
                                continue;
                            }
                            let coord = if uniform[side] {
                                self.m.const_int(b, 0, 32)?
                            } else {
                                self.coords(b, &acc_l, r as u32)?[side]
                            };
                            let kin = self.m.const_int(b, i64::from(j * group), 32)?;
                            let sc = self.scale_at(b, site, coord, kin)?;
                            side_scale[side].insert((j, key), sc);
                        }
                    }
                }
                let mut chains = Vec::new();
                let steps = group / kstep;
                for &(mi, nj) in chunk {
                    let idx = |i: u32| idx(mi, nj, i);
                    // A from registers: its fragments are packed once per row block and K group,
                    // before the first chain's fence that reads them (a `wgmma.fence` must
                    // separate register writes from the wgmma reading them).
                    if reg_a && !frags.contains_key(&(mi, j)) {
                        let packed = (j * steps..(j + 1) * steps)
                            .map(|step| {
                                self.reg_fragment(b, &la_regs, &ra, mi * group_rows, step, (kstep, eb))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        frags.insert((mi, j), packed);
                    }
                    let mut cur = self.m.op1(b, "llvm.mlir.undef", &[], st, &[])?;
                    for i in 0..nregs {
                        cur = self.m.op1(
                            b,
                            "llvm.insertvalue",
                            &[cur, regs[idx(i)]],
                            st,
                            &[self.m.position(i)],
                        )?;
                    }
                    let fam = format!(
                        "wgmma.mma_async.sync.aligned.m64n{nw}k{kstep}.{}.{}.{}",
                        wty(dc),
                        wty(da),
                        wty(db)
                    );
                    if !self.mma.contains(&fam) {
                        self.mma.push(fam);
                    }
                    self.m
                        .op(b, "nvvm.wgmma.fence.aligned", &[], &[], &[], Vec::new())?;
                    for step in j * steps..(j + 1) * steps {
                        // fp8 promotion: Hopper's fp8 wgmma keeps fewer accumulator bits than f32, so
                        // each dot's (or K group's) chain starts from zero and its partial is added in
                        // f32 below.
                        let scale_d = if promote && step == j * steps {
                            "zero"
                        } else {
                            "one"
                        };
                        let kb = step * kstep * eb;
                        let (slab, within) = (kb / sw, kb % sw);
                        let b_at = slab * nn * sw + nj * nw * sw + within;
                        if reg_a {
                            let d_b = desc(self, b, b_base, b_at)?;
                            let frag = frags
                                .get(&(mi, j))
                                .and_then(|f| f.get((step - j * steps) as usize))
                                .ok_or_else(|| ice("a register A fragment not packed"))?;
                            cur = self.wgmma_reg_a(
                                b,
                                cur,
                                frag,
                                d_b,
                                (nw, kstep),
                                (wty(da), wty(db)),
                                scale_d == "one",
                                st,
                            )?;
                            continue;
                        }
                        let d_a = desc(self, b, a_addr, slab * mm * sw + mi * group_rows * sw + within)?;
                        let d_b = desc(self, b, b_base, b_at)?;
                        let m = &self.m;
                        cur = m.op1(
                            b,
                            "nvvm.wgmma.mma_async",
                            &[cur, d_a, d_b],
                            st,
                            &[
                                m.attr(
                                    "shape",
                                    m.parse_attr(&format!("#nvvm.shape<m = 64, n = {nw}, k = {kstep}>"))?,
                                ),
                                m.attr("typeA", m.parse_attr(&format!("#nvvm.wgmma_type<{}>", wty(da)))?),
                                m.attr("typeB", m.parse_attr(&format!("#nvvm.wgmma_type<{}>", wty(db)))?),
                                m.attr("typeD", m.parse_attr(&format!("#nvvm.wgmma_type<{}>", wty(dc)))?),
                                m.attr(
                                    "scaleD",
                                    m.parse_attr(&format!("#nvvm.wgmma_scale_out<{scale_d}>"))?,
                                ),
                                m.attr("scaleA", m.parse_attr("#nvvm.wgmma_scale_in<one>")?),
                                m.attr("scaleB", m.parse_attr("#nvvm.wgmma_scale_in<one>")?),
                                m.attr("layoutA", m.parse_attr("#nvvm.mma_layout<row>")?),
                                m.attr("layoutB", m.parse_attr("#nvvm.mma_layout<col>")?),
                            ],
                        )?;
                    }
                    chains.push(cur);
                }
                self.m.op(
                    b,
                    "nvvm.wgmma.commit.group.sync.aligned",
                    &[],
                    &[],
                    &[],
                    Vec::new(),
                )?;
                // The ring's next tiles are issued while the tensor cores work on this chain,
                // and a later dot's tile that rides the ring is transposed.
                self.ring_prefetch(b)?;
                self.rider_transpose(b)?;
                self.m.op(
                    b,
                    "nvvm.wgmma.wait.group.sync.aligned",
                    &[],
                    &[],
                    &[self.m.attr("group", self.m.int_attr(64, 0))],
                    Vec::new(),
                )?;
                for (&(mi, nj), cur) in chunk.iter().zip(chains) {
                    let idx = |i: u32| idx(mi, nj, i);
                    for i in 0..nregs {
                        let part =
                            self.m
                                .op1(b, "llvm.extractvalue", &[cur], acc_et, &[self.m.position(i)])?;
                        let r = idx(i);
                        regs[r] = if grouped.is_some() {
                            // acc += part * (scale_a[row] * scale_b[col]) of this K group, one
                            // fma per register, the scales' product once per (row, column) key.
                            let rc = acc_l.reg_coords(2, r as u32);
                            let keys = [0, 1].map(|side| if uniform[side] { 0 } else { rc[side] });
                            let f = match factors.get(&(j, keys[0], keys[1])) {
                                Some(f) => *f,
                                None => {
                                    let mut f = None;
                                    for (side, on, off) in
                                        [(0, scaled_a, tables), (1, scaled_b, tables + mm * ngroups * 4)]
                                    {
                                        if !on {
                                            continue;
                                        }
                                        let s = match side_scale[side].get(&(j, keys[side])) {
                                            Some(s) => *s,
                                            None => {
                                                let c = self.coords(b, &acc_l, r as u32)?;
                                                let s =
                                                    self.table_entry(b, tbase, off, c[side], ngroups, j)?;
                                                side_scale[side].insert((j, keys[side]), s);
                                                s
                                            }
                                        };
                                        f = Some(match f {
                                            None => s,
                                            Some(x) => self.m.bin(b, "arith.mulf", x, s)?,
                                        });
                                    }
                                    factors.insert((j, keys[0], keys[1]), f);
                                    f
                                }
                            };
                            match f {
                                Some(f) => {
                                    self.m.op1(b, "llvm.intr.fma", &[part, f, regs[r]], acc_et, &[])?
                                }
                                None => self.m.bin(b, "arith.addf", regs[r], part)?,
                            }
                        } else if promote {
                            let part = match factor {
                                Some(f) => self.m.bin(b, "arith.mulf", part, f)?,
                                None => part,
                            };
                            self.m.bin(b, "arith.addf", regs[r], part)?
                        } else {
                            part
                        };
                    }
                }
            }
        }
        // The staging tiles are read by the async proxy until the wait above; the next scratch
        // user starts with a barrier.
        self.ring_prefetch(b)?;
        Ok(regs)
    }

    /// Which operands a dot that does not stream through a ring copies in itself (`async_copy`),
    /// or, packed FP4, stages from their bytes (`packed`): deferred loads whose tiles
    /// [`async_copy::whole_tiles`] allows (as the dtypes they are staged in) and that stage at
    /// least [`MIN_ASYNC_TILE_BYTES`]. (Which dots take packed operands was settled with the
    /// deferral: `async_copy::keep_dot_taken`.)
    fn async_operands(&self, a: ValueId, bv: ValueId, grouped: bool) -> (bool, bool) {
        let (da, db) = (self.staged_dtype(a), self.staged_dtype(bv));
        let (wa, wb) =
            async_copy::whole_tiles(self.k, a, bv, grouped && !self.opts.async_scaled_copies, (da, db));
        let ok = |v: ValueId, d: DType| {
            let big = self
                .k
                .ty(v)
                .as_tile()
                .is_some_and(|t| t.shape.iter().product::<u32>() * elem_bytes(d) >= MIN_ASYNC_TILE_BYTES);
            big && self.deferred_of(v).is_some()
        };
        (wa && ok(a, da), wb && ok(bv, db))
    }

    /// The dtype operand `v` is staged in for wgmma: a packed FP4 tile the dot stages from its
    /// bytes as e4m3 codes or bf16 values (`Deferred::packed_as`); any other tile as it is.
    fn staged_dtype(&self, v: ValueId) -> DType {
        self.packed_of(v)
            .and_then(|l| self.pending.get(&l).and_then(|d| d.packed_as))
            .unwrap_or_else(|| self.k.ty(v).dtype())
    }

    /// Whether dot operand `v` reaches the MMA as bf16: a bf16 tile, an MX tile (dequantized to
    /// bf16) or an NVFP4 tile that can leave its per-tensor scale to the partial.
    fn on_bf16(&self, v: ValueId) -> bool {
        if let Some(l) = self.deferred_of(v) {
            if self.pending.get(&l).is_some_and(|d| d.explicit.is_some()) {
                // An explicit dequant to bf16 (`Deferred::explicit` is only kept for bf16).
                return true;
            }
            let tensor = self.pending.get(&l).map(|d| d.access.tensor);
            return async_copy::on_bf16_static(self.k, l, tensor, self.opts.nvfp4_wgmma);
        }
        let Some(t) = self.k.ty(v).as_tile() else {
            return false;
        };
        match &t.scale {
            None => t.dtype == DType::BF16,
            Some(s) if s.scale_dtype == DType::E8M0 && !s.global => true,
            Some(_) => self.nv_on_bf16(v),
        }
    }

    /// Whether `v` is a scaled tile.
    fn is_scaled(&self, v: ValueId) -> bool {
        self.k.ty(v).as_tile().is_some_and(|t| t.scale.is_some())
    }

    /// The K group size of this dot taken as codes ([`group_size`]).
    fn group_size(&self, a: ValueId, bv: ValueId) -> Option<u32> {
        group_size(self.k, &self.align, a, bv)
    }

    /// The codes of dot operand `v` as fp8 (e4m3 / e5m2 as they are; fp6 and fp4 codes re-encoded
    /// as e4m3, which holds every one of their values exactly).
    fn code_operand(&self, b: &Block<'c>, v: ValueId, span: Span) -> Result<(Vec<V>, DType), LoweringError> {
        let d = self.k.ty(v).dtype();
        let regs = self.regs(v)?;
        if matches!(d, DType::F8E4M3 | DType::F8E5M2) {
            return Ok((regs, d));
        }
        let mut out = Vec::with_capacity(regs.len());
        for c in regs {
            let x = self.decode_code(b, c, d, span)?;
            out.push(self.cast(b, x, DType::F32, DType::F8E4M3, span)?);
        }
        Ok((out, DType::F8E4M3))
    }

    /// Write the block multipliers of scaled operand `v` into its `[rows][ngroups]` f32 table at
    /// `off` bytes from `base`: the register holding the first element of each K group writes it
    /// (its owner copy; rows past the tile never do). Plain operands have no table.
    #[allow(clippy::too_many_arguments)]
    fn scale_table(
        &self,
        b: &Block<'c>,
        v: ValueId,
        kaxis: usize,
        group: u32,
        ngroups: u32,
        base: V,
        off: u32,
    ) -> Result<(), LoweringError> {
        let Some(mults) = self.scales.get(&v) else {
            return Ok(());
        };
        let l = self.layout_of(v)?.clone();
        let shape = self.shape_of(v);
        let owner = self.owner(b, &l)?;
        // When no lane or warp bit moves K inside a group, which registers start a group is known
        // here; otherwise each register checks at run time.
        let thread_k = l.lane.iter().chain(&l.warp).fold(0u32, |acc, x| acc | x[kaxis]);
        let static_k = thread_k & (group - 1) == 0;
        let m = &self.m;
        for r in 0..l.num_regs() as u32 {
            if !l.reg_is_owner(r) {
                continue;
            }
            let rk = l.reg_coords(l.rank(), r)[kaxis];
            if static_k && rk & (group - 1) != 0 {
                continue;
            }
            let c = self.coords(b, &l, r)?;
            let mut conds = Vec::new();
            if !static_k {
                let mask = m.const_int(b, (group - 1) as i64, 32)?;
                let low = m.bin(b, "arith.andi", c[kaxis], mask)?;
                let z = m.const_int(b, 0, 32)?;
                conds.push(m.cmp(b, false, 0, low, z)?);
            }
            if let Some(x) = self.in_shape(b, &l, &shape, r)? {
                conds.push(x);
            }
            if let Some(o) = owner {
                conds.push(o);
            }
            let sh = m.const_int(b, group.trailing_zeros() as i64, 32)?;
            let gi = m.bin(b, "arith.shrui", c[kaxis], sh)?;
            let p = self.table_ptr(b, base, off, c[1 - kaxis], ngroups, gi)?;
            let mut cond = None;
            for x in conds {
                cond = Some(match cond {
                    None => x,
                    Some(q) => m.bin(b, "arith.andi", q, x)?,
                });
            }
            m.store_if(b, cond, mults[r as usize], p)?;
        }
        Ok(())
    }

    /// Which scaled operands (A, B) of a grouped dot each thread reads the block scales of itself,
    /// straight into registers before each K group's chain, instead of through the shared table:
    /// operands whose scales were never in registers (their loads are issued by the dot) and of
    /// which a thread needs at most [`MAX_DIRECT_SCALES`] per K tile (its distinct accumulator
    /// rows, for A, or columns, for B, times the K groups; one per group when the block covers the
    /// tile: [`Self::uniform_scale`]), as DeepSeek-style f32 block scales usually are. Returns
    /// those operands, and which of them read one scale per group.
    fn direct_scales(
        &self,
        (a, bv): (ValueId, ValueId),
        acc_l: &LinearLayout,
        ngroups: u32,
        grouped: bool,
    ) -> ([bool; 2], [bool; 2]) {
        let (mut direct, mut uniform) = ([false; 2], [false; 2]);
        if !grouped {
            return (direct, uniform);
        }
        for (side, v) in [a, bv].into_iter().enumerate() {
            let l = self.transposed.get(&v).copied().unwrap_or(v);
            let f32_scales = self
                .k
                .ty(v)
                .as_tile()
                .and_then(|t| t.scale.as_ref())
                .is_some_and(|sc| direct_scale_dtype(sc.scale_dtype));
            if !f32_scales || self.scales.contains_key(&v) || !self.deferrable.contains_key(&l) {
                continue;
            }
            let one = self.uniform_scale(v, side);
            let keys = if one {
                1
            } else {
                let mut seen = std::collections::HashSet::new();
                for r in 0..acc_l.num_regs() as u32 {
                    seen.insert(acc_l.reg_coords(2, r)[side]);
                }
                seen.len() as u32
            };
            direct[side] = keys * ngroups <= MAX_DIRECT_SCALES;
            uniform[side] = direct[side] && one;
        }
        (direct, uniform)
    }

    /// Whether every row (A, `side` 0) or column (B, `side` 1) of scaled dot operand `v`'s tile lies
    /// in one scale block: the block along that axis is a multiple of the tile's extent and the
    /// tile starts at a multiple of it (`align`), so one scale per K group serves the whole tile.
    fn uniform_scale(&self, v: ValueId, side: usize) -> bool {
        let extent = u64::from(self.shape_of(v)[side]);
        let Some((access, d, start)) = self.align.tile_start(v, side) else {
            return false;
        };
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return false;
        };
        ty.scale
            .as_ref()
            .and_then(|s| s.block.get(d))
            .is_some_and(|b| u64::from(*b).is_multiple_of(extent) && start.is_multiple_of(extent))
    }

    /// Fill the scale tables of the dot's scaled operands whose scales were never in registers
    /// (their loads are issued by the dot: async scaled copies, the default): A's table at `off` bytes
    /// from `tbase`, B's `mm * ngroups * 4` bytes after it.
    fn deferred_tables(
        &mut self,
        b: &Block<'c>,
        (a, bv): (ValueId, ValueId),
        (group, ngroups, direct): (u32, u32, [bool; 2]),
        (mm, tbase, off): (u32, V, u32),
    ) -> Result<(), LoweringError> {
        for (i, v) in [a, bv].into_iter().enumerate() {
            if !self.is_scaled(v) || self.scales.contains_key(&v) || direct[i] {
                continue;
            }
            let l = self.transposed.get(&v).copied().unwrap_or(v);
            let d = self
                .deferrable
                .get(&l)
                .cloned()
                .ok_or_else(|| ice("a scaled dot operand without its scales"))?;
            let toff = off + if i == 0 { 0 } else { mm * ngroups * 4 };
            self.global_scale_table(b, &d.access, group, ngroups, (tbase, toff))?;
        }
        Ok(())
    }

    /// Entry `[row][j]` of a scale table at `off` bytes from `tbase`: the decoded block scale of the
    /// block holding element `(r0 + row, k0 + j * group)` of `access`'s tile ([`Self::scale_at`]),
    /// entries spread over the CTA's threads.
    fn global_scale_table(
        &self,
        b: &Block<'c>,
        access: &tessera_ir::Access,
        group: u32,
        ngroups: u32,
        (tbase, off): (V, u32),
    ) -> Result<(), LoweringError> {
        let rows = async_copy::tile_rows(access)?;
        let site = self.scale_site(b, access)?;
        let tid = self.tid(b)?;
        let m = &self.m;
        let fill = |eb: &Block<'c>, idx: V| -> Result<(), LoweringError> {
            let c32 = |x: u32| m.const_int(eb, x as i64, 32);
            let row = m.bin(eb, "arith.divui", idx, c32(ngroups)?)?;
            let j = m.bin(eb, "arith.remui", idx, c32(ngroups)?)?;
            let kin = m.bin(eb, "arith.muli", j, c32(group)?)?;
            let s = self.scale_at(eb, &site, row, kin)?;
            let p = self.table_ptr(eb, tbase, off, row, ngroups, j)?;
            m.store(eb, s, p)?;
            Ok(())
        };
        self.spread(b, rows * ngroups, tid, &fill)
    }

    /// Where the block scales of deferred scaled load `access` are read, lowered once per dot.
    fn scale_site(&self, b: &Block<'c>, access: &tessera_ir::Access) -> Result<ScaleSite, LoweringError> {
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("scaled load of a scalar"));
        };
        let Some(spec) = ty.scale.clone() else {
            return Err(ice("scale table of a plain tensor"));
        };
        let dims = self.dims(b, &ty.dims, self.span)?;
        Ok(ScaleSite {
            at: self.tile_at(&async_copy::tile_starts(access)?)?,
            sdims: self.scale_dims(b, &spec, &dims)?,
            dims,
            sptr: *self
                .scale_ptrs
                .get(&access.tensor)
                .ok_or_else(|| ice("scale pointer of a scaled tensor"))?,
            spec,
        })
    }

    /// The decoded block scale of element `(r0 + row, k0 + kin)` of the site's tile (`row`, `kin`
    /// i32), read from global memory; 1, the neutral scale, out of bounds, as a masked scaled load
    /// reads.
    fn scale_at(&self, b: &Block<'c>, site: &ScaleSite, row: V, kin: V) -> Result<V, LoweringError> {
        let m = &self.m;
        // The element's coordinates: the points, then the row and the K start.
        let mut coords = Vec::with_capacity(site.dims.len());
        for p in &site.at.points {
            coords.push(m.conv(b, "arith.extsi", *p, m.i(64))?);
        }
        let r = m.bin(b, "arith.addi", site.at.r0, row)?;
        coords.push(m.conv(b, "arith.extsi", r, m.i(64))?);
        let k = m.bin(b, "arith.addi", site.at.k0, kin)?;
        coords.push(m.conv(b, "arith.extsi", k, m.i(64))?);
        let z = m.const_int(b, 0, 64)?;
        let mut ok = m.const_int(b, 1, 1)?;
        for (x, d) in coords.iter().zip(&site.dims) {
            let lo = m.cmp(b, false, 5, *x, z)?; // sge
            let hi = m.cmp(b, false, 2, *x, *d)?; // slt
            ok = m.bin(b, "arith.andi", ok, lo)?;
            ok = m.bin(b, "arith.andi", ok, hi)?;
        }
        // Only read where `ok`: the offset of coordinates out of bounds is never used.
        self.block_scale_at(b, (&coords, ok), &site.spec, (&site.sdims, site.sptr), self.span)
    }

    /// Pointer to entry `[row][group]` of a scale table at `off` bytes from `base`.
    fn table_ptr(
        &self,
        b: &Block<'c>,
        base: V,
        off: u32,
        row: V,
        ngroups: u32,
        group: V,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let ng = m.const_int(b, ngroups as i64, 32)?;
        let i = m.bin(b, "arith.muli", row, ng)?;
        let i = m.bin(b, "arith.addi", i, group)?;
        let four = m.const_int(b, 4, 32)?;
        let byte = m.bin(b, "arith.muli", i, four)?;
        let o = m.const_int(b, off as i64, 32)?;
        let byte = m.bin(b, "arith.addi", byte, o)?;
        let b64 = m.conv(b, "arith.extui", byte, m.i(64))?;
        m.gep(b, base, b64, m.i(8))
    }

    /// Entry `[row][j]` of a scale table.
    fn table_entry(
        &self,
        b: &Block<'c>,
        base: V,
        off: u32,
        row: V,
        ngroups: u32,
        j: u32,
    ) -> Result<V, LoweringError> {
        let jv = self.m.const_int(b, j as i64, 32)?;
        let p = self.table_ptr(b, base, off, row, ngroups, jv)?;
        self.m.load(b, p, self.m.f32())
    }

    /// Address of element `(row, k)` of a K-major staging tile of `rr` rows at `region` bytes
    /// from `base`: slab `k * eb / sw`, then the row, then the 16-byte chunk XOR `row % (sw / 16)`
    /// (the swizzle the wgmma descriptors describe).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn swizzled(
        &self,
        b: &Block<'c>,
        row: V,
        k: V,
        rr: u32,
        sw: u32,
        eb: u32,
        region: u32,
        base: V,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let c = |x: u32| m.const_int(b, x as i64, 32);
        let kb = m.bin(b, "arith.muli", k, c(eb)?)?;
        let slab = m.bin(b, "arith.divui", kb, c(sw)?)?;
        let within = m.bin(b, "arith.remui", kb, c(sw)?)?;
        let s_off = m.bin(b, "arith.muli", slab, c(rr * sw)?)?;
        let r_off = m.bin(b, "arith.muli", row, c(sw)?)?;
        let lin = m.bin(b, "arith.addi", s_off, r_off)?;
        let lin = m.bin(b, "arith.addi", lin, within)?;
        let sh = m.bin(b, "arith.shrui", lin, c(7)?)?;
        let ph = m.bin(b, "arith.andi", sh, c(sw / 16 - 1)?)?;
        let ph = m.bin(b, "arith.shli", ph, c(4)?)?;
        let phys = m.bin(b, "arith.xori", lin, ph)?;
        let phys = m.bin(b, "arith.addi", phys, c(region)?)?;
        let p64 = m.conv(b, "arith.extui", phys, m.i(64))?;
        m.gep(b, base, p64, m.i(8))
    }

    /// Write operand `v` into its K-major swizzled staging tile at `region` bytes from `base`:
    /// `a` is `[rows, K]`; `b` (`transposed`) is `[K, rows]`. Rows past the tile (`pr` of the padded
    /// `rr`) repeat real rows. `kperm`: element K goes to [`k_position`]`(K)` (the B operand of a
    /// dot whose 8-bit A comes from registers).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage(
        &mut self,
        b: &Block<'c>,
        (l, shape, regs): (&LinearLayout, &[u32], &[V]),
        transposed: bool,
        kperm: bool,
        pr: u32,
        rr: u32,
        sw: u32,
        eb: u32,
        region: u32,
        base: V,
    ) -> Result<(), LoweringError> {
        let owner = self.owner(b, l)?;
        // byte = slab * rr * sw + r * sw + kk, then the 16-byte chunk XOR (r % (sw / 16))
        let addr = |g: &Self, b: &Block<'c>, row: V, k: V, rep: u32| -> Result<V, LoweringError> {
            let r = if rep == 0 {
                row
            } else {
                let off = g.m.const_int(b, (rep * pr) as i64, 32)?;
                g.m.bin(b, "arith.addi", row, off)?
            };
            let k = if kperm { k_position(&g.m, b, k)? } else { k };
            g.swizzled(b, r, k, rr, sw, eb, region, base)
        };
        let all = |m: &Mlir<'c>, b: &Block<'c>, conds: &[V]| -> Result<Option<V>, LoweringError> {
            let mut cond = None;
            for x in conds {
                cond = Some(match cond {
                    None => *x,
                    Some(q) => m.bin(b, "arith.andi", q, *x)?,
                });
            }
            Ok(cond)
        };
        // Registers that walk K one element at a time go in as one vector when the run starts on
        // a multiple of its length (the swizzle moves whole 16-byte chunks, so the run stays
        // contiguous) and lies inside the tile; other runs element by element.
        let kdim = if transposed { 0 } else { 1 };
        // (`k_position` keeps pairs of K adjacent, not longer runs.)
        let w = l
            .contiguous_regs(kdim)
            .min(16 / eb)
            .min(if kperm { 2 } else { 16 })
            .max(1) as usize;
        for (g, group) in regs.chunks(w).enumerate() {
            let first = (g * w) as u32;
            if !l.reg_is_owner(first) {
                continue;
            }
            let c = self.coords(b, l, first)?;
            let (row, k) = if transposed { (c[1], c[0]) } else { (c[0], c[1]) };
            let mut conds = Vec::new();
            if let Some(x) = self.in_shape(b, l, shape, first)? {
                conds.push(x);
            }
            if let Some(x) = self.in_shape(b, l, shape, first + group.len() as u32 - 1)? {
                conds.push(x);
            }
            if let Some(o) = owner {
                conds.push(o);
            }
            let mut each = Vec::with_capacity(group.len());
            for j in 0..group.len() as u32 {
                let cj = self.coords(b, l, first + j)?;
                let (rj, kj) = if transposed {
                    (cj[1], cj[0])
                } else {
                    (cj[0], cj[1])
                };
                let mut cj = Vec::new();
                if let Some(x) = self.in_shape(b, l, shape, first + j)? {
                    cj.push(x);
                }
                if let Some(o) = owner {
                    cj.push(o);
                }
                each.push((rj, kj, cj));
            }
            for rep in 0..rr / pr {
                if group.len() < 2 {
                    let p = addr(self, b, row, k, rep)?;
                    let cond = all(&self.m, b, &each[0].2)?;
                    self.m.store_if(b, cond, group[0], p)?;
                    continue;
                }
                let m = &self.m;
                let wv = m.const_int(b, group.len() as i64, 32)?;
                let r = m.bin(b, "arith.remui", k, wv)?;
                let z = m.const_int(b, 0, 32)?;
                let at = m.cmp(b, false, 0, r, z)?;
                let mut vc = conds.clone();
                vc.push(at);
                let ok = all(m, b, &vc)?.ok_or_else(|| ice("vector stage condition"))?;
                let p = addr(self, b, row, k, rep)?;
                let bytes = group.len() as u32 * eb;
                let m = &self.m;
                m.if_(
                    b,
                    ok,
                    &[],
                    |tb| {
                        m.store_vec(tb, group, p, bytes)?;
                        Ok(vec![])
                    },
                    |tb| {
                        for (v, (rj, kj, cj)) in group.iter().zip(&each) {
                            let pj = addr(self, tb, *rj, *kj, rep)?;
                            let cond = all(m, tb, cj)?;
                            m.store_if(tb, cond, *v, pj)?;
                        }
                        Ok(vec![])
                    },
                )?;
            }
        }
        Ok(())
    }

    /// The four 32-bit registers of wgmma's A fragment for the 64-row block starting at `row0` and
    /// K step `step`, packed from `regs` (A in the accumulator fragment layout; `at` maps each
    /// register's (row, column) register coordinates to its index). PTX ISA, wgmma register
    /// fragment of A: register `2 * kh + h` holds row `8 * h` (plus the lane's) and, for 16-bit
    /// types, columns `8 * kh + 2 * (lane % 4) + {0, 1}`, the accumulator's own columns; for 8-bit
    /// types fragment column `16 * kh + 4 * (lane % 4) + i`, where this thread holds accumulator
    /// column `8 * (2 * kh + i / 2) + 2 * (lane % 4) + i % 2`, which [`k_position`] sends there.
    fn reg_fragment(
        &self,
        b: &Block<'c>,
        at: &HashMap<Vec<u32>, usize>,
        regs: &[V],
        row0: u32,
        step: u32,
        (kstep, eb): (u32, u32),
    ) -> Result<[V; 4], LoweringError> {
        let m = &self.m;
        let per = 4 / eb;
        let mut out = Vec::with_capacity(4);
        for a in 0..4u32 {
            let (h, kh) = (a % 2, a / 2);
            let mut word = None;
            for i in 0..per {
                let col = if eb == 1 {
                    step * kstep + 8 * (2 * kh + i / 2) + i % 2
                } else {
                    step * kstep + 8 * kh + i
                };
                let r = *at
                    .get(&vec![row0 + 8 * h, col])
                    .ok_or_else(|| ice("an A register outside the accumulator fragment"))?;
                let bits = m.conv(b, "arith.bitcast", regs[r], m.i(8 * eb))?;
                let x = m.conv(b, "arith.extui", bits, m.i(32))?;
                let x = if i == 0 {
                    x
                } else {
                    let sh = m.const_int(b, i64::from(8 * eb * i), 32)?;
                    m.bin(b, "arith.shli", x, sh)?
                };
                word = Some(match word {
                    None => x,
                    Some(w) => m.bin(b, "arith.ori", w, x)?,
                });
            }
            out.push(word.ok_or_else(|| ice("empty A fragment register"))?);
        }
        Ok([out[0], out[1], out[2], out[3]])
    }

    /// `wgmma.mma_async` with A from the registers `a` and B from the descriptor `db`,
    /// accumulating into the struct `acc` (type `st`) or, unless `accumulate`, overwriting it. The
    /// NVVM dialect's op takes A by descriptor only, so this is the PTX itself, as inline asm with
    /// the accumulator registers tied to its outputs.
    #[allow(clippy::too_many_arguments)]
    fn wgmma_reg_a(
        &self,
        b: &Block<'c>,
        acc: V,
        a: &[V; 4],
        db: V,
        (n, kstep): (u32, u32),
        (ta, tb): (&str, &str),
        accumulate: bool,
        st: melior::ir::Type<'c>,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let nregs = n / 2;
        let mut args = Vec::with_capacity(nregs as usize + 5);
        for i in 0..nregs {
            args.push(m.op1(b, "llvm.extractvalue", &[acc], m.f32(), &[m.position(i)])?);
        }
        args.extend(a);
        args.push(db);
        let d: Vec<String> = (0..nregs).map(|i| format!("${i}")).collect();
        // Operands are numbered outputs first, then the inputs tied to them, then A and B.
        let an: Vec<String> = (2 * nregs..2 * nregs + 4).map(|i| format!("${i}")).collect();
        // 16-bit types take an immediate transpose flag for B (0: K-major, as staged).
        let trans_b = if ta == "bf16" || ta == "f16" { ", 0" } else { "" };
        let asm = format!(
            "{{\n.reg .pred p;\nsetp.ne.b32 p, {}, 0;\nwgmma.mma_async.sync.aligned.m64n{n}k{kstep}.f32.{ta}.{tb} {{{}}}, {{{}}}, ${}, p, 1, 1{trans_b};\n}}",
            u32::from(accumulate),
            d.join(", "),
            an.join(", "),
            2 * nregs + 4
        );
        let mut cons: Vec<String> = (0..nregs).map(|_| "=f".to_string()).collect();
        cons.extend((0..nregs).map(|i| i.to_string()));
        cons.extend(["r", "r", "r", "r", "l"].map(String::from));
        m.inline_asm(b, &asm, &cons.join(","), &args, st)
    }

    /// `acc + a @ b` with f32 fused multiply-adds: both operands are staged to shared memory as
    /// f32 (row-major), then every accumulator register walks K. The exact-precision path for
    /// operand pairs no MMA takes (f32, or mixed bf16/f16).
    fn dot_fma(
        &mut self,
        b: &Block<'c>,
        (a, ra, da): (ValueId, &[V], DType),
        (bv, rb, db): (ValueId, &[V], DType),
        acc: ValueId,
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        let dc = self.k.ty(acc).dtype();
        if !(is_float(da) || da.is_narrow_float())
            || !(is_float(db) || db.is_narrow_float())
            || dc != DType::F32
        {
            return Err(unsupported(
                format!("`dot` of {da} x {db} into {dc} on sm_90a"),
                span,
            ));
        }
        let (sa, sb) = (self.shape_of(a), self.shape_of(bv));
        let (pm, pk, pn) = (padded_extent(sa[0]), padded_extent(sa[1]), padded_extent(sb[1]));
        let f = self.m.f32();
        let a_words = pm * pk;
        let b_words = pk * pn;
        self.need_scratch(((a_words + b_words) * 4) as u64);
        let base = self.scratch(b)?;
        self.m.barrier(b)?;
        // Stage both operands as f32, row-major over their padded shapes (owners write).
        for (v, regs, d, offset, cols) in [(a, ra, da, 0u32, pk), (bv, rb, db, a_words, pn)] {
            let l = self.layout_of(v)?.clone();
            let shape = self.shape_of(v);
            let owner = self.owner(b, &l)?;
            for (i, r) in regs.iter().enumerate() {
                if !l.reg_is_owner(i as u32) {
                    continue;
                }
                let val = if d.is_narrow_float() {
                    self.decode_code(b, *r, d, span)?
                } else {
                    self.cast(b, *r, d, DType::F32, span)?
                };
                // padded elements are zero, so they add nothing
                let val = match self.in_shape(b, &l, &shape, i as u32)? {
                    Some(c) => {
                        let z = self.m.const_float(b, 0.0, f)?;
                        self.m.select(b, c, val, z)?
                    }
                    None => val,
                };
                let c = self.coords(b, &l, i as u32)?;
                let m = &self.m;
                let cv = m.const_int(b, cols as i64, 32)?;
                let row = m.bin(b, "arith.muli", c[0], cv)?;
                let idx = m.bin(b, "arith.addi", row, c[1])?;
                let ov = m.const_int(b, offset as i64, 32)?;
                let idx = m.bin(b, "arith.addi", idx, ov)?;
                let i64v = m.conv(b, "arith.extui", idx, m.i(64))?;
                let p = m.gep(b, base, i64v, f)?;
                m.store_if(b, owner, val, p)?;
            }
        }
        self.m.barrier(b)?;
        let acc_l = self.layout_of(acc)?.clone();
        let acc_regs = self.regs(acc)?;
        let coords: Vec<Vec<V>> = (0..acc_l.num_regs() as u32)
            .map(|r| self.coords(b, &acc_l, r))
            .collect::<Result<_, _>>()?;
        // scf.for k in 0..K, the accumulator registers as iteration arguments
        let m = &self.m;
        let lo = m.const_int(b, 0, 32)?;
        let hi = m.const_int(b, pk as i64, 32)?;
        let one = m.const_int(b, 1, 32)?;
        let mut arg_types = vec![(m.i(32), m.loc)];
        arg_types.extend(acc_regs.iter().map(|_| (f, m.loc)));
        let body = Block::new(&arg_types);
        let args: Vec<V> = (0..arg_types.len())
            .map(|i| {
                body.argument(i)
                    .map(|x| melior::ir::ValueLike::to_raw(&melior::ir::Value::from(x)))
                    .map_err(|e| ice(format!("loop argument: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let k = args[0];
        let kcols = m.const_int(&body, pk as i64, 32)?;
        let ncols = m.const_int(&body, pn as i64, 32)?;
        let boff = m.const_int(&body, a_words as i64, 32)?;
        let krow = m.bin(&body, "arith.muli", k, ncols)?;
        let krow = m.bin(&body, "arith.addi", krow, boff)?;
        let mut next = Vec::with_capacity(acc_regs.len());
        for (r, c) in coords.iter().enumerate() {
            let ai = m.bin(&body, "arith.muli", c[0], kcols)?;
            let ai = m.bin(&body, "arith.addi", ai, k)?;
            let ai = m.conv(&body, "arith.extui", ai, m.i(64))?;
            let bi = m.bin(&body, "arith.addi", krow, c[1])?;
            let bi = m.conv(&body, "arith.extui", bi, m.i(64))?;
            let pa = m.gep(&body, base, ai, f)?;
            let pb = m.gep(&body, base, bi, f)?;
            let x = m.load(&body, pa, f)?;
            let y = m.load(&body, pb, f)?;
            let prod = m.bin(&body, "arith.mulf", x, y)?;
            next.push(m.bin(&body, "arith.addf", args[r + 1], prod)?);
        }
        m.op(&body, "scf.yield", &next, &[], &[], Vec::new())?;
        let region = melior::ir::Region::new();
        region.append_block(body);
        let mut operands = vec![lo, hi, one];
        operands.extend(acc_regs.iter().copied());
        let out = m.op(
            b,
            "scf.for",
            &operands,
            &vec![f; acc_regs.len()],
            &[],
            vec![region],
        )?;
        self.m.barrier(b)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{K_AT_POSITION, k_position_of, permute_bits};

    #[test]
    fn k_at_position_inverts_k_position() {
        for k in 0..256 {
            assert_eq!(permute_bits(&K_AT_POSITION, k_position_of(k)), k, "k = {k}");
            assert_eq!(k_position_of(permute_bits(&K_AT_POSITION, k)), k, "p = {k}");
        }
        // Positions 4q .. 4q+3 of a 16-wide half hold rows 2q, 2q+1, 2q+8, 2q+9.
        let rows: Vec<u32> = (4..8).map(|p| permute_bits(&K_AT_POSITION, p)).collect();
        assert_eq!(rows, [2, 3, 10, 11]);
    }

    #[test]
    fn k_positions_send_each_accumulator_column_to_its_8_bit_a_fragment_column() {
        // PTX ISA, wgmma `.m64nNk32` register fragment of A for 8-bit types: register
        // `2 * kh + h`, byte `i` of thread q holds K `16 * kh + 4 * q + i`; the thread holds the
        // f32 accumulator's columns `8 * j + 2 * q + e`, and `reg_fragment` packs column
        // `8 * (2 * kh + i / 2) + 2 * q + i % 2` there.
        for step in 0..4u32 {
            let mut seen = [false; 32];
            for q in 0..4 {
                for kh in 0..2 {
                    for i in 0..4 {
                        let col = 8 * (2 * kh + i / 2) + 2 * q + i % 2;
                        let frag = 16 * kh + 4 * q + i;
                        assert_eq!(
                            k_position_of(32 * step + col),
                            32 * step + frag,
                            "q {q} kh {kh} i {i}"
                        );
                        seen[frag as usize] = true;
                    }
                }
            }
            assert!(seen.iter().all(|x| *x), "a permutation of each step");
        }
    }
}
