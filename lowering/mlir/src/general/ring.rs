//! Software pipelining of a loop's dot operands: a ring of shared-memory stages filled by
//! `cp.async` copies several iterations ahead of the wgmma that reads them.
//!
//! A `dot` qualifies when it stands at the top level of a `for` body (it runs once per iteration)
//! and both of its operands are loads the dot issues itself (`async_copy`: plain tiles of tensors
//! the kernel never writes, copied whole), and the loads' tile starts are pure functions of the
//! induction variable and of values from before the loop (`pipeline_loads::slice_of`: only ops
//! that cannot fail). Then, with `S` stages of `[A tile | B tile]`, each swizzled as the
//! descriptors expect:
//! - before the loop: the tiles of iterations `lo`, `lo + step`, .., `lo + (S-2) step` (those below
//!   `hi`) are issued into stages `0..S-1`, one commit group per iteration;
//! - iteration `t` (`iv = lo + t step`): a barrier (every thread is done with iteration `t-1`'s
//!   stage), the copies of iteration `t + S - 1` into that stage (if it runs), a commit, a wait
//!   until at most `S - 1` groups are in flight (so iteration `t`'s group has landed), the proxy
//!   fence and a barrier, then the wgmma chain reads stage `t mod S`.
//!
//! Meaning is unchanged: the copies read tensors nothing writes, at the coordinates the loads
//! compute for that iteration (the same ops replayed at another induction value), and never for
//! an iteration that does not run; a stage is overwritten only after the barrier that follows the
//! last read of it. A dot that does not qualify stages its operands per iteration in the scratch
//! buffer, as before.

use super::*;
use std::collections::BTreeSet;
use tessera_passes::passes::pipeline_loads::{body_facts, slice_of};

/// Shared memory first kept out of the rings' budget for the scratch buffer (reductions and layout
/// conversions elsewhere in the kernel); `general::lower` plans again around the scratch buffer
/// actually needed when this was too little.
pub(super) const SCRATCH_RESERVE: u32 = 32 * 1024;

/// One dot whose operands stream through a ring.
#[derive(Clone)]
pub(super) struct Ring {
    /// The induction variable of the loop that holds the dot.
    pub iv: ValueId,
    /// The A load and the B load (under its transpose).
    pub loads: [ValueId; 2],
    /// Body ops (in program order) computing the loads' tile starts from the induction variable.
    pub slice: Vec<Op>,
    pub stages: u32,
    /// Byte offset of stage 0 from the aligned dynamic shared-memory base.
    pub offset: u32,
    pub stage_bytes: u32,
    /// A tile rows, B tile rows (N), K, element bytes (as wgmma reads them).
    pub rows: [u32; 2],
    pub kk: u32,
    pub eb: u32,
    /// Packed FP4 operands: the stage holds their bytes (`kk / 2` a row, row-major), which the
    /// dot converts into its staging tile in scratch (`packed`).
    pub packed: [bool; 2],
}

impl Ring {
    /// Bytes of operand `i`'s region in a stage.
    fn region_bytes(&self, i: usize) -> u32 {
        if self.packed[i] {
            self.rows[i] * self.kk / 2
        } else {
            self.rows[i] * self.kk * self.eb
        }
    }

    /// Bytes of the A region in a stage (the B region follows).
    pub fn a_bytes(&self) -> u32 {
        self.region_bytes(0)
    }

    /// The swizzle width in bytes (what the dot's descriptors use for this K extent).
    pub fn sw(&self) -> u32 {
        (self.kk * self.eb).min(128)
    }
}

/// The ring's schedule as numbers: what the emitter issues where, and what the model check at the
/// end of this file replays against a model of `cp.async` groups.
#[derive(Clone, Copy, Debug)]
pub(super) struct Schedule {
    pub stages: u32,
}

impl Schedule {
    /// Iterations (relative to the first) issued before the loop, each into the stage of its number.
    pub fn prologue(self) -> std::ops::Range<u32> {
        0..self.stages - 1
    }
    /// How far ahead iteration `t` prefetches: iteration `t + ahead` into its stage.
    pub fn ahead(self) -> u32 {
        self.stages - 1
    }
    /// Commit groups left in flight by every wait.
    pub fn in_flight(self) -> u32 {
        self.stages - 1
    }
    /// The stage that holds iteration `t` (the emitted `t mod S`).
    #[cfg(test)]
    pub fn stage_of(self, t: u32) -> u32 {
        t % self.stages
    }
}

/// The deepest ring the automatic choice considers.
pub(super) const AUTO_STAGES: u32 = 4;

/// Shared memory the hardware keeps per resident CTA (sm_90: 1 KiB), out of the SM's total.
const CTA_RESERVED_SHARED: u32 = 1024;

/// Where the rings' shared memory comes from.
pub(super) struct Budget {
    /// The most one CTA may use (the target's opt-in limit).
    pub max_shared: u32,
    /// The SM's shared memory, shared by its resident CTAs.
    pub shared_per_sm: u32,
    /// Kept from the rings for the scratch buffer.
    pub reserve: u32,
    /// The CTA will hold the SM alone whatever its shared memory (its registers do not leave
    /// room for a second one), so the automatic depth plans for one CTA.
    pub alone: bool,
}

/// The rings of kernel `k` (keyed by the dot's A load) and the shared memory they take.
///
/// `Some(stages)` (the user's `--stages`): that depth per ring where it fits in the CTA's limit,
/// else as deep as fits, at least two, else the dot is left unpipelined. `None`: the deepest ring
/// up to [`AUTO_STAGES`] that still leaves room for a second CTA on the SM, because one
/// warpgroup waiting on its wgmma chain cannot keep the tensor cores busy alone and a second
/// CTA's warpgroup hides that wait (measured on the H200: bf16 4096³ per op, 3 stages and two
/// CTAs 314.8 us, 4 stages and one CTA 449.5 us; docs/PERFORMANCE.md). Only where even two stages
/// do not leave that room, or where the CTA's registers already keep a second one off the SM
/// (`Budget::alone`), are the rings planned for one CTA per SM.
pub(super) fn plan(
    k: &Kernel,
    deferrable: &HashMap<ValueId, async_copy::Deferred>,
    transposed: &HashMap<ValueId, ValueId>,
    stages: Option<u32>,
    budget: &Budget,
) -> (HashMap<ValueId, Ring>, u32) {
    let one_cta = budget
        .max_shared
        .saturating_sub(SCRATCH_ALIGN as u32 + budget.reserve);
    let Some(depth) = stages else {
        if budget.alone {
            return plan_in(k, deferrable, transposed, AUTO_STAGES, one_cta);
        }
        let two_ctas = (budget.shared_per_sm / 2)
            .saturating_sub(CTA_RESERVED_SHARED + SCRATCH_ALIGN as u32 + budget.reserve)
            .min(one_cta);
        let shared = plan_in(k, deferrable, transposed, AUTO_STAGES, two_ctas);
        let alone = plan_in(k, deferrable, transposed, AUTO_STAGES, one_cta);
        return if shared.0.len() == alone.0.len() {
            shared
        } else {
            alone
        };
    };
    plan_in(k, deferrable, transposed, depth, one_cta)
}

/// The rings of `k` at up to `stages` each, in `budget` bytes.
fn plan_in(
    k: &Kernel,
    deferrable: &HashMap<ValueId, async_copy::Deferred>,
    transposed: &HashMap<ValueId, ValueId>,
    stages: u32,
    budget: u32,
) -> (HashMap<ValueId, Ring>, u32) {
    let mut rings = HashMap::new();
    let mut used = 0u32;
    let mut loops = Vec::new();
    collect_loops(&k.body, &mut loops);
    for body in loops {
        let Some(&iv) = body.args.first() else {
            continue;
        };
        let (inside, def) = body_facts(body);
        for op in &body.ops {
            let OpKind::Dot { a, b, .. } = &op.kind else {
                continue;
            };
            let Some(&bl) = transposed.get(b) else {
                continue;
            };
            let (Some(da), Some(db)) = (deferrable.get(a), deferrable.get(&bl)) else {
                continue;
            };
            if !def.contains_key(a) || !def.contains_key(&bl) {
                continue;
            }
            // As wgmma reads them (a packed FP4 tile as the dot stages it).
            let dtypes = (
                da.packed_as.unwrap_or(k.ty(*a).dtype()),
                db.packed_as.unwrap_or(k.ty(*b).dtype()),
            );
            if async_copy::whole_tiles(k, *a, *b, false, dtypes) != (true, true) {
                continue;
            }
            let mut slice = BTreeSet::new();
            let starts_ok = [da, db].iter().all(|d| {
                async_copy::tile_starts(&d.access).is_ok_and(|t| {
                    t.values()
                        .all(|s| slice_of(s, body, &def, &inside, &mut slice).is_ok())
                })
            });
            if !starts_ok {
                continue;
            }
            let (Some(ta), Some(tb)) = (k.ty(*a).as_tile(), k.ty(*b).as_tile()) else {
                continue;
            };
            let (kk, eb) = (ta.shape[1], elem_bytes(dtypes.0));
            let packed = [da.packed_as.is_some(), db.packed_as.is_some()];
            // Packed bytes are copied 16 bytes (32 codes) at a time.
            if packed.iter().any(|p| *p) && !kk.is_multiple_of(32) {
                continue;
            }
            // Staging rows: the wgmma atom's at least (64 for A, 8 for B), the tile's rows repeated.
            let rows = [ta.shape[0].max(64), tb.shape[1].max(8)];
            let region = |i: usize| {
                if packed[i] {
                    rows[i] * kk / 2
                } else {
                    rows[i] * kk * eb
                }
            };
            let stage_bytes = (region(0) + region(1)).next_multiple_of(1024);
            let fit = budget.saturating_sub(used) / stage_bytes;
            let s = stages.min(fit);
            if s < 2 {
                continue;
            }
            rings.insert(
                *a,
                Ring {
                    iv,
                    loads: [*a, bl],
                    slice: slice.iter().map(|&i| body.ops[i].clone()).collect(),
                    stages: s,
                    offset: used,
                    stage_bytes,
                    rows,
                    kk,
                    eb,
                    packed,
                },
            );
            used += s * stage_bytes;
        }
    }
    (rings, used)
}

/// Every `for` body in `b`, outer loops first.
fn collect_loops<'k>(b: &'k IrBlock, out: &mut Vec<&'k IrBlock>) {
    for op in &b.ops {
        if let OpKind::For { body, .. } = &op.kind {
            out.push(body);
        }
        for inner in op.kind.blocks() {
            collect_loops(inner, out);
        }
    }
}

impl<'c> Gen<'c, '_> {
    /// Before the `for` whose induction variable is `iv` (bounds already lowered): fill the first
    /// `S - 1` stages of each of its rings.
    pub(super) fn ring_prologue(
        &mut self,
        b: &Block<'c>,
        iv: ValueId,
        (lo, hi, step): (V, V, V),
        span: Span,
    ) -> Result<(), LoweringError> {
        let mut rings: Vec<Ring> = self.rings.values().filter(|r| r.iv == iv).cloned().collect();
        if rings.is_empty() {
            return Ok(());
        }
        rings.sort_by_key(|r| r.offset);
        self.loop_bounds.insert(iv, (lo, hi, step));
        // A stage may still be read by the wgmma of an earlier run of this loop (nested loops).
        self.m.barrier(b)?;
        for r in &rings {
            let sched = Schedule { stages: r.stages };
            for s in sched.prologue() {
                let m = &self.m;
                let sc = m.const_int(b, s as i64, 32)?;
                let off = m.bin(b, "arith.muli", sc, step)?;
                let it = m.bin(b, "arith.addi", lo, off)?;
                let runs = m.cmp(b, false, 2, it, hi)?; // slt
                self.ring_issue(b, r, (it, sc, runs), span)?;
                self.m.async_commit_wait(b, sched.in_flight())?;
            }
        }
        Ok(())
    }

    /// In iteration `iv` of the ring's loop: prefetch iteration `iv + (S-1) step` into the stage
    /// iteration `iv - step` used, wait for this iteration's copies, and return a pointer to this
    /// iteration's stage. The caller fences and synchronises before the wgmma reads it.
    pub(super) fn ring_step(&mut self, b: &Block<'c>, r: &Ring, span: Span) -> Result<V, LoweringError> {
        for l in r.loads {
            self.pending
                .remove(&l)
                .ok_or_else(|| ice("ring operand not deferred"))?;
        }
        let &(lo, hi, step) = self
            .loop_bounds
            .get(&r.iv)
            .ok_or_else(|| ice("ring loop bounds"))?;
        let iv = self.scalar(r.iv)?;
        let sched = Schedule { stages: r.stages };
        let m = &self.m;
        // t = (iv - lo) / step; this stage `t mod S` (Schedule::stage_of), the prefetch's
        // `(t + ahead) mod S`.
        let s = m.const_int(b, r.stages as i64, 32)?;
        let rel = m.bin(b, "arith.subi", iv, lo)?;
        let t = m.bin(b, "arith.divui", rel, step)?;
        let cur = m.bin(b, "arith.remui", t, s)?;
        let ahead = m.const_int(b, sched.ahead() as i64, 32)?;
        let tn = m.bin(b, "arith.addi", t, ahead)?;
        let next = m.bin(b, "arith.remui", tn, s)?;
        let dist = m.bin(b, "arith.muli", ahead, step)?;
        let it = m.bin(b, "arith.addi", iv, dist)?;
        let runs = m.cmp(b, false, 2, it, hi)?; // slt
        self.m.barrier(b)?;
        self.ring_issue(b, r, (it, next, runs), span)?;
        self.m.async_commit_wait(b, sched.in_flight())?;
        self.stage_ptr(b, r, cur)
    }

    /// Issue (when `runs`) the copies of both operand tiles of iteration `it` into stage `stage`.
    fn ring_issue(
        &mut self,
        b: &Block<'c>,
        r: &Ring,
        (it, stage, runs): (V, V, V),
        span: Span,
    ) -> Result<(), LoweringError> {
        // The tile starts at `it`: the slice replayed with the induction variable bound to `it`
        // (pure ops that cannot fail, so they run unconditionally), then the bindings restored.
        let saved: Vec<(ValueId, Option<Val>)> = std::iter::once(r.iv)
            .chain(r.slice.iter().flat_map(|o| o.results.iter().copied()))
            .map(|v| (v, self.env.get(&v).cloned()))
            .collect();
        self.env.insert(r.iv, Val::Scalar(it));
        let mut replayed = Ok(());
        for op in &r.slice {
            replayed = self.op(b, op);
            if replayed.is_err() {
                break;
            }
        }
        let mut starts = Vec::new();
        let mut accesses = Vec::new();
        if replayed.is_ok() {
            // Collected before the bindings are restored; an error is returned after.
            replayed = r.loads.iter().try_for_each(|l| {
                let d = self.deferrable.get(l).ok_or_else(|| ice("ring load"))?;
                starts.push(self.tile_at(&async_copy::tile_starts(&d.access)?)?);
                accesses.push(d.access.clone());
                Ok(())
            });
        }
        for (v, old) in saved {
            match old {
                Some(x) => self.env.insert(v, x),
                None => self.env.remove(&v),
            };
        }
        replayed?;
        let base = self.stage_ptr(b, r, stage)?;
        let this = &*self;
        this.m.if_(
            b,
            runs,
            &[],
            |tb| {
                for (i, (access, st)) in accesses.iter().zip(&starts).enumerate() {
                    let region = if i == 0 { 0 } else { r.a_bytes() };
                    if r.packed[i] {
                        this.issue_packed(tb, (access, st), (r.rows[i], r.kk), (region, base), span)?;
                        continue;
                    }
                    this.issue_tile(
                        tb,
                        access,
                        st,
                        (r.rows[i], r.kk, r.eb),
                        r.sw(),
                        (region, base),
                        false,
                        span,
                    )?;
                }
                Ok(vec![])
            },
            |_| Ok(vec![]),
        )?;
        Ok(())
    }

    /// A pointer to stage `stage` (i32) of ring `r`.
    fn stage_ptr(&self, b: &Block<'c>, r: &Ring, stage: V) -> Result<V, LoweringError> {
        let m = &self.m;
        let base = self.shared_base(b)?;
        let sb = m.const_int(b, r.stage_bytes as i64, 32)?;
        let off = m.bin(b, "arith.muli", stage, sb)?;
        let first = m.const_int(b, r.offset as i64, 32)?;
        let off = m.bin(b, "arith.addi", off, first)?;
        let off = m.conv(b, "arith.extui", off, m.i(64))?;
        m.gep(b, base, off, m.i(8))
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    /// Stage contents: the iteration each stage holds and whether its copies landed.
    type Stages = Vec<Option<(u32, bool)>>;

    /// Replay the schedule against a model of `cp.async` commit groups (a wait for `n` completes
    /// every group but the `n` youngest) and of the CTA barriers, for loops of every length up to
    /// past the ring: each iteration must read a stage whose copies of that very iteration have
    /// landed, and no copy may target a stage whose contents are still to be read.
    #[test]
    fn every_iteration_reads_its_own_landed_tile_and_nothing_unread_is_overwritten() {
        for stages in 2..=6u32 {
            let s = Schedule { stages };
            for trips in 0..=3 * stages + 2 {
                let mut holds: Stages = vec![None; stages as usize];
                let mut groups: Vec<Option<u32>> = Vec::new(); // in flight, oldest first
                let issue =
                    |holds: &mut Stages, groups: &mut Vec<Option<u32>>, it: u32, read_upto: Option<u32>| {
                        let mut g = None;
                        if it < trips {
                            let st = s.stage_of(it) as usize;
                            if let Some((old, _)) = holds[st] {
                                assert!(
                                    read_upto.is_some_and(|r| old <= r),
                                    "S={stages} T={trips}: iteration {it} overwrites unread iteration {old}"
                                );
                            }
                            holds[st] = Some((it, false));
                            g = Some(it);
                        }
                        groups.push(g); // a commit with nothing issued is an empty group
                    };
                let wait = |holds: &mut Stages, groups: &mut Vec<Option<u32>>| {
                    while groups.len() > s.in_flight() as usize {
                        if let Some(it) = groups.remove(0)
                            && let Some((h, landed)) = holds[s.stage_of(it) as usize].as_mut()
                            && *h == it
                        {
                            *landed = true;
                        }
                    }
                };
                for i in s.prologue() {
                    issue(&mut holds, &mut groups, i, None);
                    wait(&mut holds, &mut groups);
                }
                for t in 0..trips {
                    // After the barrier every read of iterations before `t` is done.
                    issue(&mut holds, &mut groups, t + s.ahead(), t.checked_sub(1));
                    wait(&mut holds, &mut groups);
                    assert_eq!(
                        holds[s.stage_of(t) as usize],
                        Some((t, true)),
                        "S={stages} T={trips}: iteration {t} reads a stage without its own landed tile"
                    );
                }
            }
        }
    }
}
