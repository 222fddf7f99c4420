//! Software pipelining of a loop's dot operands: a ring of shared-memory stages filled several
//! iterations ahead of the wgmma that reads them, by TMA where the launch's tensors allow it
//! (`RingTma`) and by `cp.async` copies otherwise.
//!
//! A `dot` qualifies when it stands at the top level of a `for` body (it runs once per iteration)
//! and each of its operands is either a load the dot issues itself (`async_copy`: a plain tile of
//! a tensor the kernel never writes, copied whole, defined in the body: it *streams*) or a
//! loop-invariant operand staged once before the loop (`resident`, e.g. attention's Q), at least
//! one streaming; and the streamed loads' tile starts are pure functions of the induction variable
//! and of values from before the loop (`pipeline_loads::slice_of`: only ops that cannot fail).
//! (A later dot's N-major B tile may ride in the same stages, after them: [`Rider`].)
//! Then, with `S` stages of `[A tile | B tile]` (the streamed ones), each swizzled as the
//! descriptors expect:
//! - before the loop: the tiles of iterations `lo`, `lo + step`, .., `lo + (S-2) step` (those below
//!   `hi`) are issued into stages `0..S-1`, one commit group (or one barrier phase) per iteration;
//! - iteration `t` (`iv = lo + t step`): a barrier (every thread is done with iteration `t-1`'s
//!   stage), the wait for iteration `t`'s tiles (with `cp.async` until at most `S - 2` groups are
//!   in flight, then the proxy fence and a barrier; with TMA on phase `t / S` of the stage's
//!   mbarrier), and the wgmma chain reading stage `t mod S`; once its first chain is committed,
//!   the copies of iteration `t + S - 1` into the stage iteration `t - 1` used (if it runs), and
//!   with `cp.async` a commit (`Gen::ring_prefetch`).
//!
//! Meaning is unchanged: the copies read tensors nothing writes, at the coordinates the loads
//! compute for that iteration (the same ops replayed at another induction value), and never for
//! an iteration that does not run; a stage is overwritten only after the barrier that follows the
//! last read of it. A dot that does not qualify stages its operands per iteration in the scratch
//! buffer, as before.

use super::*;
use async_copy::TileAt;
use std::collections::{BTreeSet, HashSet};
use tessera_bundle::TmaSpec;
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
    /// The dot (its result), by which the ring is known.
    pub dot: ValueId,
    /// The A load and the B load (under its transpose) where they stream through the stage;
    /// `None` for an operand staged once before the loop (`resident`), which the stage does not
    /// hold.
    pub loads: [Option<ValueId>; 2],
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
    /// Filled by TMA where the launch's tensors allow it (else by `cp.async`, as without).
    pub tma: Option<RingTma>,
    /// A later dot's N-major B tile carried in the same stages ([`Rider`]).
    pub rider: Option<Rider>,
}

/// The B operand of a later dot in the same loop body, loaded `[K, N]` with N contiguous (what
/// attention's V is to `P·V`): wgmma reads B K-major, so the tile cannot be copied into the
/// layout the later dot reads. Instead the ring copies it *as it is* into its own region of every
/// stage (`[K rows][N]`, the same 16-byte chunk swizzle as the operand tiles, which keeps the
/// transposing reads off each other's banks), in the same commit group as the ring's own tiles,
/// and once the ring's dot has committed its wgmma chain, every thread transposes the
/// iteration's tile into one K-major tile (`tile`) while the tensor cores work
/// (`Gen::rider_transpose`). The later dot reads B there. This is how the FA-style attention
/// schedule (deleted in session 12) handled V, for any loop whose body has this shape.
#[derive(Clone)]
pub(super) struct Rider {
    /// The later dot (its result) and its B load.
    pub dot: ValueId,
    pub load: ValueId,
    pub access: Access,
    /// The tile's K (rows in memory), N (contiguous in memory) and element bytes.
    pub k: u32,
    pub n: u32,
    pub eb: u32,
    /// Byte offset of the tile as copied in each stage (after the ring's own operand tiles).
    pub raw_off: u32,
    /// Byte offset from the shared base of the K-major tile the later dot reads (one, after the
    /// ring's stages).
    pub tile_off: u32,
    /// The later dot takes an 8-bit A from registers, so B's K is permuted as its staging would
    /// be (`dot::k_position`).
    pub kperm: bool,
}

impl Rider {
    /// The swizzle width of the tile as copied (its rows are N elements long).
    pub fn raw_sw(&self) -> u32 {
        (self.n * self.eb).min(128)
    }
    /// The swizzle width of the K-major tile (its rows are K elements long), as the later dot's
    /// descriptors describe it.
    pub fn tile_sw(&self) -> u32 {
        (self.k * self.eb).min(128)
    }
    /// Bytes of the tile, rounded up to a whole 1024 (each copy starts on a swizzle atom): its
    /// region in every stage, and the K-major tile after them.
    pub fn bytes(&self) -> u32 {
        (self.k * self.n * self.eb).next_multiple_of(1024)
    }
}

/// A ring whose stages TMA fills: one thread arms the stage's mbarrier with the stage's bytes and
/// issues one box per `sw`-byte column slab of each tile; every thread waits on the barrier's
/// phase. Chosen per launch: where the runtime passes a null map (TMA cannot describe a tensor:
/// a row pitch not a multiple of 16 bytes) the same ring is filled by `cp.async`.
#[derive(Clone)]
pub(super) struct RingTma {
    /// Each streamed operand's tensor map: an index into [`Plan::maps`].
    pub maps: [Option<usize>; 2],
    /// Each operand's box rows: the tile's, repeated down the stage to its `rows`.
    pub box_rows: [u32; 2],
    /// Byte offset of the ring's first mbarrier (8 bytes per stage) from the shared base.
    pub bars: u32,
}

/// A ring's prefetch, computed by `Gen::ring_step` and issued by `Gen::ring_prefetch` once the
/// dot's wgmma is under way.
pub(super) struct Prefetch {
    ring: Ring,
    starts: (Vec<Option<Access>>, Vec<Option<TileAt>>),
    /// The stage it fills, whether its iteration runs, and (a TMA ring) whether TMA fills it.
    next: V,
    runs: V,
    on: Option<V>,
    span: Span,
}

/// A tensor map the kernel takes (an ABI slot after the others, `or_null`): which tensor, and the
/// box and swizzle of the stage region it fills.
#[derive(Clone, PartialEq, Debug)]
pub(super) struct MapSlot {
    pub tensor: ParamId,
    pub spec: TmaSpec,
}

/// The rings of a kernel: keyed by the dot (its result), the shared memory they take (stages, then
/// one block of mbarriers where a ring is filled by TMA), and the tensor maps their TMA copies
/// read.
pub(super) struct Plan {
    pub rings: HashMap<ValueId, Ring>,
    pub bytes: u32,
    pub maps: Vec<MapSlot>,
}

/// Shared memory kept for the mbarriers of every TMA ring (8 bytes a stage), after the stages.
const BAR_BLOCK: u32 = 1024;

impl Ring {
    /// Bytes of both operand tiles, as TMA counts a stage's transaction (a ring with a rider is
    /// never filled by TMA).
    pub fn tx_bytes(&self) -> u32 {
        self.region_bytes(0) + self.region_bytes(1)
    }

    /// Bytes of operand `i`'s region in a stage.
    fn region_bytes(&self, i: usize) -> u32 {
        region_bytes(
            self.loads[i].is_some(),
            self.packed[i],
            self.rows[i],
            (self.kk, self.eb),
        )
    }

    /// Byte offset of operand `i`'s region in a stage.
    pub fn region_offset(&self, i: usize) -> u32 {
        if i == 0 { 0 } else { self.a_bytes() }
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
    /// Commit groups left in flight by the prologue's waits.
    pub fn in_flight(self) -> u32 {
        self.stages - 1
    }
    /// Commit groups left in flight by iteration `t`'s wait, which comes before its own prefetch
    /// (issued once the iteration's wgmma is under way): iterations `t + 1 .. t + S - 2`.
    pub fn in_flight_at_wait(self) -> u32 {
        self.stages - 2
    }
    /// The stage that holds iteration `t` (the emitted `t mod S`).
    #[cfg(test)]
    pub fn stage_of(self, t: u32) -> u32 {
        t % self.stages
    }
}

/// Bytes an operand's region takes in a stage: `rows` rows of `kk` elements of `eb` bytes, or of
/// `kk / 2` bytes for packed FP4; nothing for an operand that does not stream (resident).
fn region_bytes(streams: bool, packed: bool, rows: u32, (kk, eb): (u32, u32)) -> u32 {
    match (streams, packed) {
        (false, _) => 0,
        (true, true) => rows * kk / 2,
        (true, false) => rows * kk * eb,
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

/// What the rings are planned from: the deferrable loads, the B loads under their transposes,
/// the resident operands and the N-major B loads a ring may carry (`async_copy::Candidates`).
pub(super) type Cands<'a> = (
    &'a HashMap<ValueId, async_copy::Deferred>,
    &'a HashMap<ValueId, ValueId>,
    &'a resident::Residents,
    &'a HashMap<ValueId, async_copy::Deferred>,
);

/// The rings of kernel `k` (keyed by the dot's result) and the shared memory they take.
///
/// `Some(stages)` (the user's `--stages`): that depth per ring where it fits in the CTA's limit,
/// else as deep as fits, at least two, else the dot is left unpipelined. `None`: the deepest ring
/// up to [`AUTO_STAGES`] that still leaves room for a second CTA on the SM, because one
/// warpgroup waiting on its wgmma chain cannot keep the tensor cores busy alone and a second
/// CTA's warpgroup hides that wait (measured on the H200: bf16 4096³ per op, 3 stages and two
/// CTAs 314.8 us, 4 stages and one CTA 449.5 us; docs/PERFORMANCE.md). Only where even two stages
/// do not leave that room, or where the CTA's registers already keep a second one off the SM
/// (`Budget::alone`), are the rings planned for one CTA per SM.
///
/// `tma`: rings whose tiles TMA can copy as the stage holds them are filled by TMA
/// ([`RingTma`]).
pub(super) fn plan(k: &Kernel, cands: Cands, (stages, tma): (Option<u32>, bool), budget: &Budget) -> Plan {
    let one_cta = budget
        .max_shared
        .saturating_sub(SCRATCH_ALIGN as u32 + budget.reserve);
    let Some(depth) = stages else {
        if budget.alone {
            return plan_in(k, cands, AUTO_STAGES, tma, one_cta);
        }
        let two_ctas = (budget.shared_per_sm / 2)
            .saturating_sub(CTA_RESERVED_SHARED + SCRATCH_ALIGN as u32 + budget.reserve)
            .min(one_cta);
        let shared = plan_in(k, cands, AUTO_STAGES, tma, two_ctas);
        let alone = plan_in(k, cands, AUTO_STAGES, tma, one_cta);
        return if shared.rings.len() == alone.rings.len() {
            shared
        } else {
            alone
        };
    };
    plan_in(k, cands, depth, tma, one_cta)
}

/// The tensor map through which TMA copies operand tile `d` into a stage region of `rows` rows
/// of `kk` elements of `eb` bytes, swizzled `sw`: one box per slab, `[sw / eb, tile rows, 1, ..]`
/// innermost first, written `rows / tile rows` times down the slab where the stage repeats the
/// tile's rows (the swizzle pattern repeats every 8 rows, so a copy of a multiple of 8 rows lands
/// exactly as the rows it repeats). `None` where TMA cannot write the region so: a tile of rows
/// not a multiple of 8, more than a box's 256, a swizzle TMA has no mode for, or a rank past 5.
fn tma_map(d: &async_copy::Deferred, rows: u32, (kk, eb, sw): (u32, u32, u32)) -> Option<MapSlot> {
    let rank = d.access.index.len();
    let elem = match eb {
        1 => "u8",
        2 => "u16",
        _ => return None,
    };
    let real = async_copy::tile_rows(&d.access).ok()?;
    let whole = real.is_multiple_of(8) && rows.is_multiple_of(real) && real <= 256;
    let slabs = matches!(sw, 32 | 64 | 128) && (kk * eb).is_multiple_of(sw);
    if !whole || !slabs || rank > 5 || d.packed_as.is_some() || d.explicit.is_some() {
        return None;
    }
    let mut box_dims = vec![sw / eb, real];
    box_dims.resize(rank, 1);
    Some(MapSlot {
        tensor: d.access.tensor,
        spec: TmaSpec {
            elem: elem.into(),
            box_dims,
            swizzle: sw,
        },
    })
}

/// The rings of `k` at up to `stages` each, in `budget` bytes.
fn plan_in(
    k: &Kernel,
    (deferrable, transposed, residents, n_major): Cands,
    stages: u32,
    tma: bool,
    budget: u32,
) -> Plan {
    let mut rings = HashMap::new();
    let mut maps: Vec<MapSlot> = Vec::new();
    let mut used = 0u32;
    // Stages of the rings TMA fills, whose barriers take one block after every ring.
    let mut tma_stages = 0u32;
    let mut loops = Vec::new();
    // N-major B loads already carried by a ring.
    let mut claimed: HashSet<ValueId> = HashSet::new();
    collect_loops(&k.body, &mut loops);
    for body in loops {
        let Some(&iv) = body.args.first() else {
            continue;
        };
        let (inside, def) = body_facts(body);
        for (oi, op) in body.ops.iter().enumerate() {
            let OpKind::Dot { a, b, .. } = &op.kind else {
                continue;
            };
            let Some(&bl) = transposed.get(b) else {
                continue;
            };
            let Some(&dot) = op.results.first() else {
                continue;
            };
            // Each operand streams (a load in the body the dot issues) or is resident (staged
            // once before the loop, `resident`); at least one streams.
            let resident = residents
                .by_dot
                .get(&dot)
                .map_or([false; 2], |p| p.map(|r| r.is_some()));
            let streamed = [*a, bl].map(|v| deferrable.get(&v).filter(|_| def.contains_key(&v)));
            if streamed.iter().all(Option::is_none) || (0..2).any(|i| streamed[i].is_none() && !resident[i]) {
                continue;
            }
            // As wgmma reads them (a packed FP4 tile as the dot stages it).
            let dtypes = (
                streamed[0].and_then(|d| d.packed_as).unwrap_or(k.ty(*a).dtype()),
                streamed[1].and_then(|d| d.packed_as).unwrap_or(k.ty(*b).dtype()),
            );
            let whole = async_copy::whole_tiles(k, *a, *b, false, dtypes);
            if (streamed[0].is_some() && !whole.0) || (streamed[1].is_some() && !whole.1) {
                continue;
            }
            let mut slice = BTreeSet::new();
            let starts_ok = streamed.iter().flatten().all(|d| {
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
            let packed = streamed.map(|d| d.is_some_and(|d| d.packed_as.is_some()));
            // Packed bytes are copied 16 bytes (32 codes) at a time.
            if packed.iter().any(|p| *p) && !kk.is_multiple_of(32) {
                continue;
            }
            // Staging rows: the wgmma atom's at least (64 for A, 8 for B), the tile's rows repeated.
            let rows = [ta.shape[0].max(64), tb.shape[1].max(8)];
            let region = |i: usize| region_bytes(streamed[i].is_some(), packed[i], rows[i], (kk, eb));
            // A later dot's N-major B tile rides along (`Rider`), after the operand tiles.
            let own = (region(0) + region(1)).next_multiple_of(1024);
            // A rider that would leave the ring under two stages is left out (its dot stages B
            // from registers, as without): the ring's own operands matter more.
            let bars_now = if tma_stages > 0 { BAR_BLOCK } else { 0 };
            let rider = find_rider(
                k,
                (body, oi, &def, &inside),
                (n_major, deferrable, residents),
                &slice,
                &claimed,
            )
            .filter(|(r, _)| {
                let rb = r.bytes();
                stages.min(budget.saturating_sub(used + bars_now + rb) / (own + rb)) >= 2
            })
            .map(|(mut r, with)| {
                slice = with;
                r.raw_off = own;
                r
            });
            let tile_bytes = rider.as_ref().map_or(0, Rider::bytes);
            let stage_bytes = own + tile_bytes;
            let sw = (kk * eb).min(128);
            // TMA fills the stage when it can write every tile as the stage holds it and both
            // operands stream. With a resident partner (attention's Q) the one streamed tile is
            // left to cp.async, which spreads its issue over every thread instead of delaying the
            // first warp: the H200 measured the FP8 attention's K ring by cp.async 810.2 us against
            // 835.0 by TMA (16 x 4096, session 10).
            let wanted = [0, 1].map(|i| streamed[i].map(|d| tma_map(d, rows[i], (kk, eb, sw))));
            let both = streamed.iter().all(Option::is_some);
            // (A ring carrying a rider is filled by cp.async: its tiles are one commit group.)
            let mut tma_maps =
                (tma && both && rider.is_none() && wanted.iter().flatten().all(Option::is_some))
                    .then(|| wanted.map(Option::flatten));
            // The barrier block (after every ring) is paid for by the first TMA ring and kept
            // from every ring placed after it; a TMA ring whose barriers would not fit in it is
            // filled by cp.async instead.
            let depth = |tma: bool| {
                let bars = if tma || tma_stages > 0 { BAR_BLOCK } else { 0 };
                let s = stages.min(budget.saturating_sub(used + bars + tile_bytes) / stage_bytes);
                (s, !tma || (tma_stages + s) * 8 <= BAR_BLOCK)
            };
            let mut s = depth(tma_maps.is_some());
            if !s.1 {
                tma_maps = None;
                s = depth(false);
            }
            let s = s.0;
            if s < 2 {
                continue;
            }
            let tma = tma_maps.map(|ms| {
                let box_rows = [0, 1].map(|i| ms[i].as_ref().map_or(0, |m| m.spec.box_dims[1]));
                let idx = ms.map(|m| {
                    m.map(|m| {
                        maps.iter().position(|x| *x == m).unwrap_or_else(|| {
                            maps.push(m);
                            maps.len() - 1
                        })
                    })
                });
                // The barrier block's offset is known once every ring is placed.
                let first = tma_stages;
                tma_stages += s;
                RingTma {
                    maps: idx,
                    box_rows,
                    bars: first * 8,
                }
            });
            rings.insert(
                dot,
                Ring {
                    iv,
                    dot,
                    loads: [0, 1].map(|i| streamed[i].map(|_| [*a, bl][i])),
                    slice: slice.iter().map(|&i| body.ops[i].clone()).collect(),
                    stages: s,
                    offset: used,
                    stage_bytes,
                    rows,
                    kk,
                    eb,
                    packed,
                    tma,
                    rider: rider.map(|mut r| {
                        r.tile_off = used + s * stage_bytes;
                        claimed.insert(r.load);
                        r
                    }),
                },
            );
            used += s * stage_bytes + tile_bytes;
        }
    }
    if tma_stages > 0 {
        for r in rings.values_mut() {
            if let Some(t) = &mut r.tma {
                t.bars += used;
            }
        }
        used += BAR_BLOCK;
    }
    Plan {
        rings,
        bytes: used,
        maps,
    }
}

/// The first dot after `body.ops[oi]` (the ring's dot) whose B operand is an N-major load in the
/// same body that no ring carries yet ([`Rider`]): a plain wgmma pair, K a power of two holding a
/// wgmma step, N a power of two of at least 8 elements and 32 bytes, its tile starts pure
/// functions of the induction variable; with `slice` extended by the ops computing them.
/// `raw_off` and `tile_off` are left for the caller to place.
fn find_rider(
    k: &Kernel,
    (body, oi, def, inside): (&IrBlock, usize, &HashMap<ValueId, usize>, &HashSet<ValueId>),
    (n_major, deferrable, residents): (
        &HashMap<ValueId, async_copy::Deferred>,
        &HashMap<ValueId, async_copy::Deferred>,
        &resident::Residents,
    ),
    slice: &BTreeSet<usize>,
    claimed: &HashSet<ValueId>,
) -> Option<(Rider, BTreeSet<usize>)> {
    let cta = k.cta?;
    for op in &body.ops[oi + 1..] {
        let OpKind::Dot { a, b, .. } = &op.kind else {
            continue;
        };
        let (Some(d), Some(&dot)) = (n_major.get(b), op.results.first()) else {
            continue;
        };
        if !def.contains_key(b) || claimed.contains(b) {
            continue;
        }
        let (Some(ta), Some(tb)) = (k.ty(*a).as_tile(), k.ty(*b).as_tile()) else {
            continue;
        };
        let Some((kstep, eb)) = dot::wgmma_step(ta.dtype, tb.dtype) else {
            continue;
        };
        let (m, kk, n) = (ta.shape[0], tb.shape[0], tb.shape[1]);
        let shape_ok = ta.scale.is_none()
            && kk.is_power_of_two()
            && kk >= kstep
            && n.is_power_of_two()
            && n >= 8
            && n * eb >= 32
            && async_copy::tile_rows(&d.access).is_ok_and(|r| r == kk);
        if !shape_ok {
            continue;
        }
        let mut sl = slice.clone();
        let starts_ok = async_copy::tile_starts(&d.access).is_ok_and(|t| {
            t.values()
                .all(|s| slice_of(s, body, def, inside, &mut sl).is_ok())
        });
        if !starts_ok {
            continue;
        }
        // The later dot takes its 8-bit A from registers exactly when `Gen::dot`'s `reg_a` holds:
        // A computed (not a load it copies, not resident), unscaled fp8, unpadded, at least 16
        // rows, in the accumulator's fragment layout.
        let st = dot::Staging::of(&ta.shape, &tb.shape, (kstep, eb));
        let a_in_regs =
            !deferrable.contains_key(a) && residents.by_dot.get(&dot).is_none_or(|p| p[0].is_none());
        let acc = LinearLayout::wgmma_acc(m, kk, cta.lane_bits as usize, cta.warp_bits as usize);
        let kperm = eb == 1
            && a_in_regs
            && matches!(ta.dtype, DType::F8E4M3 | DType::F8E5M2)
            && (st.pm, st.pk, st.kp) == (m, kk, kk)
            && m >= 16
            && acc.is_some_and(|l| matches!(&ta.layout, TileLayout::Dist(x) if *x == l));
        let rider = Rider {
            dot,
            load: *b,
            access: d.access.clone(),
            k: kk,
            n,
            eb,
            raw_off: 0,
            tile_off: 0,
            kperm,
        };
        return Some((rider, sl));
    }
    None
}

/// One field of a rider block index: `bits` bits at `shift`, placed at bit `at` of its coordinate.
#[derive(Clone, Copy, Debug)]
struct Field {
    shift: u32,
    bits: u32,
    at: u32,
}

/// The K blocks and N blocks one warp's lanes take in [`Gen::rider_transpose`] (as index bits).
const BLOCK_LANES: (u32, u32) = (3, 2);

/// How a rider block index (thread id + `it * threads`) splits into its K block and N block
/// coordinates, for `2^kb_bits` K blocks by `2^nb_bits` N blocks: the low bits give
/// [`BLOCK_LANES`] (8 K blocks by 4 N blocks a warp), then the rest of K, then the rest of N.
/// `[[K low, K high], [N low, N high]]`.
fn block_fields(kb_bits: u32, nb_bits: u32) -> [[Field; 2]; 2] {
    let (k_lo, n_lo) = (kb_bits.min(BLOCK_LANES.0), nb_bits.min(BLOCK_LANES.1));
    let f = |shift, bits, at| Field { shift, bits, at };
    [
        [f(0, k_lo, 0), f(k_lo + n_lo, kb_bits - k_lo, k_lo)],
        [f(k_lo, n_lo, 0), f(kb_bits + n_lo, nb_bits - n_lo, n_lo)],
    ]
}

/// The words of a transposed block from its row words (`4 / eb` of them, one per K row): word `i`
/// holds element `i` of every row, rows in order (a 4 x 4 byte block in two rounds of byte
/// permutes, a 2 x 2 block of 16-bit elements in one). `prmt(a, b, sel)` is PTX's `prmt.b32`:
/// byte `j` of the result is byte `sel >> 4j & 7` of `b:a` (bytes 0-3 from `a`, 4-7 from `b`).
fn transpose_block<T: Copy, E>(
    rows: &[T],
    mut prmt: impl FnMut(T, T, u32) -> Result<T, E>,
) -> Result<Vec<T>, E> {
    if rows.len() == 4 {
        // (a0 b0 a1 b1) and (a2 b2 a3 b3) of rows 0-1 and of rows 2-3, then their 16-bit halves.
        let t0 = prmt(rows[0], rows[1], 0x5140)?;
        let t1 = prmt(rows[2], rows[3], 0x5140)?;
        let t2 = prmt(rows[0], rows[1], 0x7362)?;
        let t3 = prmt(rows[2], rows[3], 0x7362)?;
        Ok(vec![
            prmt(t0, t1, 0x5410)?,
            prmt(t0, t1, 0x7632)?,
            prmt(t2, t3, 0x5410)?,
            prmt(t2, t3, 0x7632)?,
        ])
    } else {
        Ok(vec![
            prmt(rows[0], rows[1], 0x5410)?,
            prmt(rows[0], rows[1], 0x7632)?,
        ])
    }
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
    /// `S - 1` stages of each of its rings (a TMA ring first initialises its barriers, when the
    /// launch passed its maps; else it is filled by `cp.async`).
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
            let on = self.tma_on(b, r)?;
            let mut issues = Vec::new();
            for s in sched.prologue() {
                let m = &self.m;
                let sc = m.const_int(b, s as i64, 32)?;
                let off = m.bin(b, "arith.muli", sc, step)?;
                let it = m.bin(b, "arith.addi", lo, off)?;
                let runs = m.cmp(b, false, 2, it, hi)?; // slt
                let starts = self.ring_starts(b, r, it)?;
                issues.push((sc, runs, starts));
            }
            let this = &*self;
            let by_cp_async = |blk: &Block<'c>| -> Result<Vec<V>, LoweringError> {
                for (sc, runs, starts) in &issues {
                    this.issue_cp_async(blk, r, (&starts.0, &starts.1), (*sc, *runs), span)?;
                    this.m.async_commit_wait(blk, sched.in_flight())?;
                }
                Ok(vec![])
            };
            let by_tma = |blk: &Block<'c>| -> Result<Vec<V>, LoweringError> {
                let first = this.first_thread(blk)?;
                // One thread initialises the stages' barriers (one arrival a phase: its own
                // `expect_tx`); the other threads first wait on them after `ring_step`'s barrier.
                this.m.if_(
                    blk,
                    first,
                    &[],
                    |tb| {
                        this.each_bar(tb, r, |bar| this.m.mbarrier_init(tb, bar, 1))?;
                        this.m.fence_mbarrier_init(tb)?;
                        for (sc, runs, starts) in &issues {
                            this.m.if_(
                                tb,
                                *runs,
                                &[],
                                |ib| this.issue_tma(ib, r, &starts.1, *sc).map(|_| vec![]),
                                |_| Ok(vec![]),
                            )?;
                        }
                        Ok(vec![])
                    },
                    |_| Ok(vec![]),
                )?;
                Ok(vec![])
            };
            this.by_path(b, on, by_tma, by_cp_async)?;
        }
        Ok(())
    }

    /// After the `for` whose induction variable is `iv`: every TMA ring's barriers are
    /// invalidated (once every thread is past its last wait), so the next run of the loop (an
    /// enclosing loop) may initialise them again from phase 0.
    pub(super) fn ring_epilogue(&mut self, b: &Block<'c>, iv: ValueId) -> Result<(), LoweringError> {
        let mut rings: Vec<Ring> = self
            .rings
            .values()
            .filter(|r| r.iv == iv && r.tma.is_some())
            .cloned()
            .collect();
        rings.sort_by_key(|r| r.offset);
        for r in &rings {
            let Some(&on) = self.ring_tma.get(&r.dot) else {
                return Err(ice("TMA ring without its map check"));
            };
            let this = &*self;
            this.m.if_(
                b,
                on,
                &[],
                |tb| {
                    this.m.barrier(tb)?;
                    let first = this.first_thread(tb)?;
                    this.m.if_(
                        tb,
                        first,
                        &[],
                        |ib| {
                            this.each_bar(ib, r, |bar| this.m.mbarrier_inval(ib, bar))?;
                            Ok(vec![])
                        },
                        |_| Ok(vec![]),
                    )?;
                    Ok(vec![])
                },
                |_| Ok(vec![]),
            )?;
        }
        Ok(())
    }

    /// In iteration `iv` of the ring's loop: wait for this iteration's tiles, leave the prefetch
    /// of iteration `iv + (S-1) step` into the stage iteration `iv - step` used pending for
    /// [`Gen::ring_prefetch`], and return a pointer to this iteration's stage, with (for a TMA
    /// ring) whether TMA filled it. After `cp.async` the
    /// caller fences and synchronises before the wgmma reads the stage; after TMA the barrier's
    /// phase has made the tiles visible to every waiting thread and to wgmma (both async proxy).
    pub(super) fn ring_step(
        &mut self,
        b: &Block<'c>,
        r: &Ring,
        span: Span,
    ) -> Result<(V, Option<V>), LoweringError> {
        for l in r.loads.iter().flatten() {
            self.pending
                .remove(l)
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
        let starts = self.ring_starts(b, r, it)?;
        let on = self.ring_tma.get(&r.dot).copied();
        // Every thread is done with iteration t - 1 (and its wgmma, waited on), so the prefetch
        // may overwrite that stage.
        self.m.barrier(b)?;
        let this = &*self;
        let cp_wait = |blk: &Block<'c>| -> Result<Vec<V>, LoweringError> {
            this.m.async_wait(blk, sched.in_flight_at_wait())?;
            Ok(vec![])
        };
        let tma_wait = |blk: &Block<'c>| -> Result<Vec<V>, LoweringError> {
            // Iteration t reads phase t / S of its stage's barrier (one phase a fill).
            let round = this.m.bin(blk, "arith.divui", t, s)?;
            let one = this.m.const_int(blk, 1, 32)?;
            let parity = this.m.bin(blk, "arith.andi", round, one)?;
            let bar = this.ring_bar(blk, r, cur)?;
            this.m.mbarrier_wait_parity(blk, bar, parity)?;
            Ok(vec![])
        };
        this.by_path(b, on, tma_wait, cp_wait)?;
        if self.prefetch.is_some() {
            return Err(ice("a ring prefetch still pending at the next ring step"));
        }
        self.prefetch = Some(Prefetch {
            ring: r.clone(),
            starts,
            next,
            runs,
            on,
            span,
        });
        let base = self.stage_ptr(b, r, cur)?;
        if let Some(rd) = &r.rider {
            if self.rider_at.is_some() {
                return Err(ice("a rider still untransposed at the next ring step"));
            }
            self.rider_at = Some((rd.clone(), base));
        }
        Ok((base, on))
    }

    /// Transpose the rider tile of the ring whose step was lowered last (if it has one) from its
    /// stage (`[K rows][N]`, as copied) into the K-major tile its dot reads: called once the ring's
    /// dot has committed its first wgmma chain, after the barrier that made every thread's copies
    /// visible, so the transpose overlaps the tensor cores.
    ///
    /// Each thread takes blocks of `4 / eb` K positions by 4 bytes of N: it reads one 32-bit word
    /// from each of the block's `4 / eb` rows, transposes the block with byte permutes
    /// ([`transpose_block`]), and writes `4 / eb` words, one per N row, each holding the block's
    /// K positions. A warp's 32 lanes take 8 K blocks (32 bytes of a K-major row, two 16-byte
    /// chunks) by 4 N blocks ([`BLOCK_LANES`]): for attention's tiles (fp8 with K permuted, bf16)
    /// both its loads and its stores meet at most 2 lanes a bank, 4 for an 8-bit tile in plain K
    /// order (its 8 K blocks' rows cover only 2 swizzle phases; the tests count them), instead
    /// of a byte per store.
    pub(super) fn rider_transpose(&mut self, b: &Block<'c>) -> Result<(), LoweringError> {
        let Some((rd, stage)) = self.rider_at.take() else {
            return Ok(());
        };
        let m = &self.m;
        let per = 4 / rd.eb; // K positions (and N elements) per block side
        let (kbs, nbs) = (rd.k / per, rd.n * rd.eb / 4);
        let total = kbs * nbs;
        let threads = self.cta.threads();
        let fields = block_fields(kbs.trailing_zeros(), nbs.trailing_zeros());
        let tid = self.tid(b)?;
        let shared = self.shared_base(b)?;
        let c = |b: &Block<'c>, x: u32| m.const_int(b, i64::from(x), 32);
        // A coordinate from its two index fields (`block_fields`).
        let coord = |b: &Block<'c>, v: V, [lo, hi]: [Field; 2]| -> Result<V, LoweringError> {
            let mut parts = Vec::with_capacity(2);
            for f in [lo, hi] {
                let s = m.bin(b, "arith.shrui", v, c(b, f.shift)?)?;
                let x = m.bin(b, "arith.andi", s, c(b, (1u32 << f.bits) - 1)?)?;
                parts.push(m.bin(b, "arith.shli", x, c(b, f.at)?)?);
            }
            m.bin(b, "arith.ori", parts[0], parts[1])
        };
        let one_block = |blk: &Block<'c>, idx: V| -> Result<(), LoweringError> {
            let kq = coord(blk, idx, fields[0])?;
            let nb = coord(blk, idx, fields[1])?;
            // The block's K positions start at `kq * per`; its N elements at `nb * per`.
            let p0 = m.bin(blk, "arith.muli", kq, c(blk, per)?)?;
            let n0 = m.bin(blk, "arith.muli", nb, c(blk, per)?)?;
            let mut words = Vec::with_capacity(per as usize);
            for j in 0..per {
                let p = m.bin(blk, "arith.addi", p0, c(blk, j)?)?;
                // The memory row (K) that position `p` holds.
                let row = if rd.kperm {
                    dot::k_at_position(m, blk, p)?
                } else {
                    p
                };
                let src = self.swizzled(blk, row, n0, rd.k, rd.raw_sw(), rd.eb, rd.raw_off, stage)?;
                words.push(m.load(blk, src, m.i(32))?);
            }
            let out = transpose_block(&words, |x, y, sel| {
                let s = c(blk, sel)?;
                m.intrinsic(blk, "llvm.nvvm.prmt", &[x, y, s], m.i(32))
            })?;
            for (i, w) in out.into_iter().enumerate() {
                let n = m.bin(blk, "arith.addi", n0, c(blk, i as u32)?)?;
                let dst = self.swizzled(blk, n, p0, rd.n, rd.tile_sw(), rd.eb, rd.tile_off, shared)?;
                m.store(blk, w, dst)?;
            }
            Ok(())
        };
        for it in 0..total.div_ceil(threads) {
            let idx = m.bin(b, "arith.addi", tid, c(b, it * threads)?)?;
            if (it + 1) * threads <= total {
                one_block(b, idx)?;
            } else {
                let inb = m.cmp(b, false, 2, idx, c(b, total)?)?; // slt
                m.if_(
                    b,
                    inb,
                    &[],
                    |tb| one_block(tb, idx).map(|_| vec![]),
                    |_| Ok(vec![]),
                )?;
            }
        }
        self.rider_done.insert(rd.dot);
        Ok(())
    }

    /// Issue the prefetch the last [`Gen::ring_step`] left pending (iteration `t + S - 1` into the
    /// stage iteration `t - 1` used), if any: called once the dot's first wgmma chain is
    /// committed, so the copies' issue overlaps the tensor cores' work instead of delaying the
    /// warpgroup's wgmma; with `cp.async` closed by a commit (one group per iteration, empty
    /// when nothing was issued).
    pub(super) fn ring_prefetch(&mut self, b: &Block<'c>) -> Result<(), LoweringError> {
        let Some(p) = self.prefetch.take() else {
            return Ok(());
        };
        let (r, span) = (&p.ring, p.span);
        let this = &*self;
        let by_cp_async = |blk: &Block<'c>| -> Result<Vec<V>, LoweringError> {
            this.issue_cp_async(blk, r, (&p.starts.0, &p.starts.1), (p.next, p.runs), span)?;
            this.m.async_commit(blk)?;
            Ok(vec![])
        };
        let by_tma = |blk: &Block<'c>| -> Result<Vec<V>, LoweringError> {
            let first = this.first_thread(blk)?;
            let issue = this.m.bin(blk, "arith.andi", first, p.runs)?;
            this.m.if_(
                blk,
                issue,
                &[],
                |ib| this.issue_tma(ib, r, &p.starts.1, p.next).map(|_| vec![]),
                |_| Ok(vec![]),
            )?;
            Ok(vec![])
        };
        this.by_path(b, p.on, by_tma, by_cp_async)
    }

    /// Lower `tma` where the launch fills the ring by TMA (`on`: its maps were passed, decided per
    /// launch), else `cp_async`; a ring without TMA has only the latter, unconditionally.
    fn by_path(
        &self,
        b: &Block<'c>,
        on: Option<V>,
        tma: impl FnOnce(&Block<'c>) -> Result<Vec<V>, LoweringError>,
        cp_async: impl FnOnce(&Block<'c>) -> Result<Vec<V>, LoweringError>,
    ) -> Result<(), LoweringError> {
        match on {
            None => cp_async(b).map(|_| ()),
            Some(on) => self.m.if_(b, on, &[], tma, cp_async).map(|_| ()),
        }
    }

    /// Whether the launch passed both tensor maps of TMA ring `r` (non-null), computed before
    /// its loop and kept for the loop's steps and epilogue; `None` for a `cp.async` ring.
    fn tma_on(&mut self, b: &Block<'c>, r: &Ring) -> Result<Option<V>, LoweringError> {
        let Some(t) = &r.tma else {
            return Ok(None);
        };
        let m = &self.m;
        let z = m.const_int(b, 0, 64)?;
        let mut on = m.const_int(b, 1, 1)?;
        for i in t.maps.iter().flatten() {
            let map = *self.tma_maps.get(*i).ok_or_else(|| ice("ring tensor map slot"))?;
            let addr = m.conv(b, "llvm.ptrtoint", map, m.i(64))?;
            let set = m.cmp(b, false, 1, addr, z)?; // ne
            on = m.bin(b, "arith.andi", on, set)?;
        }
        self.ring_tma.insert(r.dot, on);
        Ok(Some(on))
    }

    /// Whether this thread is the CTA's first (the one that issues TMA copies).
    fn first_thread(&self, b: &Block<'c>) -> Result<V, LoweringError> {
        let tid = self.tid(b)?;
        let z = self.m.const_int(b, 0, 32)?;
        self.m.cmp(b, false, 0, tid, z) // eq
    }

    /// `f` on the mbarrier of every stage of TMA ring `r`.
    fn each_bar(
        &self,
        b: &Block<'c>,
        r: &Ring,
        f: impl Fn(V) -> Result<(), LoweringError>,
    ) -> Result<(), LoweringError> {
        for s in 0..r.stages {
            let st = self.m.const_int(b, i64::from(s), 32)?;
            f(self.ring_bar(b, r, st)?)?;
        }
        Ok(())
    }

    /// A pointer to the mbarrier of stage `stage` (i32) of TMA ring `r`.
    fn ring_bar(&self, b: &Block<'c>, r: &Ring, stage: V) -> Result<V, LoweringError> {
        let t = r.tma.as_ref().ok_or_else(|| ice("barrier of a cp.async ring"))?;
        let m = &self.m;
        let base = self.shared_base(b)?;
        let eight = m.const_int(b, 8, 32)?;
        let off = m.bin(b, "arith.muli", stage, eight)?;
        let first = m.const_int(b, i64::from(t.bars), 32)?;
        let off = m.bin(b, "arith.addi", off, first)?;
        let off = m.conv(b, "arith.extui", off, m.i(64))?;
        m.gep(b, base, off, m.i(8))
    }

    /// Both operand tiles' positions (and the rider's, third) at iteration `it`: the slice replayed with the induction
    /// variable bound to `it` (pure ops that cannot fail, so they run unconditionally), then the
    /// bindings restored. With the loads' accesses.
    #[allow(clippy::type_complexity)]
    fn ring_starts(
        &mut self,
        b: &Block<'c>,
        r: &Ring,
        it: V,
    ) -> Result<(Vec<Option<Access>>, Vec<Option<TileAt>>), LoweringError> {
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
            // Streamed operands only: a resident one has no tile to copy (`None`).
            replayed = r.loads.iter().try_for_each(|l| {
                let Some(l) = l else {
                    starts.push(None);
                    accesses.push(None);
                    return Ok(());
                };
                let d = self.deferrable.get(l).ok_or_else(|| ice("ring load"))?;
                starts.push(Some(self.tile_at(&async_copy::tile_starts(&d.access)?)?));
                accesses.push(Some(d.access.clone()));
                Ok(())
            });
            // The rider's tile, third.
            if let (Ok(()), Some(rd)) = (&replayed, &r.rider) {
                match async_copy::tile_starts(&rd.access).and_then(|t| self.tile_at(&t)) {
                    Ok(t) => {
                        starts.push(Some(t));
                        accesses.push(Some(rd.access.clone()));
                    }
                    Err(e) => replayed = Err(e),
                }
            }
        }
        for (v, old) in saved {
            match old {
                Some(x) => self.env.insert(v, x),
                None => self.env.remove(&v),
            };
        }
        replayed?;
        Ok((accesses, starts))
    }

    /// Issue (when `runs`) the `cp.async` copies of both operand tiles (and the rider's) at `starts` into stage
    /// `stage`.
    fn issue_cp_async(
        &self,
        b: &Block<'c>,
        r: &Ring,
        (accesses, starts): (&[Option<Access>], &[Option<TileAt>]),
        (stage, runs): (V, V),
        span: Span,
    ) -> Result<(), LoweringError> {
        let base = self.stage_ptr(b, r, stage)?;
        self.m.if_(
            b,
            runs,
            &[],
            |tb| {
                for (i, (access, st)) in accesses.iter().zip(starts).enumerate() {
                    let (Some(access), Some(st)) = (access, st) else {
                        continue;
                    };
                    if i == 2 {
                        // The rider's tile as it is in memory: `[K rows][N]`.
                        let rd = r
                            .rider
                            .as_ref()
                            .ok_or_else(|| ice("a third ring tile without a rider"))?;
                        self.issue_tile(
                            tb,
                            access,
                            st,
                            (rd.k, rd.n, rd.eb),
                            rd.raw_sw(),
                            (rd.raw_off, base),
                            false,
                            span,
                        )?;
                        continue;
                    }
                    let region = r.region_offset(i);
                    if r.packed[i] {
                        self.issue_packed(tb, (access, st), (r.rows[i], r.kk), (region, base), span)?;
                        continue;
                    }
                    self.issue_tile(
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

    /// From the issuing thread: arm stage `stage`'s barrier with the stage's bytes and issue the
    /// TMA boxes of both tiles at `starts` into it, one per `sw`-byte slab of K (coordinates
    /// innermost first: K, the row, then the leading points from the innermost out). Boxes
    /// outside the tensor are zero-filled, as the loads' masks read them.
    fn issue_tma(
        &self,
        b: &Block<'c>,
        r: &Ring,
        starts: &[Option<TileAt>],
        stage: V,
    ) -> Result<(), LoweringError> {
        let t = r.tma.as_ref().ok_or_else(|| ice("TMA copy of a cp.async ring"))?;
        let m = &self.m;
        let bar = self.ring_bar(b, r, stage)?;
        m.mbarrier_arrive_expect_tx(b, bar, r.tx_bytes())?;
        let base = self.stage_ptr(b, r, stage)?;
        let sw = r.sw();
        // (A ring with a rider is never filled by TMA: only the two operand tiles are here.)
        for (i, st) in starts.iter().take(2).enumerate() {
            let (Some(st), Some(mi)) = (st, t.maps[i]) else {
                continue;
            };
            let map = *self.tma_maps.get(mi).ok_or_else(|| ice("ring tensor map slot"))?;
            let region = r.region_offset(i);
            let real = t.box_rows[i];
            for slab in 0..r.kk * r.eb / sw {
                let dk = m.const_int(b, i64::from(slab * sw / r.eb), 32)?;
                let k = m.bin(b, "arith.addi", st.k0, dk)?;
                let mut coords = vec![k, st.r0];
                coords.extend(st.points.iter().rev().copied());
                for rep in 0..r.rows[i] / real {
                    let at = region + slab * r.rows[i] * sw + rep * real * sw;
                    let off = m.const_int(b, i64::from(at), 64)?;
                    let dst = m.gep(b, base, off, m.i(8))?;
                    m.tma_load(b, dst, map, &coords, bar)?;
                }
            }
        }
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
    use super::{Schedule, block_fields, transpose_block};
    use crate::general::dot::{K_AT_POSITION, permute_bits};
    use std::collections::HashMap;

    /// PTX `prmt.b32` (default mode): byte `j` of the result is byte `sel >> 4j & 7` of `b:a`.
    fn prmt(a: u32, b: u32, sel: u32) -> Result<u32, ()> {
        let bytes = (u64::from(b) << 32) | u64::from(a);
        Ok((0..4).fold(0, |acc, j| {
            let from = (sel >> (4 * j)) & 7;
            acc | (((bytes >> (8 * from)) & 0xFF) as u32) << (8 * j)
        }))
    }

    #[test]
    fn rider_blocks_transpose_bytes_and_halves() {
        let rows = [0x0302_0100u32, 0x1312_1110, 0x2322_2120, 0x3332_3130];
        // Word i: byte i of rows 0..3.
        assert_eq!(
            transpose_block(&rows, prmt).unwrap(),
            [0x3020_1000, 0x3121_1101, 0x3222_1202, 0x3323_1303]
        );
        // 16-bit elements: word i holds element i of rows 0 and 1.
        let rows = [0xBBBB_AAAAu32, 0xDDDD_CCCC];
        assert_eq!(transpose_block(&rows, prmt).unwrap(), [0xCCCC_AAAA, 0xDDDD_BBBB]);
    }

    /// (K block, N block) of a block index, from `block_fields`.
    fn block_of(idx: u32, kb_bits: u32, nb_bits: u32) -> (u32, u32) {
        let [k, n] = block_fields(kb_bits, nb_bits);
        let coord = |f: [super::Field; 2]| {
            f.iter()
                .map(|f| ((idx >> f.shift) & ((1 << f.bits) - 1)) << f.at)
                .fold(0, |a, x| a | x)
        };
        (coord(k), coord(n))
    }

    #[test]
    fn rider_block_indices_cover_every_block_once_and_a_warp_takes_8_by_4() {
        for kb_bits in 0..6 {
            for nb_bits in 0..7 {
                let total = 1u32 << (kb_bits + nb_bits);
                let mut seen = std::collections::HashSet::new();
                for idx in 0..total {
                    let (kq, nb) = block_of(idx, kb_bits, nb_bits);
                    assert!(kq < 1 << kb_bits && nb < 1 << nb_bits);
                    assert!(seen.insert((kq, nb)), "{kb_bits} {nb_bits}: {idx} twice");
                }
                if kb_bits >= 3 && nb_bits >= 2 {
                    let lanes: Vec<_> = (0..32).map(|l| block_of(l, kb_bits, nb_bits)).collect();
                    assert!(lanes.iter().all(|&(kq, nb)| kq < 8 && nb < 4), "{lanes:?}");
                }
            }
        }
    }

    /// Byte offset of element (row, k) of a tile of `rr` rows of `sw`-byte swizzled slabs, as
    /// `Gen::swizzled` computes it (relative to a 1024-aligned region).
    fn swizzled(row: u32, k: u32, rr: u32, sw: u32, eb: u32) -> u32 {
        let kb = k * eb;
        let lin = (kb / sw) * rr * sw + row * sw + kb % sw;
        lin ^ (((lin >> 7) & (sw / 16 - 1)) << 4)
    }

    /// The most distinct 32-bit words any bank serves in one warp instruction of the rider
    /// transpose of a `[k, n]` tile of `eb`-byte elements, loads and stores (as
    /// `Gen::rider_transpose` addresses them).
    fn worst_bank_load(k: u32, n: u32, eb: u32, kperm: bool, threads: u32) -> (u32, u32) {
        let per = 4 / eb;
        let (kbs, nbs) = (k / per, n * eb / 4);
        let (kb_bits, nb_bits) = (kbs.trailing_zeros(), nbs.trailing_zeros());
        let (raw_sw, tile_sw) = ((n * eb).min(128), (k * eb).min(128));
        let worst = |addrs: &[u32]| {
            let mut banks: HashMap<u32, std::collections::HashSet<u32>> = HashMap::new();
            for a in addrs {
                banks.entry((a / 4) % 32).or_default().insert(a / 4);
            }
            banks.values().map(|w| w.len() as u32).max().unwrap_or(0)
        };
        let (mut loads, mut stores) = (0, 0);
        for base in (0..kbs * nbs).step_by(32.min(threads) as usize) {
            let lanes: Vec<_> = (base..base + 32).map(|i| block_of(i, kb_bits, nb_bits)).collect();
            for j in 0..per {
                let a: Vec<u32> = lanes
                    .iter()
                    .map(|&(kq, nb)| {
                        let p = kq * per + j;
                        let row = if kperm { permute_bits(&K_AT_POSITION, p) } else { p };
                        swizzled(row, nb * per, k, raw_sw, eb)
                    })
                    .collect();
                loads = loads.max(worst(&a));
                let s: Vec<u32> = lanes
                    .iter()
                    .map(|&(kq, nb)| swizzled(nb * per + j, kq * per, n, tile_sw, eb))
                    .collect();
                stores = stores.max(worst(&s));
            }
        }
        (loads, stores)
    }

    #[test]
    fn rider_transposes_meet_the_bank_conflicts_their_docs_state() {
        // The FP8 attention's V (64 keys x 128, K permuted for its register A), bf16 attention's
        // (32 x 64 and 64 x 128): at most 2 lanes a bank.
        assert_eq!(worst_bank_load(64, 128, 1, true, 256), (2, 2));
        assert_eq!(worst_bank_load(32, 64, 2, false, 128), (2, 2));
        assert_eq!(worst_bank_load(64, 128, 2, false, 256), (2, 1));
        // An 8-bit tile in plain K order: its loads meet 4.
        assert_eq!(worst_bank_load(64, 128, 1, false, 256), (4, 2));
    }

    /// The TMA schedule's barrier phases: iteration `t` waits for parity `(t / S) & 1` of stage
    /// `t mod S`'s barrier, which completes one phase per fill. A parity wait passes once the
    /// barrier's completed phases differ in parity from the one waited for, so it is right only
    /// if, whatever fills have landed, it passes exactly when iteration `t`'s own fill has: the
    /// completed phases must lie between those waited for before and those issued, within one.
    #[test]
    fn every_tma_wait_passes_exactly_when_its_own_fill_has_landed() {
        for stages in 2..=6u32 {
            let s = Schedule { stages };
            for trips in 0..=3 * stages + 2 {
                let mut issued = vec![0u32; stages as usize]; // fills issued per stage
                let mut landed = vec![0u32; stages as usize]; // fills known landed (waited on)
                let fill = |issued: &mut Vec<u32>, it: u32| {
                    if it < trips {
                        issued[s.stage_of(it) as usize] += 1;
                    }
                };
                for i in s.prologue() {
                    fill(&mut issued, i);
                }
                for t in 0..trips {
                    let c = s.stage_of(t) as usize;
                    let parity = (t / stages) & 1;
                    let own = t / stages + 1; // phases complete once t's fill has landed
                    for completed in landed[c]..=issued[c] {
                        let passes = completed % 2 != parity;
                        assert_eq!(
                            passes,
                            completed >= own,
                            "S={stages} T={trips} t={t}: {completed} phases landed of {} issued",
                            issued[c]
                        );
                    }
                    landed[c] = own;
                    // Issued once iteration t's wgmma is under way.
                    fill(&mut issued, t + s.ahead());
                }
            }
        }
    }

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
                let wait = |holds: &mut Stages, groups: &mut Vec<Option<u32>>, in_flight: u32| {
                    while groups.len() > in_flight as usize {
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
                    wait(&mut holds, &mut groups, s.in_flight());
                }
                for t in 0..trips {
                    wait(&mut holds, &mut groups, s.in_flight_at_wait());
                    assert_eq!(
                        holds[s.stage_of(t) as usize],
                        Some((t, true)),
                        "S={stages} T={trips}: iteration {t} reads a stage without its own landed tile"
                    );
                    // Issued while iteration t's wgmma reads its stage; after the barrier at the
                    // top of the iteration every read of iterations before `t` is done.
                    assert_ne!(
                        s.stage_of(t + s.ahead()),
                        s.stage_of(t),
                        "S={stages}: prefetch into the stage being read"
                    );
                    issue(&mut holds, &mut groups, t + s.ahead(), t.checked_sub(1));
                }
            }
        }
    }
}
