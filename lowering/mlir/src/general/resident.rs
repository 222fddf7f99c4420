//! Loop-invariant dot operands staged once: a `dot` inside a `for` whose operand is computed
//! before the loop (attention's Q tile, a weight tile reused across an inner loop) has that operand
//! written into its own swizzled shared-memory region just before the loop starts, and every
//! iteration's wgmma reads it there instead of staging the same registers again.
//!
//! This is loop-invariant code motion of the staging, not a change of meaning: the operand's value
//! cannot change inside the loop (SSA: it is defined outside), so the staged bytes are the ones
//! each iteration would have written. The region belongs to that operand alone (after the rings,
//! before the scratch buffer), so nothing else overwrites it while the loop runs; a barrier before
//! the staging keeps an enclosing loop's previous run from still reading it.
//!
//! Only plain operand pairs that wgmma takes as they are (bf16, f16, fp8, i8), whose K extent is
//! exactly a whole number of wgmma steps (no padding to zero), are staged this way; others stage
//! per iteration as before.

use super::*;
use std::collections::HashSet;

/// The most shared memory resident operands take in one kernel: the rest stays for the rings and
/// the scratch buffer.
const MAX_RESIDENT_BYTES: u32 = 64 * 1024;

/// One operand staged before a loop.
#[derive(Clone, Copy, Debug)]
pub(super) struct Resident {
    /// The operand value (A `[M, K]`, or B `[K, N]`).
    pub value: ValueId,
    /// Whether it is the B operand (its rows are the tile's columns).
    pub transposed: bool,
    /// Byte offset of its region from the first resident region (`Gen::resident_offset`: they
    /// follow the rings).
    pub offset: u32,
    /// How the dot's descriptors read it.
    pub staging: dot::Staging,
}

impl Resident {
    /// Real rows and staged rows (at least the wgmma atom's; rows past the tile repeat real ones).
    fn rows(&self) -> (u32, u32) {
        let s = &self.staging;
        if self.transposed {
            (s.pn, s.nn)
        } else {
            (s.pm, s.mm)
        }
    }
}

/// The resident operands of `k`'s dots.
#[derive(Default)]
pub(super) struct Residents {
    /// By the dot's result: its A and B regions, where resident. Each dot has its own regions,
    /// staged before its own loop (a value two dots share is staged for each: a region staged before
    /// one loop need not have been written when another loop runs, e.g. in the other branch of an
    /// `if`).
    pub by_dot: HashMap<ValueId, [Option<Resident>; 2]>,
    /// By the induction variable of the loop they are staged before.
    pub by_loop: HashMap<ValueId, Vec<Resident>>,
    /// Bytes they take (a multiple of 1024).
    pub bytes: u32,
}

/// Plan the resident operands of `k`.
pub(super) fn plan(k: &Kernel) -> Residents {
    let mut out = Residents::default();
    walk(k, &k.body, None, &mut out);
    out
}

/// Walk block `b`; `lp`: the innermost enclosing loop's induction variable and the values defined
/// anywhere inside it.
fn walk(k: &Kernel, b: &IrBlock, lp: Option<(ValueId, &HashSet<ValueId>)>, out: &mut Residents) {
    for op in &b.ops {
        match &op.kind {
            OpKind::For { body, .. } => {
                let mut inside = HashSet::new();
                defined_in(body, &mut inside);
                if let Some(&iv) = body.args.first() {
                    walk(k, body, Some((iv, &inside)), out);
                }
            }
            OpKind::Dot { a, b: bv, .. } => {
                let (Some((iv, inside)), Some(&res)) = (lp, op.results.first()) else {
                    continue;
                };
                let Some(staging) = eligible(k, *a, *bv) else {
                    continue;
                };
                let mut pair = [None, None];
                for (i, v) in [*a, *bv].into_iter().enumerate() {
                    if inside.contains(&v) {
                        continue;
                    }
                    let bytes = if i == 0 {
                        staging.a_bytes()
                    } else {
                        staging.b_bytes()
                    };
                    let bytes = bytes.next_multiple_of(1024);
                    if out.bytes + bytes > MAX_RESIDENT_BYTES {
                        continue;
                    }
                    let r = Resident {
                        value: v,
                        transposed: i == 1,
                        offset: out.bytes,
                        staging,
                    };
                    out.bytes += bytes;
                    pair[i] = Some(r);
                    out.by_loop.entry(iv).or_default().push(r);
                }
                if pair.iter().any(Option::is_some) {
                    out.by_dot.insert(res, pair);
                }
            }
            _ => {
                for inner in op.kind.blocks() {
                    walk(k, inner, lp, out);
                }
            }
        }
    }
}

/// The staging of a dot `a @ b` that wgmma takes as it is (plain operands) with nothing to zero
/// (K a whole number of wgmma steps of a power-of-two extent).
fn eligible(k: &Kernel, a: ValueId, bv: ValueId) -> Option<dot::Staging> {
    let (ta, tb) = (k.ty(a).as_tile()?, k.ty(bv).as_tile()?);
    if ta.scale.is_some() || tb.scale.is_some() || ta.shape.len() != 2 || tb.shape.len() != 2 {
        return None;
    }
    let st = dot::Staging::of(&ta.shape, &tb.shape, dot::wgmma_step(ta.dtype, tb.dtype)?);
    let kk = ta.shape[1];
    (kk == st.pk && st.pk == st.kp && tb.shape[0] == kk).then_some(st)
}

/// Every value defined in `b` or blocks nested in it.
fn defined_in(b: &IrBlock, out: &mut HashSet<ValueId>) {
    out.extend(b.args.iter().copied());
    for op in &b.ops {
        out.extend(op.results.iter().copied());
        for inner in op.kind.blocks() {
            defined_in(inner, out);
        }
    }
}

impl<'c> Gen<'c, '_> {
    /// Before the `for` whose induction variable is `iv`: stage its resident operands.
    pub(super) fn stage_residents(&mut self, b: &Block<'c>, iv: ValueId) -> Result<(), LoweringError> {
        let Some(list) = self.residents.by_loop.get(&iv).cloned() else {
            return Ok(());
        };
        // An earlier run of this loop (inside another loop) may still be reading the regions.
        self.m.barrier(b)?;
        let base = self.shared_base(b)?;
        for r in &list {
            let l = self.layout_of(r.value)?.clone();
            let shape = self.shape_of(r.value);
            let regs = self.regs(r.value)?;
            let (pr, rr) = r.rows();
            let st = &r.staging;
            let at = self.resident_offset(r);
            self.stage(
                b,
                (&l, &shape, &regs),
                r.transposed,
                false,
                pr,
                rr,
                st.sw,
                st.eb,
                at,
                base,
            )?;
        }
        // The wgmma (async proxy) reads what these generic-proxy stores wrote.
        self.m.fence_async_shared(b)?;
        self.m.barrier(b)
    }

    /// The resident operand regions of the dot whose result is `r`.
    pub(super) fn resident_of(&self, r: ValueId) -> [Option<Resident>; 2] {
        self.residents.by_dot.get(&r).copied().unwrap_or([None, None])
    }

    /// Byte offset of `r`'s region from the aligned shared-memory base (after the rings).
    pub(super) fn resident_offset(&self, r: &Resident) -> u32 {
        self.ring_bytes + r.offset
    }
}
