//! The attention kernel body as MLIR text (llvm + nvvm + scf + arith): barrier setup, the Q load,
//! the K/V ring, per key tile S = Q·Kᵀ (wgmma), the V transpose, online softmax on the fragment,
//! O += P·V (wgmma with A from registers, as inline PTX: the nvvm op only takes descriptors), and
//! the normalised bf16 store.

use super::layout::v_row;
use super::{AttnPattern, AttnPlan, STAGES};
use crate::LoweringError;
use crate::abi::Abi;
use crate::text::{Body, f32_literal};
use crate::wgmma::{self, Geometry, reg_index, thread_geometry};
use tessera_ir::Kernel;

const NEG_INF: f64 = f64::NEG_INFINITY;

/// Names shared by the emitters.
struct Ctx<'a> {
    plan: &'a AttnPlan,
    geo: Geometry,
    smem: String,
    bars: String,
    tmap_q: String,
    tmap_k: String,
    tmap_v: String,
    bh: String,
}

fn bar_at(b: &mut Body, cx: &Ctx, i: &str) -> String {
    b.op(
        "bar",
        format!(
            "llvm.getelementptr {}[{i}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64",
            cx.bars
        ),
    )
}

/// `%smem + off` as a shared::cluster pointer (TMA's destination space).
fn tma_dst(b: &mut Body, cx: &Ctx, off: &str) -> String {
    crate::smem::tma_dst(b, &cx.smem, off)
}

/// tid 0: arm stage `s`'s barrier and load key tile `t` of K and V into it.
fn produce(b: &mut Body, cx: &Ctx, t: &str, s: &str) {
    let one = b.i32(1);
    let bi = b.op("bi", format!("arith.addi {s}, {one} : i32"));
    let bar = bar_at(b, cx, &bi);
    let tx = b.i32(2 * cx.plan.kv_bytes as i64);
    b.line(format!(
        "nvvm.mbarrier.arrive.expect_tx {bar}, {tx} : !llvm.ptr<3>, i32"
    ));
    let bn = b.i32(cx.plan.bn as i64);
    let n0 = b.op("n0", format!("arith.muli {t}, {bn} : i32"));
    let sb = b.i32(cx.plan.stage_bytes as i64);
    let so = b.op("so", format!("arith.muli {s}, {sb} : i32"));
    let qb = b.i32(cx.plan.q_bytes as i64);
    let koff = b.op("so", format!("arith.addi {so}, {qb} : i32"));
    let kvb = b.i32(cx.plan.kv_bytes as i64);
    let voff = b.op("so", format!("arith.addi {koff}, {kvb} : i32"));
    let zero = b.i32(0);
    for (off, map) in [(koff, &cx.tmap_k), (voff, &cx.tmap_v)] {
        let dst = tma_dst(b, cx, &off);
        // Box coordinates innermost first: (head dim, key, batch*head).
        b.line(format!(
            "nvvm.cp.async.bulk.tensor.shared.cluster.global {dst}, {map}, {bar}, box[{zero}, {n0}, {}] : !llvm.ptr<7>, !llvm.ptr",
            cx.bh
        ));
    }
}

fn fence_proxy_async(b: &mut Body) {
    b.line(
        "llvm.inline_asm has_side_effects asm_dialect = att \"fence.proxy.async.shared::cta;\", \"~{memory}\" : () -> ()",
    );
}

/// Butterfly reduction of `v` over the 4 threads that share a fragment row (lanes differing in
/// bits 0 and 1).
fn quad_reduce(b: &mut Body, v: &str, op: &str) -> String {
    let mask = b.i32(-1);
    let clamp = b.i32(31);
    let mut cur = v.to_string();
    for off in [1, 2] {
        let o = b.i32(off);
        let other = b.op(
            "sh",
            format!("nvvm.shfl.sync bfly {mask}, {cur}, {o}, {clamp} : f32 -> f32"),
        );
        cur = b.op("red", format!("{op} {cur}, {other} : f32"));
    }
    cur
}

/// Write this CTA's share of V tile (stage pointer `vraw`, `[BN][HD]` bytes) transposed into
/// `vt` (`[HD][BN]`, BN-byte swizzle), with the key order permuted as layout.rs explains.
fn transpose_v(b: &mut Body, cx: &Ctx, tid: &str, vraw: &str, vt: &str) {
    let p = cx.plan;
    let words = p.hd * p.bn / 4;
    let iters = words / p.threads;
    let zero = b.i32(0);
    let one = b.i32(1);
    let n_it = b.i32(iters as i64);
    let it = b.fresh("it");
    b.open(format!("scf.for {it} = {zero} to {n_it} step {one} : i32"));
    let th = b.i32(p.threads as i64);
    let base = b.op("w", format!("arith.muli {it}, {th} : i32"));
    let w = b.op("w", format!("arith.addi {base}, {tid} : i32"));
    // Consecutive threads take consecutive head-dim columns: conflict-free reads of V's rows.
    let hd = b.i32(p.hd as i64);
    let d = b.op("d", format!("arith.remui {w}, {hd} : i32"));
    let kq = b.op("kq", format!("arith.divui {w}, {hd} : i32"));
    // v_row(kq, byte) = 16 * (kq / 4) + 2 * (kq % 4) + v_row(0, byte).
    let c4 = b.i32(4);
    let c16 = b.i32(16);
    let c2 = b.i32(2);
    let hi = b.op("vr", format!("arith.divui {kq}, {c4} : i32"));
    let hi16 = b.op("vr", format!("arith.muli {hi}, {c16} : i32"));
    let lo = b.op("vr", format!("arith.remui {kq}, {c4} : i32"));
    let lo2 = b.op("vr", format!("arith.muli {lo}, {c2} : i32"));
    let rbase = b.op("vr", format!("arith.addi {hi16}, {lo2} : i32"));
    let mut word = String::new();
    for byte in 0..4u32 {
        let a = b.i32(v_row(0, byte) as i64);
        let row = b.op("vr", format!("arith.addi {rbase}, {a} : i32"));
        let ro = b.op("vo", format!("arith.muli {row}, {hd} : i32"));
        let off = b.op("vo", format!("arith.addi {ro}, {d} : i32"));
        let ptr = b.op(
            "vp",
            format!("llvm.getelementptr {vraw}[{off}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
        );
        let v8 = b.op("vb", format!("llvm.load {ptr} : !llvm.ptr<3> -> i8"));
        let v32 = b.op("vb", format!("arith.extui {v8} : i8 to i32"));
        word = if byte == 0 {
            v32
        } else {
            let sh = b.i32(8 * byte as i64);
            let s = b.op("vb", format!("arith.shli {v32}, {sh} : i32"));
            b.op("vb", format!("arith.ori {word}, {s} : i32"))
        };
    }
    // Destination (row d, bytes 4kq..4kq+3) under the BN-byte swizzle (layout::swizzle).
    let bn = b.i32(p.bn as i64);
    let drow = b.op("vt", format!("arith.muli {d}, {bn} : i32"));
    let k4 = b.op("vt", format!("arith.muli {kq}, {c4} : i32"));
    let lin = b.op("vt", format!("arith.addi {drow}, {k4} : i32"));
    let c7 = b.i32(7);
    let sh7 = b.op("vt", format!("arith.shrui {lin}, {c7} : i32"));
    let m = b.i32((p.bn / 16 - 1) as i64);
    let bits = b.op("vt", format!("arith.andi {sh7}, {m} : i32"));
    let x = b.op("vt", format!("arith.shli {bits}, {c4} : i32"));
    let sw = b.op("vt", format!("arith.xori {lin}, {x} : i32"));
    let dst = b.op(
        "vt",
        format!("llvm.getelementptr {vt}[{sw}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
    );
    b.line(format!(
        "llvm.store {word}, {dst} {{alignment = 4 : i64}} : i32, !llvm.ptr<3>"
    ));
    b.close("");
}

/// One byte of e4m3 (round to nearest even, saturating) from an f32, widened to i32.
fn to_e4m3_i32(b: &mut Body, x: &str) -> String {
    // Both halves of the pair get the same value, so the low byte is ours whichever half PTX
    // assigns to which operand.
    let pair = b.op(
        "q",
        format!(
            "nvvm.convert.f32x2.to.f8x2 {x}, {x} {{rnd = #nvvm.fp_rnd_mode<rn>, sat = #nvvm.sat_mode<satfinite>}} : i16 (f8E4M3FN)"
        ),
    );
    let m = b.cst(255, "i16");
    let lo = b.op("q", format!("arith.andi {pair}, {m} : i16"));
    b.op("q", format!("arith.extui {lo} : i16 to i32"))
}

/// The 4-byte A register holding `vals` (byte 0 lowest).
fn pack4(b: &mut Body, vals: [&str; 4]) -> String {
    let mut word = String::new();
    for (i, v) in vals.iter().enumerate() {
        let q = to_e4m3_i32(b, v);
        word = if i == 0 {
            q
        } else {
            let sh = b.i32(8 * i as i64);
            let s = b.op("pk", format!("arith.shli {q}, {sh} : i32"));
            b.op("pk", format!("arith.ori {word}, {s} : i32"))
        };
    }
    word
}

/// `wgmma.mma_async m64n{HD}k32 e4m3` with A (4 x b32 of packed e4m3) from registers and B from
/// the descriptor `db`, accumulating into `acc` (`!oacc`), or overwriting it when `fresh`
/// (scale-d = 0: D = A*B).
fn mma_reg_a(b: &mut Body, plan: &AttnPlan, acc: &str, a: &[String; 4], db: &str, fresh: bool) -> String {
    let n = plan.hd / 2;
    let mut vals = Vec::new();
    for i in 0..n {
        vals.push(b.op("ov", format!("llvm.extractvalue {acc}[{i}] : !oacc")));
    }
    let d: Vec<String> = (0..n).map(|i| format!("${i}")).collect();
    let asm = format!(
        "{{\\0A.reg .pred p;\\0Asetp.ne.b32 p, {}, 0;\\0Awgmma.mma_async.sync.aligned.m64n{}k32.f32.e4m3.e4m3 {{{}}}, {{${}, ${}, ${}, ${}}}, ${}, p, 1, 1;\\0A}}",
        u32::from(!fresh),
        plan.hd,
        d.join(", "),
        2 * n,
        2 * n + 1,
        2 * n + 2,
        2 * n + 3,
        2 * n + 4
    );
    let mut cons: Vec<String> = (0..n).map(|_| "=f".to_string()).collect();
    cons.extend((0..n).map(|i| i.to_string()));
    cons.extend(["r", "r", "r", "r", "l"].map(String::from));
    let mut args = vals;
    args.extend(a.iter().cloned());
    args.push(db.to_string());
    let mut tys: Vec<&str> = vec!["f32"; n as usize];
    tys.extend(["i32", "i32", "i32", "i32", "i64"]);
    b.op(
        "pv",
        format!(
            "llvm.inline_asm has_side_effects asm_dialect = att \"{asm}\", \"{}\" {} : ({}) -> !oacc",
            cons.join(","),
            args.join(", "),
            tys.join(", ")
        ),
    )
}

/// Pin the `n` f32 registers of accumulator `acc` (type `ty`) after a `wgmma.wait_group`: an
/// empty side-effecting asm that "rewrites" them, so no use of the accumulator can be scheduled
/// above the wait (the wgmma asm's outputs look ready to LLVM as soon as it is issued).
fn reg_fence(b: &mut Body, acc: &str, n: u32, ty: &str) -> String {
    let vals: Vec<String> = (0..n)
        .map(|i| b.op("rf", format!("llvm.extractvalue {acc}[{i}] : {ty}")))
        .collect();
    let mut cons: Vec<String> = (0..n).map(|_| "=f".to_string()).collect();
    cons.extend((0..n).map(|i| i.to_string()));
    b.op(
        "rf",
        format!(
            "llvm.inline_asm has_side_effects asm_dialect = att \"\", \"{}\" {} : ({}) -> {ty}",
            cons.join(","),
            vals.join(", "),
            vec!["f32"; n as usize].join(", ")
        ),
    )
}

/// The whole function body.
pub(crate) fn body(
    kernel: &Kernel,
    pat: &AttnPattern,
    plan: &AttnPlan,
    abi: &Abi,
) -> Result<Body, LoweringError> {
    let span = kernel.span;
    let missing =
        |what: &str| LoweringError::unsupported(format!("internal: {what} missing from the ABI"), span);
    let tensor = |p| abi.tensors.get(&p).cloned().ok_or_else(|| missing("a tensor"));
    let scalar = |v| abi.scalars.get(&v).cloned().ok_or_else(|| missing("a scalar"));
    let (tmap_q, tmap_k, tmap_v, out) = (tensor(pat.q)?, tensor(pat.k)?, tensor(pat.v)?, tensor(pat.o)?);
    let (sq, sk, sv, sm, causal) = (
        scalar(pat.scale_q)?,
        scalar(pat.scale_k)?,
        scalar(pat.scale_v)?,
        scalar(pat.sm_scale)?,
        scalar(pat.causal)?,
    );
    let seq = abi
        .syms
        .get(pat.seq_sym)
        .cloned()
        .ok_or_else(|| missing("the sequence length"))?;

    let mut b = Body::default();
    let geo = thread_geometry(&mut b);
    let tid = b.op("tid", "nvvm.read.ptx.sreg.tid.x : i32");
    let bx = b.op("pid", "nvvm.read.ptx.sreg.ctaid.x : i32");
    let bh = b.op("pid", "nvvm.read.ptx.sreg.ctaid.y : i32");
    let bm = b.i32(plan.bm as i64);
    let m0 = b.op("m0", format!("arith.muli {bx}, {bm} : i32"));

    // Dynamic shared memory aligned up to the swizzle atom.
    let smem = crate::smem::aligned_base(&mut b);
    let bars = b.op("bars", "llvm.mlir.addressof @tessera_att_bars : !llvm.ptr<3>");
    let cx = Ctx {
        plan,
        geo,
        smem: smem.clone(),
        bars,
        tmap_q,
        tmap_k,
        tmap_v,
        bh: bh.clone(),
    };

    // Barriers: [0] the Q tile, [1 + s] K/V stage s; one arrival each (tid 0's expect_tx).
    let one = b.i32(1);
    let zero = b.i32(0);
    b.open(format!("scf.if {}", cx.geo.is0));
    for i in 0..=STAGES {
        let ii = b.i32(i as i64);
        let bar = bar_at(&mut b, &cx, &ii);
        b.line(format!("nvvm.mbarrier.init {bar}, {one} : !llvm.ptr<3>, i32"));
    }
    b.line("nvvm.fence.mbarrier.init");
    b.close("");
    b.line("nvvm.barrier0");

    // Key tiles: causal blocks stop after the block's last query row.
    let cz = b.op("cz", format!("arith.cmpi ne, {causal}, {zero} : i32"));
    let nc = b.op("cz", format!("arith.cmpi eq, {causal}, {zero} : i32"));
    let mend = b.op("end", format!("arith.addi {m0}, {bm} : i32"));
    let cend = b.op("end", format!("arith.minsi {seq}, {mend} : i32"));
    let end = b.op("end", format!("arith.select {cz}, {cend}, {seq} : i32"));
    let bnc = b.i32(plan.bn as i64);
    let nt = b.op("nt", format!("arith.ceildivsi {end}, {bnc} : i32"));
    let stages = b.i32(STAGES as i64);
    let npre = b.op("npre", format!("arith.minsi {nt}, {stages} : i32"));

    b.open(format!("scf.if {}", cx.geo.is0));
    let bar_q = bar_at(&mut b, &cx, &zero);
    let qtx = b.i32(plan.q_bytes as i64);
    b.line(format!(
        "nvvm.mbarrier.arrive.expect_tx {bar_q}, {qtx} : !llvm.ptr<3>, i32"
    ));
    let qdst = tma_dst(&mut b, &cx, &zero);
    b.line(format!(
        "nvvm.cp.async.bulk.tensor.shared.cluster.global {qdst}, {}, {bar_q}, box[{zero}, {m0}, {bh}] : !llvm.ptr<7>, !llvm.ptr",
        cx.tmap_q
    ));
    let t = b.fresh("t");
    b.open(format!("scf.for {t} = {zero} to {npre} step {one} : i32"));
    produce(&mut b, &cx, &t, &t);
    b.close("");
    b.close("");

    let ticks = b.i32(1_000_000);
    let bar_q = bar_at(&mut b, &cx, &zero);
    b.line(format!(
        "nvvm.mbarrier.try_wait.parity {bar_q}, {zero}, {ticks} : !llvm.ptr<3>, i32, i32"
    ));

    // exp2 domain: s * sm_scale * scale_q * scale_k * log2(e), as the reference computes it.
    let q1 = b.op("qk", format!("arith.mulf {sm}, {sq} : f32"));
    let q2 = b.op("qk", format!("arith.mulf {q1}, {sk} : f32"));
    let l2e = b.cst(f32_literal(std::f64::consts::LOG2_E), "f32");
    let qk = b.op("qk", format!("arith.mulf {q2}, {l2e} : f32"));

    // Per-thread query rows (global) and the warpgroup's Q descriptor.
    let rows: Vec<String> = (0..2)
        .map(|h| b.op("qr", format!("arith.addi {m0}, {} : i32", cx.geo.rows[h])))
        .collect();
    let sbase = b.op("sb", format!("llvm.ptrtoint {smem} : !llvm.ptr<3> to i64"));
    let wg64 = b.op("sb", format!("arith.extui {} : i32 to i64", cx.geo.wg));
    let wgb = b.i64((64 * plan.hd) as i64);
    let wgoff = b.op("sb", format!("arith.muli {wg64}, {wgb} : i64"));
    let qaddr = b.op("sb", format!("arith.addi {sbase}, {wgoff} : i64"));
    let dq = wgmma::descriptor(&mut b, &qaddr, 128);
    let vto = b.i64(plan.vt_off as i64);
    let vtaddr = b.op("sb", format!("arith.addi {sbase}, {vto} : i64"));
    let dvt = wgmma::descriptor(&mut b, &vtaddr, plan.bn);
    let vt_off = b.i32(plan.vt_off as i64);
    let vt = b.op(
        "vt",
        format!("llvm.getelementptr {smem}[{vt_off}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
    );

    let ninf = b.cst(f32_literal(NEG_INF), "f32");
    let fzero = b.cst(f32_literal(0.0), "f32");
    let o0 = b.op("o", "llvm.mlir.zero : !oacc");
    let szero = b.op("s", "llvm.mlir.zero : !sacc");

    // The key loop: carried row max (log2 domain) and row sum per fragment row half, and O.
    let res = b.fresh("res");
    let t = b.fresh("t");
    let (mx, ls, oacc) = (
        [b.fresh("mx"), b.fresh("mx")],
        [b.fresh("l"), b.fresh("l")],
        b.fresh("oa"),
    );
    b.open(format!(
        "{res}:5 = scf.for {t} = {zero} to {nt} step {one} iter_args({} = {ninf}, {} = {ninf}, {} = {fzero}, {} = {fzero}, {oacc} = {o0}) -> (f32, f32, f32, f32, !oacc) : i32",
        mx[0], mx[1], ls[0], ls[1]
    ));
    let s = b.op("st", format!("arith.remui {t}, {stages} : i32"));
    let u = b.op("ph", format!("arith.divui {t}, {stages} : i32"));
    let ph = b.op("ph", format!("arith.andi {u}, {one} : i32"));
    let bi = b.op("bi", format!("arith.addi {s}, {one} : i32"));
    let bar = bar_at(&mut b, &cx, &bi);
    b.line(format!(
        "nvvm.mbarrier.try_wait.parity {bar}, {ph}, {ticks} : !llvm.ptr<3>, i32, i32"
    ));
    let sb = b.i32(plan.stage_bytes as i64);
    let so = b.op("so", format!("arith.muli {s}, {sb} : i32"));
    let qb = b.i32(plan.q_bytes as i64);
    let koff = b.op("so", format!("arith.addi {so}, {qb} : i32"));
    let k64 = b.op("so", format!("arith.extui {koff} : i32 to i64"));
    let kaddr = b.op("so", format!("arith.addi {sbase}, {k64} : i64"));
    let dk = wgmma::descriptor(&mut b, &kaddr, 128);

    // S = Q·Kᵀ over the head dim: HD/32 k-steps of 32 bytes inside the 128B swizzle atom.
    b.line("nvvm.wgmma.fence.aligned");
    let mut sacc = szero.clone();
    for kk in 0..plan.hd / 32 {
        let da = wgmma::advance(&mut b, &dq, kk * 32);
        let db = wgmma::advance(&mut b, &dk, kk * 32);
        let out = if kk == 0 { "zero" } else { "one" };
        sacc = b.op(
            "sacc",
            format!(
                "nvvm.wgmma.mma_async {da}, {db}, {sacc}, #nvvm.shape<m = 64, n = {}, k = 32>, D [<f32>, #nvvm.wgmma_scale_out<{out}>], A [<e4m3>, #nvvm.wgmma_scale_in<one>, <row>], B [<e4m3>, #nvvm.wgmma_scale_in<one>, <col>] : !sacc -> !sacc",
                plan.bn
            ),
        );
    }
    b.line("nvvm.wgmma.commit.group.sync.aligned");

    // Meanwhile: Vᵀ for the P·V product (the previous tile's P·V finished before the barrier that
    // ended the last iteration, so Vᵀ is free).
    let kvb = b.i32(plan.kv_bytes as i64);
    let voff = b.op("so", format!("arith.addi {koff}, {kvb} : i32"));
    let vraw = b.op(
        "vraw",
        format!("llvm.getelementptr {smem}[{voff}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
    );
    transpose_v(&mut b, &cx, &tid, &vraw, &vt);
    fence_proxy_async(&mut b);
    b.line("nvvm.wgmma.wait.group.sync.aligned 0");
    let sacc = reg_fence(&mut b, &sacc, plan.bn / 2, "!sacc");
    b.line("nvvm.barrier0");

    // Online softmax on the fragment.
    let n0 = b.op("n0", format!("arith.muli {t}, {bnc} : i32"));
    let cb = b.op("cb", format!("arith.addi {n0}, {} : i32", cx.geo.col_base));
    let nregs = plan.bn / 2;
    let mut sv_masked = Vec::new();
    for i in 0..nregs {
        let (h, j, e) = ((i / 2) % 2, i / 4, i % 2);
        let x = b.op("sx", format!("llvm.extractvalue {sacc}[{i}] : !sacc"));
        let xs = b.op("sx", format!("arith.mulf {x}, {qk} : f32"));
        let ce = b.i32((8 * j + e) as i64);
        let col = b.op("col", format!("arith.addi {cb}, {ce} : i32"));
        let in_s = b.op("keep", format!("arith.cmpi slt, {col}, {seq} : i32"));
        let le = b.op(
            "keep",
            format!("arith.cmpi sle, {col}, {} : i32", rows[h as usize]),
        );
        let ok = b.op("keep", format!("arith.ori {nc}, {le} : i1"));
        let keep = b.op("keep", format!("arith.andi {in_s}, {ok} : i1"));
        sv_masked.push(b.op("sv", format!("arith.select {keep}, {xs}, {ninf} : f32")));
    }
    let mut mnew = Vec::new();
    let mut alpha = Vec::new();
    for h in 0..2u32 {
        let mut m = mx[h as usize].clone();
        for i in (0..nregs).filter(|i| (i / 2) % 2 == h) {
            m = b.op(
                "rm",
                format!("arith.maxnumf {m}, {} : f32", sv_masked[i as usize]),
            );
        }
        // The running max is already in `m`; combining it across the quad is harmless.
        let m = quad_reduce(&mut b, &m, "arith.maxnumf");
        let d = b.op("al", format!("arith.subf {}, {m} : f32", mx[h as usize]));
        alpha.push(b.op(
            "al",
            format!("llvm.call_intrinsic \"llvm.nvvm.ex2.approx.f32\"({d}) : (f32) -> f32"),
        ));
        mnew.push(m);
    }
    let mut p = Vec::new();
    for i in 0..nregs {
        let h = ((i / 2) % 2) as usize;
        let d = b.op(
            "pd",
            format!("arith.subf {}, {} : f32", sv_masked[i as usize], mnew[h]),
        );
        p.push(b.op(
            "p",
            format!("llvm.call_intrinsic \"llvm.nvvm.ex2.approx.f32\"({d}) : (f32) -> f32"),
        ));
    }
    let mut lnew = Vec::new();
    for h in 0..2u32 {
        let mut sum = fzero.clone();
        for i in (0..nregs).filter(|i| (i / 2) % 2 == h) {
            sum = b.op("rs", format!("arith.addf {sum}, {} : f32", p[i as usize]));
        }
        let sum = quad_reduce(&mut b, &sum, "arith.addf");
        let la = b.op(
            "l",
            format!("arith.mulf {}, {} : f32", ls[h as usize], alpha[h as usize]),
        );
        lnew.push(b.op("l", format!("arith.addf {la}, {sum} : f32")));
    }
    // P·V per 32 keys: registers a0..a3 (layout.rs) against the Vᵀ descriptor 32 bytes on, into
    // a fresh partial (scale-d = 0 first): the f32 promotion `O = O * alpha + partial` then runs
    // in registers like the reference's `acc * alpha + dot(p, v)`, so the fp8 wgmma's shorter
    // accumulator never carries O across key tiles.
    let pr = |h: u32, j: u32, e: u32| p[reg_index(h, j, e) as usize].as_str();
    let mut regs = Vec::new();
    for c in 0..plan.bn / 32 {
        let (j0, j2) = (4 * c, 4 * c + 2);
        let mut a = Vec::new();
        for (h, j) in [(0, j0), (1, j0), (0, j2), (1, j2)] {
            let vals = [pr(h, j, 0), pr(h, j, 1), pr(h, j + 1, 0), pr(h, j + 1, 1)];
            a.push(pack4(&mut b, vals));
        }
        regs.push([a[0].clone(), a[1].clone(), a[2].clone(), a[3].clone()]);
    }
    b.line("nvvm.wgmma.fence.aligned");
    let mut part = o0.clone();
    for (c, a) in regs.iter().enumerate() {
        let db = wgmma::advance(&mut b, &dvt, c as u32 * 32);
        part = mma_reg_a(&mut b, plan, &part, a, &db, c == 0);
    }
    b.line("nvvm.wgmma.commit.group.sync.aligned");
    b.line("nvvm.wgmma.wait.group.sync.aligned 0");
    let part = reg_fence(&mut b, &part, plan.hd / 2, "!oacc");
    let mut o = oacc.clone();
    for i in 0..plan.hd / 2 {
        let h = ((i / 2) % 2) as usize;
        let v = b.op("ov", format!("llvm.extractvalue {oacc}[{i}] : !oacc"));
        let r = b.op("ov", format!("arith.mulf {v}, {} : f32", alpha[h]));
        let d = b.op("ov", format!("llvm.extractvalue {part}[{i}] : !oacc"));
        let n = b.op("ov", format!("arith.addf {r}, {d} : f32"));
        o = b.op("o", format!("llvm.insertvalue {n}, {o}[{i}] : !oacc"));
    }
    // Every warpgroup is done with this stage and with Vᵀ before either is overwritten.
    b.line("nvvm.barrier0");
    let nxt = b.op("tn", format!("arith.addi {t}, {stages} : i32"));
    let more = b.op("tn", format!("arith.cmpi slt, {nxt}, {nt} : i32"));
    let go = b.op("tn", format!("arith.andi {}, {more} : i1", cx.geo.is0));
    b.open(format!("scf.if {go}"));
    // Generic-proxy reads of the stage (the V transpose) come before the async-proxy refill.
    fence_proxy_async(&mut b);
    produce(&mut b, &cx, &nxt, &s);
    b.close("");
    b.line(format!(
        "scf.yield {}, {}, {}, {}, {o} : f32, f32, f32, f32, !oacc",
        mnew[0], mnew[1], lnew[0], lnew[1]
    ));
    b.close("");

    // Epilogue: O * scale_v / l, bf16, rows >= S not stored.
    let seq64 = b.op("e", format!("arith.extsi {seq} : i32 to i64"));
    let bh64 = b.op("e", format!("arith.extsi {bh} : i32 to i64"));
    let hd64 = b.i64(plan.hd as i64);
    for (h, row) in rows.iter().enumerate() {
        let valid = b.op("e", format!("arith.cmpi slt, {row}, {seq} : i32"));
        b.open(format!("scf.if {valid}"));
        let r64 = b.op("e", format!("arith.extsi {row} : i32 to i64"));
        let a1 = b.op("e", format!("arith.muli {bh64}, {seq64} : i64"));
        let a2 = b.op("e", format!("arith.addi {a1}, {r64} : i64"));
        let rowoff = b.op("e", format!("arith.muli {a2}, {hd64} : i64"));
        let cb64 = b.op("e", format!("arith.extui {} : i32 to i64", cx.geo.col_base));
        let rb = b.op("e", format!("arith.addi {rowoff}, {cb64} : i64"));
        let lh = format!("{res}#{}", 2 + h);
        for j in 0..plan.hd / 8 {
            for e in 0..2 {
                let i = reg_index(h as u32, j, e);
                let v = b.op("ev", format!("llvm.extractvalue {res}#4[{i}] : !oacc"));
                let vs = b.op("ev", format!("arith.mulf {v}, {sv} : f32"));
                let vn = b.op("ev", format!("arith.divf {vs}, {lh} : f32"));
                let bf = b.op("ev", format!("arith.truncf {vn} : f32 to bf16"));
                let ce = b.i64((8 * j + e) as i64);
                let off = b.op("ev", format!("arith.addi {rb}, {ce} : i64"));
                let ptr = b.op(
                    "ev",
                    format!("llvm.getelementptr {out}[{off}] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, bf16"),
                );
                b.line(format!("llvm.store {bf}, {ptr} : bf16, !llvm.ptr<1>"));
            }
        }
        b.close("");
    }
    b.line("llvm.return");
    Ok(b)
}
