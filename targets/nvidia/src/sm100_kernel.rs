//! MLIR (LLVM dialect + NVVM) for a block-scaled GEMM on sm_100a with tcgen05: one CTA of 128
//! threads per 128x128 output tile, accumulator in tensor memory, K walked 128 elements (A/B rows
//! of 128 bytes for fp8, 64 for packed fp4) per iteration:
//!
//! 1. every thread bulk-copies (`cp.async.bulk`, the TMA engine) its A row and B row into shared
//!    memory in the K-major no-swizzle core-matrix layout (8 rows x 16 bytes per core matrix,
//!    LBO = 128 B along K, SBO = 1024 B along M) and thread 0 the two 512-byte nv128x4 scale atoms
//!    of this K-atom; completion is counted by an mbarrier (`arrive.expect_tx`), rows past M/N are
//!    zero-filled instead;
//! 2. thread 0 copies the scale atoms to tensor memory (`tcgen05.cp .32x128b.warpx4`), issues the
//!    block-scaled MMAs (the instruction descriptor's scale-factor ids step through the four
//!    K-blocks of each 32-bit TMEM scale cell) and commits to a second mbarrier;
//! 3. all threads wait for the MMAs before the buffers are reused; after the loop each warp reads
//!    its 32 TMEM lanes (`tcgen05.ld .32x32b`) and stores its rows; warp 0 deallocates.
//!
//! ABI: [`GemmAbi::params`], grid `(ceil(M/128), ceil(N/128))`, 128 threads; K a multiple of the
//! iteration's K (128 fp8 / 256 fp4). An unscaled operand gets scale atoms of 2^0 written once
//! into shared memory (the block-scaled MMA then computes the plain product at the same rate).
//! Compile-only: descriptor bit-fields and the TMEM scale layout were never run (docs/TARGETS.md).

use crate::sm100::Sm100Plan;
use tessera_lowering_mlir::native_scaled::{GemmAbi, Ix, MlirText, ks_pad};

const TILE: u32 = Sm100Plan::TILE;
const ROW_BYTES: u32 = Sm100Plan::ROW_BYTES;
const TMEM_COLS: u32 = 256;

/// Emit `e` (lane = the thread id) into `t`, SSA names prefixed with `tag`; returns the result's name.
fn ix(t: &mut String, tag: &str, e: &Ix, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut m = MlirText::with_prefix(tag);
    let lookup = |v: &str| vars.iter().find(|(k, _)| *k == v).map(|(_, s)| s.to_string());
    let r = m.emit_ix(e, "%tid", &lookup)?;
    t.push_str(&m.finish());
    Ok(r)
}

/// Generate kernel `name`. `Err` only for a lane map that uses an unbound variable (a bug).
pub fn gemm_mlir(name: &str, g: &Sm100Plan, abi: &GemmAbi) -> Result<String, String> {
    let k_elems = g.k_per_iter();
    let mmas = g.mmas();
    let atoms = g.atoms_per_iter();
    let tile_bytes = TILE * ROW_BYTES;
    let mut t = String::new();
    let mut t_extra = String::new();
    let mut l = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    l("module {".into());
    for (sym, ty, align) in [
        ("slot", "i32".to_string(), 4),
        ("bars", "!llvm.array<2 x i64>".to_string(), 8),
        ("sa", format!("!llvm.array<{tile_bytes} x i8>"), 1024),
        ("sb", format!("!llvm.array<{tile_bytes} x i8>"), 1024),
        ("sfa", format!("!llvm.array<{} x i8>", 512 * atoms), 128),
        ("sfb", format!("!llvm.array<{} x i8>", 512 * atoms), 128),
    ] {
        l(format!(
            "  llvm.mlir.global internal @{name}_{sym}() {{addr_space = 3 : i32, alignment = {align} : i64}} : {ty}"
        ));
    }
    l(format!(
        "  llvm.func @{name}({}) attributes {{nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>}} {{",
        abi.params()
    ));
    let consts: [(&str, i64, &str); 16] = [
        ("c0", 0, "i32"),
        ("c1", 1, "i32"),
        ("c4", 4, "i32"),
        ("c5", 5, "i32"),
        ("c8", 8, "i32"),
        ("c16", 16, "i32"),
        ("c32", 32, "i32"),
        ("c128", 128, "i32"),
        ("c512", 512, "i32"),
        ("c1024", 1024, "i32"),
        ("crow", ROW_BYTES as i64, "i32"),
        ("ckel", k_elems as i64, "i32"),
        ("cncol", TMEM_COLS as i64, "i32"),
        ("cticks", 1_000_000, "i32"),
        ("b0", 0, "i8"),
        ("f0", 0, "i1"),
    ];
    for (n, v, ty) in consts {
        l(format!("    %{n} = llvm.mlir.constant({v} : {ty}) : {ty}"));
    }
    l("    %t1 = llvm.mlir.constant(true) : i1".into());
    for sym in ["slot", "bars", "sa", "sb", "sfa", "sfb"] {
        l(format!(
            "    %{sym} = llvm.mlir.addressof @{name}_{sym} : !llvm.ptr<3>"
        ));
    }
    l(
        "    %tmabar = llvm.getelementptr %bars[0, 0] : (!llvm.ptr<3>) -> !llvm.ptr<3>, !llvm.array<2 x i64>"
            .into(),
    );
    l(
        "    %mmabar = llvm.getelementptr %bars[0, 1] : (!llvm.ptr<3>) -> !llvm.ptr<3>, !llvm.array<2 x i64>"
            .into(),
    );
    l("    %tid = nvvm.read.ptx.sreg.tid.x : i32".into());
    let ks = ix(&mut t_extra, "ksp", &ks_pad(g.block(), 4), &[("K", "%K")])?;
    l(std::mem::take(&mut t_extra));
    l("    %tm = nvvm.read.ptx.sreg.ctaid.x : i32".into());
    l("    %tn = nvvm.read.ptx.sreg.ctaid.y : i32".into());
    l("    %m0 = llvm.mul %tm, %c128 : i32".into());
    l("    %n0 = llvm.mul %tn, %c128 : i32".into());
    l("    %warp = llvm.lshr %tid, %c5 : i32".into());
    l("    %isw0 = llvm.icmp \"eq\" %warp, %c0 : i32".into());
    l("    %ist0 = llvm.icmp \"eq\" %tid, %c0 : i32".into());
    // Bytes per stored row: K * bits / 8 (fp4 packed two per byte).
    l(format!(
        "    %cbits = llvm.mlir.constant({} : i32) : i32",
        g.elem_bits()
    ));
    l("    %kbits = llvm.mul %K, %cbits : i32".into());
    l("    %rowstride = llvm.udiv %kbits, %c8 : i32".into());
    l("    llvm.cond_br %isw0, ^alloc, ^sync".into());
    l("  ^alloc:".into());
    l("    nvvm.tcgen05.alloc %slot, %cncol : !llvm.ptr<3>, i32".into());
    l("    nvvm.tcgen05.relinquish_alloc_permit".into());
    l("    llvm.cond_br %ist0, ^initbar, ^sync".into());
    l("  ^initbar:".into());
    l("    nvvm.mbarrier.init %tmabar, %c128 : !llvm.ptr<3>, i32".into());
    l("    nvvm.mbarrier.init %mmabar, %c1 : !llvm.ptr<3>, i32".into());
    l("    nvvm.fence.mbarrier.init".into());
    // Operands without scales: their atoms hold 2^0 (0x7F) for the whole kernel.
    for (op, scaled) in [("a", abi.scaled_a), ("b", abi.scaled_b)] {
        if scaled {
            continue;
        }
        l("    %neutral = llvm.mlir.constant(2139062143 : i32) : i32"
            .replace("%neutral", &format!("%neutral{op}")));
        for w in 0..(128 * atoms) {
            l(format!(
                "    %nw{op}{w} = llvm.getelementptr %sf{op}[{}] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8",
                4 * w
            ));
            l(format!(
                "    llvm.store %neutral{op}, %nw{op}{w} {{alignment = 4 : i64}} : i32, !llvm.ptr<3>"
            ));
        }
    }
    l("    llvm.br ^sync".into());
    l("  ^sync:".into());
    l("    nvvm.tcgen05.fence #nvvm.tcgen05_fence<before>".into());
    l("    nvvm.barrier0".into());
    l("    nvvm.tcgen05.fence #nvvm.tcgen05_fence<after>".into());
    l("    %taddr = llvm.load %slot : !llvm.ptr<3> -> i32".into());
    l("    %dt = llvm.inttoptr %taddr : i32 to !llvm.ptr<6>".into());
    // Scale atom j of A / B at the plan's TMEM columns.
    for op in ["a", "b"] {
        for j in 0..atoms {
            let col = if op == "a" { g.sfa_col(j) } else { g.sfb_col(j) };
            l(format!("    %sf{op}c{j} = llvm.mlir.constant({col} : i32) : i32"));
            l(format!("    %sf{op}i{j} = llvm.add %taddr, %sf{op}c{j} : i32"));
            l(format!(
                "    %sf{op}t{j} = llvm.inttoptr %sf{op}i{j} : i32 to !llvm.ptr<6>"
            ));
        }
    }
    l("    llvm.br ^loop(%c0, %c0 : i32, i32)".into());
    l("  ^loop(%k0: i32, %phase: i32):".into());
    l("    %more = llvm.icmp \"ult\" %k0, %K : i32".into());
    l("    llvm.cond_br %more, ^copy, ^epi".into());
    // 1. operand rows: thread t copies A row m0+t and B row n0+t (8 x 16-byte chunks each).
    l("  ^copy:".into());
    l("    %kb0 = llvm.mul %k0, %crow : i32".into());
    l("    %kbyte0 = llvm.udiv %kb0, %ckel : i32".into());
    let mut chunk_off = Vec::new();
    for ch in 0..(ROW_BYTES / 16) {
        chunk_off.push(ix(&mut t_extra, &format!("ch{ch}"), &g.smem_chunk(ch), &[])?);
    }
    l(std::mem::take(&mut t_extra));
    for (op, buf, sm, base, lim) in [("a", "%a", "%sa", "%m0", "%M"), ("b", "%b", "%sb", "%n0", "%N")] {
        l(format!("    %{op}row = llvm.add {base}, %tid : i32"));
        l(format!("    %{op}in = llvm.icmp \"ult\" %{op}row, {lim} : i32"));
        l(format!("    %{op}goff0 = llvm.mul %{op}row, %rowstride : i32"));
        l(format!("    %{op}goff = llvm.add %{op}goff0, %kbyte0 : i32"));
        for ch in 0..(ROW_BYTES / 16) {
            l(format!(
                "    %{op}cc{ch} = llvm.mlir.constant({} : i32) : i32",
                ch * 16
            ));
            l(format!(
                "    %{op}sp{ch} = llvm.getelementptr {sm}[{}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8",
                chunk_off[ch as usize]
            ));
        }
        l(format!("    llvm.cond_br %{op}in, ^{op}bulk, ^{op}zero"));
        l(format!("  ^{op}bulk:"));
        for ch in 0..(ROW_BYTES / 16) {
            l(format!("    %{op}go{ch} = llvm.add %{op}goff, %{op}cc{ch} : i32"));
            l(format!(
                "    %{op}gp{ch} = llvm.getelementptr {buf}[%{op}go{ch}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"
            ));
            l(format!(
                "    nvvm.cp.async.bulk.shared.cluster.global %{op}sp{ch}, %{op}gp{ch}, %tmabar, %c16 : !llvm.ptr<3>, !llvm.ptr<1>"
            ));
        }
        l(format!("    llvm.br ^{op}done"));
        l(format!("  ^{op}zero:"));
        l(format!("    %{op}z = llvm.mlir.zero : vector<4xi32>"));
        for ch in 0..(ROW_BYTES / 16) {
            l(format!(
                "    llvm.store %{op}z, %{op}sp{ch} {{alignment = 16 : i64}} : vector<4xi32>, !llvm.ptr<3>"
            ));
        }
        l(format!("    llvm.br ^{op}done"));
        l(format!("  ^{op}done:"));
    }
    // Bytes this thread's copies will complete, announced before waiting.
    l("    %atx = llvm.select %ain, %crow, %c0 : i1, i32".into());
    l("    %btx = llvm.select %bin, %crow, %c0 : i1, i32".into());
    l("    %tx0 = llvm.add %atx, %btx : i32".into());
    l("    llvm.cond_br %ist0, ^scales, ^arrive(%tx0 : i32)".into());
    // Thread 0: the nv128x4 atoms (tile, k-atom) of both scale tensors, 512 bytes each.
    l("  ^scales:".into());
    l("    %iter = llvm.udiv %k0, %ckel : i32".into());
    let mut sf_bytes = 0;
    for (op, buf, sm, tile, scaled) in [
        ("a", "%scale_a", "%sfa", "%tm", abi.scaled_a),
        ("b", "%scale_b", "%sfb", "%tn", abi.scaled_b),
    ] {
        if !scaled {
            continue;
        }
        sf_bytes += 512 * atoms;
        for j in 0..atoms {
            let off = ix(
                &mut t_extra,
                &format!("s{op}{j}"),
                &g.scale_atom(j),
                &[("tile", tile), ("iter", "%iter"), ("ks_pad", &ks)],
            )?;
            l(std::mem::take(&mut t_extra));
            l(format!(
                "    %{op}sgp{j} = llvm.getelementptr {buf}[{off}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"
            ));
            l(format!(
                "    %{op}ssp{j} = llvm.getelementptr {sm}[{}] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8",
                512 * j
            ));
            l(format!(
                "    nvvm.cp.async.bulk.shared.cluster.global %{op}ssp{j}, %{op}sgp{j}, %tmabar, %c512 : !llvm.ptr<3>, !llvm.ptr<1>"
            ));
        }
    }
    l(format!("    %sftx = llvm.mlir.constant({sf_bytes} : i32) : i32"));
    l("    %tx1 = llvm.add %tx0, %sftx : i32".into());
    l("    llvm.br ^arrive(%tx1 : i32)".into());
    l("  ^arrive(%tx: i32):".into());
    l("    nvvm.mbarrier.arrive.expect_tx %tmabar, %tx : !llvm.ptr<3>, i32".into());
    l("    nvvm.mbarrier.try_wait.parity %tmabar, %phase, %cticks : !llvm.ptr<3>, i32, i32".into());
    // Zero-filled rows were written by the generic proxy; the MMA reads through the async proxy.
    l(
        "    nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}"
            .into(),
    );
    l("    nvvm.barrier0".into());
    l("    llvm.cond_br %ist0, ^issue, ^waitmma".into());
    // 2. scales to TMEM, then the MMAs (single thread).
    l("  ^issue:".into());
    l("    nvvm.tcgen05.fence #nvvm.tcgen05_fence<after>".into());
    l("    %sb_lbo = llvm.mlir.constant(128 : i32) : i32".into());
    for (op, sm) in [("a", "%sfa"), ("b", "%sfb")] {
        l(format!(
            "    %{op}sf32 = llvm.ptrtoint {sm} : !llvm.ptr<3> to i32"
        ));
        for j in 0..atoms {
            l(format!(
                "    %{op}sfo{j} = llvm.mlir.constant({} : i32) : i32",
                512 * j
            ));
            l(format!("    %{op}sfa{j} = llvm.add %{op}sf32, %{op}sfo{j} : i32"));
            l(format!(
                "    %{op}sfd{j} = nvvm.tcgen05.mma_smem_desc (%{op}sfa{j}, %c16, %c128, %b0, %f0, %b0) : (i32, i32, i32, i8, i1, i8) -> i64"
            ));
            l(format!(
                "    nvvm.tcgen05.cp %sf{op}t{j}, %{op}sfd{j} {{shape = #nvvm.tcgen05_cp_shape<shape_32x128b>, multicast = #nvvm.tcgen05_cp_multicast<warpx4>}}"
            ));
        }
    }
    l("    %sa32 = llvm.ptrtoint %sa : !llvm.ptr<3> to i32".into());
    l("    %sb32 = llvm.ptrtoint %sb : !llvm.ptr<3> to i32".into());
    l("    %lbo = llvm.mlir.constant(128 : i32) : i32".into());
    l("    %notfirst = llvm.icmp \"ne\" %k0, %c0 : i32".into());
    for s in 0..mmas {
        let desc = g.idesc(s);
        let (atom, _) = g.mma_scales(s);
        l(format!(
            "    %koff{s} = llvm.mlir.constant({} : i32) : i32",
            g.desc_advance(s)
        ));
        l(format!("    %aa{s} = llvm.add %sa32, %koff{s} : i32"));
        l(format!("    %ba{s} = llvm.add %sb32, %koff{s} : i32"));
        l(format!(
            "    %da{s} = nvvm.tcgen05.mma_smem_desc (%aa{s}, %lbo, %c1024, %b0, %f0, %b0) : (i32, i32, i32, i8, i1, i8) -> i64"
        ));
        l(format!(
            "    %db{s} = nvvm.tcgen05.mma_smem_desc (%ba{s}, %lbo, %c1024, %b0, %f0, %b0) : (i32, i32, i32, i8, i1, i8) -> i64"
        ));
        l(format!("    %id{s} = llvm.mlir.constant({desc} : i32) : i32"));
        let acc = if s == 0 {
            "%notfirst".to_string()
        } else {
            "%t1".to_string()
        };
        l(format!(
            "    nvvm.tcgen05.mma.block_scale %dt, %da{s}, %db{s}, %id{s}, {acc}, %sfat{atom}, %sfbt{atom} {{{}}} : (!llvm.ptr<6>, i64, i64, i32, i1, !llvm.ptr<6>, !llvm.ptr<6>)",
            g.kind.mlir_attrs()
        ));
    }
    l("    nvvm.tcgen05.commit %mmabar : !llvm.ptr<3>".into());
    l("    llvm.br ^waitmma".into());
    // 3. nobody refills shared memory before the MMAs have read it.
    l("  ^waitmma:".into());
    l("    nvvm.mbarrier.try_wait.parity %mmabar, %phase, %cticks : !llvm.ptr<3>, i32, i32".into());
    l("    nvvm.tcgen05.fence #nvvm.tcgen05_fence<after>".into());
    l("    %k1 = llvm.add %k0, %ckel : i32".into());
    l("    %ph1 = llvm.xor %phase, %c1 : i32".into());
    l("    llvm.br ^loop(%k1, %ph1 : i32, i32)".into());
    // Epilogue: warp w owns TMEM lanes (rows) 32w..32w+31; 8 loads of 16 columns each.
    l("  ^epi:".into());
    l("    %lane0 = llvm.mul %warp, %c32 : i32".into());
    l("    %lanesh = llvm.shl %lane0, %c16 : i32".into());
    l("    %rowbase = llvm.add %taddr, %lanesh : i32".into());
    l("    %row = llvm.add %m0, %tid : i32".into());
    l("    %rowok = llvm.icmp \"ult\" %row, %M : i32".into());
    l("    %crowoff = llvm.mul %row, %N : i32".into());
    for q in 0..(TILE / 16) {
        l(format!("    %qc{q} = llvm.mlir.constant({} : i32) : i32", q * 16));
        l(format!("    %qa{q} = llvm.add %rowbase, %qc{q} : i32"));
        l(format!("    %qp{q} = llvm.inttoptr %qa{q} : i32 to !llvm.ptr<6>"));
        l(format!(
            "    %qv{q} = nvvm.tcgen05.ld %qp{q} {{shape = #nvvm.tcgen05_ldst_shape<shape_32x32b>}} : vector<16xi32>"
        ));
    }
    l("    nvvm.tcgen05.wait #nvvm.tcgen05_wait<load>".into());
    for q in 0..(TILE / 16) {
        l(format!(
            "    %qf{q} = llvm.bitcast %qv{q} : vector<16xi32> to vector<16xf32>"
        ));
        for e in 0..16 {
            let col = q * 16 + e;
            l(format!("    %ce{col} = llvm.mlir.constant({col} : i32) : i32"));
            l(format!("    %gc{col} = llvm.add %n0, %ce{col} : i32"));
            l(format!("    %cok{col} = llvm.icmp \"ult\" %gc{col}, %N : i32"));
            l(format!("    %ok{col} = llvm.and %rowok, %cok{col} : i1"));
            l(format!("    llvm.cond_br %ok{col}, ^st{col}, ^nx{col}"));
            l(format!("  ^st{col}:"));
            l(format!("    %ei{col} = llvm.mlir.constant({e} : i32) : i32"));
            l(format!(
                "    %x{col} = llvm.extractelement %qf{q}[%ei{col} : i32] : vector<16xf32>"
            ));
            l(format!("    %o{col} = llvm.add %crowoff, %gc{col} : i32"));
            let mut st = MlirText::with_prefix(&format!("e{col}"));
            abi.emit_store(&mut st, &format!("%x{col}"), &format!("%o{col}"))?;
            l(st.finish());
            l(format!("    llvm.br ^nx{col}"));
            l(format!("  ^nx{col}:"));
        }
    }
    l("    nvvm.tcgen05.fence #nvvm.tcgen05_fence<before>".into());
    l("    nvvm.barrier0".into());
    l("    llvm.cond_br %isw0, ^dealloc, ^done".into());
    l("  ^dealloc:".into());
    l("    nvvm.tcgen05.dealloc %dt, %cncol : !llvm.ptr<6>, i32".into());
    l("    llvm.br ^done".into());
    l("  ^done:".into());
    l("    llvm.return".into());
    l("  }".into());
    l("}".into());
    Ok(t)
}
