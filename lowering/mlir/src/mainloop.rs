//! The Hopper GEMM mainloop: a multi-stage shared-memory ring filled by TMA
//! (`cp.async.bulk.tensor`, 2-D, 128-byte swizzle, zero fill out of bounds) completing on one
//! mbarrier per stage (`expect_tx` + `try_wait.parity`), consumed by `wgmma.mma_async` issued by
//! every warpgroup (each owns 64 rows of the block tile) with f32 accumulators in registers.
//!
//! Shared memory of stage `s` (1024-byte aligned, the 128B-swizzle atom): A as `chunks` slabs of
//! `[BM rows x W B]`, then B as `chunks` slabs of `[BN rows x W B]`, where a chunk is the W-byte K
//! slice one TMA box covers and W is the swizzle width: 128 (64 bf16 or 128 fp8 elements) when the
//! K tile is a multiple of 128 bytes, else 64 or 32 (the whole K tile).
//!
//! Schedule (one thread, tid 0, produces; all warpgroups consume):
//! prologue: issue tiles 0..min(S, nk) into stages 0..; iteration kt: wait full[kt % S] at parity
//! (kt / S) & 1, fence, wgmma over the tile's K, commit, wait 0, block barrier (every warpgroup is
//! done reading the stage), then tid 0 refills the stage with tile kt + S. Loads of the next S-1
//! tiles are in flight while a tile is multiplied.

use crate::blockscale::{self, BlockScalePlan, TileFactors};
use crate::fused::{self, FuseMode, FusedPlan};
use crate::lower::Lower;
use crate::pattern::{GemmPattern, is_fp8};
use crate::text::{Body, f32_literal};
use crate::wgmma;
use crate::{LoweringError, LoweringOptions, MmaSummary};
use std::collections::HashMap;
use tessera_bundle::TmaSpec;
use tessera_ir::{DType, Kernel};

/// The largest dynamic shared memory block an sm_90 CTA may opt into (227 KiB).
pub const SM90_MAX_DYNAMIC_SMEM: u32 = 232_448;
/// Shared memory of one sm_90 SM (228 KiB), shared by the CTAs resident on it.
pub const SM90_SHARED_PER_SM: u32 = 233_472;
/// The mainloop's ring depth when the user does not choose one.
pub const DEFAULT_STAGES: u32 = 4;
/// The widest swizzle (and K chunk): 128 bytes. A K tile of 64 or 32 bytes uses the 64B/32B modes.
const MAX_SWIZZLE: u32 = 128;
/// Extra dynamic shared memory requested so the ring can be aligned to 1024 bytes at run time.
const ALIGN_SLACK: u32 = 1024;
/// Static shared memory ptxas reserves ahead of the 1024-aligned dynamic block (the mbarriers,
/// padded to the extern array's alignment); it counts against the same per-CTA limit.
const STATIC_RESERVE: u32 = 1024;

#[derive(Debug, Clone)]
pub(crate) struct MainloopPlan {
    pub bm: u32,
    pub bn: u32,
    pub bk: u32,
    pub warpgroups: u32,
    pub threads: u32,
    pub stages: u32,
    pub requested_stages: u32,
    /// The per-CTA shared memory limit the ring was sized against.
    pub max_shared_bytes: u32,
    pub elem_bytes: u32,
    /// K chunks per tile (one TMA box per chunk and operand), each `swizzle` bytes wide.
    pub chunks: u32,
    /// Swizzle width in bytes (32, 64 or 128): the TMA box's inner extent, the smem row pitch and
    /// the wgmma descriptor's swizzle mode.
    pub swizzle: u32,
    pub chunk_elems: u32,
    pub stage_bytes: u32,
    pub dynamic_smem: u32,
    /// K per wgmma instruction (32 for fp8, 16 for 16-bit types).
    pub k_instr: u32,
    pub a_ty: &'static str,
    pub b_ty: &'static str,
    pub tma_a: TmaSpec,
    pub tma_b: TmaSpec,
    pub acc_init: f64,
    /// f32 block scales applied per K tile (DeepSeek-style), when the operands carry them.
    pub block_scales: Option<BlockScalePlan>,
    /// Each K tile's wgmmas accumulate into a fresh partial that is then added to the f32
    /// accumulator in registers: always with block scales, and for fp8 operands unless
    /// `fp8_fast_accum` (Hopper's fp8 wgmma accumulates with reduced precision).
    pub promote: bool,
    /// MX / NVFP4 / explicit-dequant operands fused into the mainloop (fused.rs).
    pub fused: Option<FusedPlan>,
    /// Where A (0) and B (1) live in a stage, and their bf16 staging tiles when converted.
    pub regions: [Region; 2],
    /// Bytes TMA writes per stage (the barrier's expect_tx).
    pub tx_bytes: u32,
    /// The fuse-dequant pass's strategy for the dot (kernel attr `fuse.dot@..`), when recorded.
    pub fuse_how: Option<String>,
    /// MXFP8: offset (from the ring base) of the K tile's decoded B column scales, f32
    /// `[BN][BK/32]`, staged once per tile so each thread reads its BN/4 columns from shared memory.
    pub mx_scales_off: u32,
}

/// One operand's place in shared memory.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    /// Byte offset inside a stage (1024-aligned): the swizzled tile, or the raw codes if converted.
    pub off: u32,
    /// Converted operands: bytes of one raw row, and the staging tile's offset from the ring base
    /// (after the ring, 1024-aligned).
    pub convert: Option<(u32, u32)>,
}

impl MainloopPlan {
    /// The converted operand `i`'s fusion entry, when it is converted.
    pub(crate) fn converted(&self, i: usize) -> Option<&fused::OperandFuse> {
        self.fused
            .as_ref()
            .filter(|f| f.mode == FuseMode::Convert)
            .map(|f| &f.ops[i])
            .filter(|o| o.convert)
    }

    fn mx_promote(&self) -> Option<&FusedPlan> {
        self.fused.as_ref().filter(|f| f.mode == FuseMode::MxPromote)
    }
}

fn round_up(x: u32, to: u32) -> u32 {
    x.div_ceil(to) * to
}

impl MainloopPlan {
    pub fn acc_type(&self) -> String {
        wgmma::acc_struct(self.bn)
    }

    pub fn tuning(&self) -> Vec<(String, i64)> {
        vec![
            ("BM".into(), self.bm as i64),
            ("BN".into(), self.bn as i64),
            ("BK".into(), self.bk as i64),
            ("stages".into(), self.stages as i64),
            ("warpgroups".into(), self.warpgroups as i64),
        ]
    }

    pub fn mma_summary(&self) -> MmaSummary {
        let shape = format!("m64n{}k{}", self.bn, self.k_instr);
        MmaSummary {
            family: format!(
                "wgmma.mma_async.sync.aligned.{shape}.f32.{}.{}",
                self.a_ty, self.b_ty
            ),
            per_k_tile: self.warpgroups * self.bk / self.k_instr,
            operand_a: self.a_ty.to_string(),
            operand_b: self.b_ty.to_string(),
            stages: self.stages,
            dequant: match &self.block_scales {
                _ if self.fused.is_some() => self
                    .fused
                    .as_ref()
                    .map(|f| format!("fused ({}): {}", f.how, fused::detail(f)))
                    .unwrap_or_default(),
                None if self.promote => format!(
                    "none (plain {} x {} operands); fp8 partials promoted into the f32 accumulator every K tile ({} wgmma k-steps)",
                    self.a_ty,
                    self.b_ty,
                    self.bk / self.k_instr
                ),
                None => format!("none (plain {} x {} operands)", self.a_ty, self.b_ty),
                Some(bs) => format!(
                    "fused ({}): f32 block scales ({}) applied per K tile to a zero-initialised wgmma partial, promoted into the f32 accumulator in registers",
                    self.fuse_how.clone().unwrap_or_else(|| format!(
                        "MMA on raw codes, scales applied to the f32 accumulator per K-block of {}",
                        bs.a.as_ref().or(bs.b.as_ref()).map_or(0, |s| s.block_k)
                    )),
                    [("a", &bs.a), ("b", &bs.b)]
                        .iter()
                        .filter_map(|(n, s)| s.as_ref().map(|s| format!(
                            "{n}: block [{}, {}]{}",
                            s.block_rows,
                            s.block_k,
                            if s.uniform {
                                ", one per tile"
                            } else {
                                ", per fragment row/column"
                            }
                        )))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            },
            note: if self.stages < self.requested_stages {
                Some(format!(
                    "stages reduced from {} to {} to fit {} bytes of shared memory",
                    self.requested_stages, self.stages, self.max_shared_bytes
                ))
            } else {
                None
            },
        }
    }
}

fn wgmma_type(d: DType) -> Option<&'static str> {
    Some(match d {
        DType::F8E4M3 => "e4m3",
        DType::F8E5M2 => "e5m2",
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        _ => return None,
    })
}

pub(crate) fn plan(
    kernel: &Kernel,
    pat: &GemmPattern,
    opts: &LoweringOptions,
) -> Result<MainloopPlan, LoweringError> {
    let span = pat.loop_op.span;
    let fused = fused::plan(kernel, pat)?;
    let convert = fused.as_ref().is_some_and(|f| f.mode == FuseMode::Convert);
    // Converted operands reach wgmma as bf16 (the other one is bf16 already or converted too).
    let types = if convert {
        (Some("bf16"), Some("bf16"))
    } else {
        (wgmma_type(pat.a.dtype), wgmma_type(pat.b.dtype))
    };
    let (a_ty, b_ty) = match types {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(LoweringError::unsupported(
                format!(
                    "dot of {} x {} on sm_90a (wgmma here takes bf16, f16, f8e4m3, f8e5m2)",
                    pat.a.dtype, pat.b.dtype
                ),
                span,
            ));
        }
    };
    let elem_bytes = if !convert && is_fp8(pat.a.dtype) { 1 } else { 2 };
    let (bm, bn, bk) = (pat.bm, pat.bn, pat.a.bk);
    if bm % 64 != 0 || !(64..=256).contains(&bm) {
        return Err(LoweringError::unsupported(
            format!(
                "BM = {bm}: the wgmma mainloop needs BM in 64, 128, 192, 256 (one warpgroup per 64 rows)"
            ),
            span,
        ));
    }
    if bn % 8 != 0 || !(8..=256).contains(&bn) {
        return Err(LoweringError::unsupported(
            format!("BN = {bn}: wgmma N must be a multiple of 8 in 8..=256"),
            span,
        ));
    }
    // The K tile's bytes per row pick the swizzle: 32 or 64 bytes use that mode, anything from 128
    // up must be whole 128-byte chunks (one TMA box and one swizzle atom column per chunk).
    let row_bytes = bk * elem_bytes;
    let swizzle = match row_bytes {
        32 | 64 => row_bytes,
        r if r >= MAX_SWIZZLE && r % MAX_SWIZZLE == 0 => MAX_SWIZZLE,
        _ => {
            return Err(LoweringError::unsupported(
                format!(
                    "BK = {bk}: a K tile of {} must be {} or {} elements or a multiple of {} (swizzled TMA boxes of 32, 64 or 128 bytes)",
                    pat.a.dtype,
                    32 / elem_bytes,
                    64 / elem_bytes,
                    MAX_SWIZZLE / elem_bytes
                ),
                span,
            ));
        }
    };
    let chunks = row_bytes / swizzle;
    let chunk_elems = swizzle / elem_bytes;
    let elem = if elem_bytes == 1 { "u8" } else { "u16" };
    // Per operand: (stage bytes, TMA bytes, raw row bytes if converted, TMA box).
    let conv_of = |i: usize| {
        fused
            .as_ref()
            .filter(|f| f.mode == FuseMode::Convert)
            .map(|f| &f.ops[i])
            .filter(|o| o.convert)
    };
    let layout = |i: usize, rows: u32| match conv_of(i) {
        Some(o) => {
            let raw_row = o.raw_row_bytes(bk);
            let tma = TmaSpec {
                elem: "u8".into(),
                box_dims: vec![raw_row, rows],
                swizzle: 0,
            };
            (round_up(rows * raw_row, 1024), rows * raw_row, Some(raw_row), tma)
        }
        None => {
            let tma = TmaSpec {
                elem: elem.into(),
                box_dims: vec![chunk_elems, rows],
                swizzle,
            };
            (rows * bk * elem_bytes, rows * bk * elem_bytes, None, tma)
        }
    };
    let (a_size, a_tx, a_raw, tma_a) = layout(0, bm);
    let (b_size, b_tx, b_raw, tma_b) = layout(1, bn);
    let b_off = round_up(a_size, 1024);
    let stage_bytes = round_up(b_off + b_size, 1024);
    // The bf16 staging tiles of converted operands live once, after the ring.
    let conv_a = a_raw.map_or(0, |_| bm * bk * 2);
    let conv_b = b_raw.map_or(0, |_| bn * bk * 2);
    let mx = fused.as_ref().is_some_and(|f| f.mode == FuseMode::MxPromote);
    let mx_scale_bytes = if mx { round_up(bn * (bk / 32) * 4, 1024) } else { 0 };
    let conv_total = conv_a + conv_b + mx_scale_bytes;
    let requested = opts.stages.unwrap_or(DEFAULT_STAGES);
    if requested < 2 {
        return Err(LoweringError::unsupported(
            format!("{requested} pipeline stages (at least 2)"),
            span,
        ));
    }
    let fit = opts
        .max_shared_bytes
        .saturating_sub(ALIGN_SLACK + STATIC_RESERVE + conv_total)
        / stage_bytes;
    let stages = requested.min(fit);
    if stages < 2 {
        return Err(LoweringError::unsupported(
            format!(
                "a {bm}x{bn}x{bk} tile needs {stage_bytes} bytes per stage; two stages do not fit shared memory"
            ),
            span,
        ));
    }
    let block_scales = blockscale::plan(pat)?;
    let ring = stages * stage_bytes;
    let regions = [
        Region {
            off: 0,
            convert: a_raw.map(|r| (r, ring)),
        },
        Region {
            off: b_off,
            convert: b_raw.map(|r| (r, ring + conv_a)),
        },
    ];
    Ok(MainloopPlan {
        bm,
        bn,
        bk,
        warpgroups: bm / 64,
        threads: bm / 64 * 128,
        stages,
        requested_stages: requested,
        max_shared_bytes: opts.max_shared_bytes,
        elem_bytes,
        chunks,
        swizzle,
        chunk_elems,
        stage_bytes,
        dynamic_smem: ring + conv_total + ALIGN_SLACK,
        k_instr: if elem_bytes == 1 { 32 } else { 16 },
        a_ty,
        b_ty,
        tma_a,
        tma_b,
        acc_init: pat.acc_init,
        promote: mx || block_scales.is_some() || (elem_bytes == 1 && !opts.fp8_fast_accum),
        block_scales,
        fused,
        regions,
        tx_bytes: a_tx + b_tx,
        mx_scales_off: ring + conv_a + conv_b,
        fuse_how: fused::pass_strategy(kernel),
    })
}

/// Per-thread coordinates every part of the kernel uses.
pub(crate) struct Geometry {
    pub is0: String,
    /// Tile-local row of accumulator registers with (i / 2) % 2 == h, for h = 0, 1.
    pub rows: [String; 2],
    /// 2 * (lane % 4): the column of register 0 within each 8-column group.
    pub col_base: String,
    pub wg: String,
}

pub(crate) fn thread_geometry(b: &mut Body) -> Geometry {
    let tid = b.op("tid", "nvvm.read.ptx.sreg.tid.x : i32");
    let c128 = b.i32(128);
    let c32 = b.i32(32);
    let c4 = b.i32(4);
    let wg = b.op("wg", format!("arith.divui {tid}, {c128} : i32"));
    let t = b.op("t", format!("arith.remui {tid}, {c128} : i32"));
    let warp = b.op("warp", format!("arith.divui {t}, {c32} : i32"));
    let lane = b.op("lane", format!("arith.remui {t}, {c32} : i32"));
    let zero = b.i32(0);
    let is0 = b.op("is0", format!("arith.cmpi eq, {tid}, {zero} : i32"));
    // Fragment layout of wgmma m64nNk*: thread t of a warpgroup holds rows 16*(t/32) + (t%32)/4
    // and +8, columns 8*j + 2*(t%4) and +1 (see wgmma.rs).
    let c64 = b.i32(64);
    let c16 = b.i32(16);
    let wrow = b.op("r", format!("arith.muli {wg}, {c64} : i32"));
    let w16 = b.op("r", format!("arith.muli {warp}, {c16} : i32"));
    let l4 = b.op("r", format!("arith.divui {lane}, {c4} : i32"));
    let r0a = b.op("r", format!("arith.addi {wrow}, {w16} : i32"));
    let r0 = b.op("row", format!("arith.addi {r0a}, {l4} : i32"));
    let c8 = b.i32(8);
    let r1 = b.op("row", format!("arith.addi {r0}, {c8} : i32"));
    let lm4 = b.op("c", format!("arith.remui {lane}, {c4} : i32"));
    let c2 = b.i32(2);
    let col_base = b.op("col", format!("arith.muli {lm4}, {c2} : i32"));
    Geometry {
        is0,
        rows: [r0, r1],
        col_base,
        wg,
    }
}

/// Module-level shared-memory symbols: the dynamic ring and the per-stage mbarriers.
pub(crate) fn globals(plan: &MainloopPlan) -> String {
    format!(
        "  llvm.mlir.global external @tessera_smem() {{addr_space = 3 : i32, alignment = 1024 : i64}} : !llvm.array<0 x i8>\n  llvm.mlir.global internal @tessera_full() {{addr_space = 3 : i32, alignment = 8 : i64}} : !llvm.array<{} x i64>\n",
        plan.stages
    )
}

struct Ring {
    smem: String,
    bars: String,
    tmap_a: String,
    tmap_b: String,
    lo: String,
    step: String,
}

fn bar_at(b: &mut Body, ring: &Ring, s: &str) -> String {
    b.op(
        "bar",
        format!(
            "llvm.getelementptr {}[{s}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64",
            ring.bars
        ),
    )
}

/// tid 0: arm stage `s`'s barrier with the tile's byte count and issue the TMA boxes of K tile `kt`.
fn produce(
    lw: &mut Lower,
    pat: &GemmPattern,
    plan: &MainloopPlan,
    ring: &Ring,
    kt: &str,
    s: &str,
) -> Result<(), LoweringError> {
    let bar = bar_at(&mut lw.b, ring, s);
    let tx = lw.b.i32(plan.tx_bytes as i64);
    lw.b.line(format!(
        "nvvm.mbarrier.arrive.expect_tx {bar}, {tx} : !llvm.ptr<3>, i32"
    ));
    let ks = lw.b.op("kv", format!("arith.muli {kt}, {} : i32", ring.step));
    let iv = lw.b.op("kv", format!("arith.addi {}, {ks} : i32", ring.lo));
    let mut memo = HashMap::new();
    let sb = lw.b.i32(plan.stage_bytes as i64);
    let soff = lw.b.op("so", format!("arith.muli {s}, {sb} : i32"));
    for (i, (op, tmap, rows)) in [(&pat.a, &ring.tmap_a, plan.bm), (&pat.b, &ring.tmap_b, plan.bn)]
        .into_iter()
        .enumerate()
    {
        let base = plan.regions[i].off;
        let k0 = lw.loop_scalar(pat, op.k_start, &iv, &mut memo)?;
        let r0 = lw.loop_scalar(pat, op.row_start, &iv, &mut memo)?;
        if let Some(conv) = plan.converted(i) {
            // Raw codes: one unswizzled box of the whole K tile; the map counts bytes, so packed
            // FP4 starts at byte k0 / 2 (k0 is a multiple of 8).
            let kx = if conv.src == DType::F4E2M1 {
                let two = lw.b.i32(2);
                lw.b.op("kc", format!("arith.divsi {k0}, {two} : i32"))
            } else {
                k0.clone()
            };
            let off = lw.b.i32(base as i64);
            let o = lw.b.op("so", format!("arith.addi {soff}, {off} : i32"));
            let d7 = crate::smem::tma_dst(&mut lw.b, &ring.smem, &o);
            lw.b.line(format!(
                "nvvm.cp.async.bulk.tensor.shared.cluster.global {d7}, {tmap}, {bar}, box[{kx}, {r0}] : !llvm.ptr<7>, !llvm.ptr"
            ));
            continue;
        }
        for c in 0..plan.chunks {
            let off = lw.b.i32((base + c * rows * plan.swizzle) as i64);
            let o = lw.b.op("so", format!("arith.addi {soff}, {off} : i32"));
            let d7 = crate::smem::tma_dst(&mut lw.b, &ring.smem, &o);
            let kc = if c == 0 {
                k0.clone()
            } else {
                let ce = lw.b.i32((c * plan.chunk_elems) as i64);
                lw.b.op("kc", format!("arith.addi {k0}, {ce} : i32"))
            };
            // Box coordinates are innermost first: (k, row).
            lw.b.line(format!(
                "nvvm.cp.async.bulk.tensor.shared.cluster.global {d7}, {tmap}, {bar}, box[{kc}, {r0}] : !llvm.ptr<7>, !llvm.ptr"
            ));
        }
    }
    Ok(())
}

/// Emit barrier setup, the prologue and the pipelined K loop; returns the SSA name of the final
/// accumulator struct (`!acc`).
pub(crate) fn emit(
    lw: &mut Lower,
    pat: &GemmPattern,
    plan: &MainloopPlan,
    geo: &Geometry,
) -> Result<String, LoweringError> {
    let span = pat.loop_op.span;
    let tmap_a = lw.abi.tensors.get(&pat.a.tensor).cloned();
    let tmap_b = lw.abi.tensors.get(&pat.b.tensor).cloned();
    let (Some(tmap_a), Some(tmap_b)) = (tmap_a, tmap_b) else {
        return Err(LoweringError::unsupported(
            "internal: operand tensor maps missing from the ABI",
            span,
        ));
    };
    let lo = lw.scalar(pat.lo, span)?;
    let hi = lw.scalar(pat.hi, span)?;
    let step = lw.scalar(pat.step, span)?;
    let b = &mut lw.b;

    // The ring's base, aligned up to the 128B-swizzle atom at run time.
    let smem = crate::smem::aligned_base(b);
    let bars = b.op("bars", "llvm.mlir.addressof @tessera_full : !llvm.ptr<3>");
    let ring = Ring {
        smem: smem.clone(),
        bars,
        tmap_a,
        tmap_b,
        lo: lo.clone(),
        step: step.clone(),
    };

    // One thread initialises the barriers (one arrival each: the producer's expect_tx).
    b.open(format!("scf.if {}", geo.is0));
    let one = b.i32(1);
    for s in 0..plan.stages {
        let si = b.i32(s as i64);
        let bar = bar_at(b, &ring, &si);
        b.line(format!("nvvm.mbarrier.init {bar}, {one} : !llvm.ptr<3>, i32"));
    }
    b.line("nvvm.fence.mbarrier.init");
    b.close("");
    b.line("nvvm.barrier0");

    // Number of K tiles: ceil(max(hi - lo, 0) / step).
    let span_k = b.op("nk", format!("arith.subi {hi}, {lo} : i32"));
    let zero = b.i32(0);
    let pos = b.op("nk", format!("arith.maxsi {span_k}, {zero} : i32"));
    let nk = b.op("nk", format!("arith.ceildivsi {pos}, {step} : i32"));
    let stages = b.i32(plan.stages as i64);
    let npre = b.op("npre", format!("arith.minsi {nk}, {stages} : i32"));

    // Prologue: fill the ring.
    lw.b.open(format!("scf.if {}", geo.is0));
    let kt = lw.b.fresh("kt");
    lw.b.open(format!("scf.for {kt} = {zero} to {npre} step {one} : i32"));
    produce(lw, pat, plan, &ring, &kt, &kt)?;
    lw.b.close("");
    lw.b.close("");

    // The accumulator fragment starts at the IR's fill value.
    let b = &mut lw.b;
    let mut acc0 = b.op("acc", "llvm.mlir.zero : !acc");
    if plan.acc_init != 0.0 {
        let v = b.cst(f32_literal(plan.acc_init), "f32");
        for i in 0..plan.bn / 2 {
            acc0 = b.op("acc", format!("llvm.insertvalue {v}, {acc0}[{i}] : !acc"));
        }
    }

    // With promotion each K tile accumulates into a fresh partial (scale-d = 0 on its first
    // wgmma), added (times its block scales) into the accumulator after the wait; the zero struct
    // is the partial's input operand.
    let pzero = if plan.promote {
        Some(b.op("pz", "llvm.mlir.zero : !acc"))
    } else {
        None
    };

    // The pipelined K loop.
    let res = b.fresh("accf");
    let kt = b.fresh("kt");
    let acc = b.fresh("acc");
    b.open(format!(
        "{res} = scf.for {kt} = {zero} to {nk} step {one} iter_args({acc} = {acc0}) -> (!acc) : i32"
    ));
    let s = b.op("st", format!("arith.remui {kt}, {stages} : i32"));
    let u = b.op("ph", format!("arith.divui {kt}, {stages} : i32"));
    let ph = b.op("ph", format!("arith.andi {u}, {one} : i32"));
    let bar = bar_at(b, &ring, &s);
    let ticks = b.i32(1_000_000);
    b.line(format!(
        "nvvm.mbarrier.try_wait.parity {bar}, {ph}, {ticks} : !llvm.ptr<3>, i32, i32"
    ));
    let factors = match &plan.block_scales {
        Some(bs) => {
            let ks = lw.b.op("kv", format!("arith.muli {kt}, {step} : i32"));
            let iv = lw.b.op("kv", format!("arith.addi {lo}, {ks} : i32"));
            Some(lw.tile_scales(pat, plan, bs, geo, &iv)?)
        }
        None if plan.promote && plan.mx_promote().is_none() => Some(TileFactors::unit()),
        None => None,
    };
    let b = &mut lw.b;
    let sb = b.i32(plan.stage_bytes as i64);
    let soff = b.op("so", format!("arith.muli {s}, {sb} : i32"));
    let stage = b.op(
        "sp",
        format!("llvm.getelementptr {smem}[{soff}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
    );
    let sbase = b.op("sp", format!("llvm.ptrtoint {stage} : !llvm.ptr<3> to i64"));
    // Only staged (converted) operands address the region after the ring.
    let staged = plan.converted(0).is_some() || plan.converted(1).is_some();
    let ring_base = if staged {
        b.op("sp", format!("llvm.ptrtoint {smem} : !llvm.ptr<3> to i64"))
    } else {
        String::new()
    };
    // Converted operands: every thread turns its share of the stage's raw codes into the bf16
    // staging tile, then the generic-proxy writes are made visible to wgmma's async proxy.
    if staged {
        let tid = lw.b.op("tid", "nvvm.read.ptx.sreg.tid.x : i32");
        let ks = lw.b.op("kv", format!("arith.muli {kt}, {step} : i32"));
        let iv = lw.b.op("kv", format!("arith.addi {lo}, {ks} : i32"));
        for i in 0..2 {
            let (Some(conv), Some((_, conv_off))) = (plan.converted(i).cloned(), plan.regions[i].convert)
            else {
                continue;
            };
            let roff = lw.b.i32(plan.regions[i].off as i64);
            let raw = lw.b.op(
                "raw",
                format!("llvm.getelementptr {stage}[{roff}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
            );
            let coff = lw.b.i32(conv_off as i64);
            let dst = lw.b.op(
                "cvt",
                format!("llvm.getelementptr {smem}[{coff}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
            );
            lw.convert_tile(pat, plan, &conv, i, &raw, &dst, &tid, &iv)?;
        }
        lw.b.line(
            "llvm.inline_asm has_side_effects asm_dialect = att \"fence.proxy.async.shared::cta;\", \"~{memory}\" : () -> ()",
        );
        lw.b.line("nvvm.barrier0");
    }
    let b = &mut lw.b;
    let base_of = |b: &mut Body, i: usize| -> String {
        match plan.regions[i].convert {
            Some((_, conv_off)) => {
                let o = b.i64(conv_off as i64);
                b.op("sp", format!("arith.addi {ring_base}, {o} : i64"))
            }
            None if plan.regions[i].off == 0 => sbase.clone(),
            None => {
                let o = b.i64(plan.regions[i].off as i64);
                b.op("sp", format!("arith.addi {sbase}, {o} : i64"))
            }
        }
    };
    // This warpgroup's 64 A rows start 64 * W bytes further into each A slab.
    let wg64 = b.op("sp", format!("arith.extui {} : i32 to i64", geo.wg));
    let rowbytes = b.i64(64 * plan.swizzle as i64);
    let wgoff = b.op("sp", format!("arith.muli {wg64}, {rowbytes} : i64"));
    let a_slab = base_of(b, 0);
    let abase = b.op("sp", format!("arith.addi {a_slab}, {wgoff} : i64"));
    let bbase = base_of(b, 1);
    let da0 = wgmma::descriptor(b, &abase, plan.swizzle);
    let db0 = wgmma::descriptor(b, &bbase, plan.swizzle);
    b.line("nvvm.wgmma.fence.aligned");
    let mut cur = pzero.clone().unwrap_or_else(|| acc.clone());
    let steps_per_chunk = plan.swizzle / (plan.k_instr * plan.elem_bytes);
    if let Some(fp) = plan.mx_promote().cloned() {
        // MXFP8: one fresh m64nNk32 partial per 32-wide scale sub-block, promoted with its own
        // row and column scales before the next one starts.
        let pz = pzero.clone().unwrap_or_else(|| acc.clone());
        let ks = lw.b.op("kv", format!("arith.muli {kt}, {step} : i32"));
        let iv = lw.b.op("kv", format!("arith.addi {lo}, {ks} : i32"));
        let off = lw.b.i32(plan.mx_scales_off as i64);
        let sc_b = lw.b.op(
            "scb",
            format!("llvm.getelementptr {smem}[{off}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
        );
        lw.stage_mx_col_scales(pat, plan, &fp, &iv, &sc_b)?;
        let mut total = acc.clone();
        let mut prev = pz.clone();
        for c in 0..plan.chunks {
            for kk in 0..steps_per_chunk {
                let b = &mut lw.b;
                let kbytes = kk * plan.k_instr * plan.elem_bytes;
                let da = wgmma::advance(b, &da0, c * plan.bm * plan.swizzle + kbytes);
                let db = wgmma::advance(b, &db0, c * plan.bn * plan.swizzle + kbytes);
                if c + kk > 0 {
                    b.line("nvvm.wgmma.fence.aligned");
                }
                // scale-d = 0 ignores the input registers: feeding the previous partial (dead
                // once promoted) instead of a zero struct saves materialising 64 zero registers
                // per wgmma and keeps the next sub-block behind the previous promotion.
                let p = wgmma::mma(b, &da, &db, &prev, plan, true);
                prev = p.clone();
                b.line("nvvm.wgmma.commit.group.sync.aligned");
                lw.b.line("nvvm.wgmma.wait.group.sync.aligned 0");
                // Loaded after the wait: hoisting them above it keeps 2 + BN/4 scales live next to
                // the partial and the accumulator, and the fragment then spills.
                let sub = c * steps_per_chunk + kk;
                let f = lw.mx_factors(pat, plan, &fp, geo, &iv, sub, &sc_b)?;
                total = lw.promote(plan, &f, &p, &total);
            }
        }
        cur = total;
    } else {
        for c in 0..plan.chunks {
            for kk in 0..steps_per_chunk {
                // K advance inside the swizzle atom: +k_instr*elem_bytes (= 32) bytes per step; the
                // hardware applies the swizzle to the computed address.
                let kbytes = kk * plan.k_instr * plan.elem_bytes;
                let da = wgmma::advance(b, &da0, c * plan.bm * plan.swizzle + kbytes);
                let db = wgmma::advance(b, &db0, c * plan.bn * plan.swizzle + kbytes);
                let fresh = pzero.is_some() && c == 0 && kk == 0;
                cur = wgmma::mma(b, &da, &db, &cur, plan, fresh);
            }
        }
        b.line("nvvm.wgmma.commit.group.sync.aligned");
        b.line("nvvm.wgmma.wait.group.sync.aligned 0");
        if let Some(f) = &factors {
            cur = lw.promote(plan, f, &cur, &acc);
        }
    }
    let b = &mut lw.b;
    // Every warpgroup has finished reading this stage before tid 0 overwrites it.
    b.line("nvvm.barrier0");
    let nxt = b.op("kn", format!("arith.addi {kt}, {stages} : i32"));
    let more = b.op("kn", format!("arith.cmpi slt, {nxt}, {nk} : i32"));
    let go = b.op("kn", format!("arith.andi {}, {more} : i1", geo.is0));
    b.open(format!("scf.if {go}"));
    produce(lw, pat, plan, &ring, &nxt, &s)?;
    lw.b.close("");
    lw.b.line(format!("scf.yield {cur} : !acc"));
    lw.b.close("");
    // NV per-tensor globals scale the finished accumulator once.
    match &plan.fused {
        Some(fp) => lw.apply_globals(plan, fp, &res, span),
        None => Ok(res),
    }
}
