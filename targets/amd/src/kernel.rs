//! MLIR (LLVM dialect + ROCDL) for a scaled-GEMM kernel on gfx950, generated from a
//! [`GemmTilePlan`]. `C[M, N] (f32) = sum_k (A[m, k] * sa[m, k/32]) * (B[n, k] * sb[n, k/32])`
//! with A `[M, K]` and B `[N, K]` stored K-contiguous (FP4 packed two per byte along K) and both
//! scale tensors prepacked in the atom's `amd_lane*` layout. Rows/columns past M/N and K past the
//! end are masked (zero data; the prepacked padding holds neutral scales).
//!
//! Kernel ABI: [`GemmAbi::params`] (`a, [scale_a,] b, [scale_b,] c, M, N, K[, ga, gb]`), grid
//! `(ceil(M/MN), ceil(N/MN))` workgroups of 64 lanes, K a multiple of 32 (whole MX blocks). The
//! padded scale-K of each scale buffer is computed from K in the kernel. A plain (unscaled) fp8
//! operand uses the same OCP-fp8 scaled MFMA with the neutral scale 2^0 (0x7F) in every byte.

use crate::error::AmdError;
use crate::mfma::{OPSEL_STEPS, WAVE};
use crate::plan::{GemmTilePlan, OperandPlan};
use tessera_lowering_mlir::native_scaled::{GemmAbi, Ix, MlirText, ks_pad};

/// Generate the module text for kernel `name`.
pub fn scaled_gemm_mlir(name: &str, plan: &GemmTilePlan, abi: &GemmAbi) -> Result<String, AmdError> {
    let shape = plan.atom.shape;
    let regs = shape.acc_regs();
    let acc_ty = format!("vector<{regs}xf32>");
    let mut m = MlirText::new();
    m.line("module attributes {llvm.target_triple = \"amdgcn-amd-amdhsa\"} {");
    for (op, p) in [("a", &plan.a), ("b", &plan.b)] {
        m.line(format!(
            "  llvm.mlir.global internal @{name}_lds_{op}() {{addr_space = 3 : i32, alignment = 16 : i64}} : !llvm.array<{} x i8>",
            shape.mn() * p.row_bytes
        ));
    }
    m.line(format!(
        "  llvm.func @{name}({}) attributes {{rocdl.kernel, rocdl.flat_work_group_size = \"{WAVE},{WAVE}\"}} {{",
        abi.params()
    ));
    m.line("    %lane = rocdl.workitem.id.x : i32");
    m.line("    %tile_m = rocdl.workgroup.id.x : i32");
    m.line("    %tile_n = rocdl.workgroup.id.y : i32");
    let mn = m.i32(shape.mn() as i64);
    let m0 = m.op2("mul", "%tile_m", &mn);
    let n0 = m.op2("mul", "%tile_n", &mn);
    // Bytes per row of A / B in global memory (FP4: two elements per byte).
    let kbytes_a = row_stride(&mut m, plan.a.fmt.bits());
    let kbytes_b = row_stride(&mut m, plan.b.fmt.bits());
    m.line(format!(
        "    %lds_a = llvm.mlir.addressof @{name}_lds_a : !llvm.ptr<3>"
    ));
    m.line(format!(
        "    %lds_b = llvm.mlir.addressof @{name}_lds_b : !llvm.ptr<3>"
    ));
    let ks = emit(&mut m, &ks_pad(32, plan.atom_ks()), &[("K", "%K")])?;
    let zero = m.i32(0);
    m.line(format!("    %acc0 = llvm.mlir.zero : {acc_ty}"));
    m.line(format!(
        "    llvm.br ^loop({zero}, {zero}, %acc0 : i32, i32, {acc_ty})"
    ));
    m.line(format!("  ^loop(%k0: i32, %sb: i32, %acc: {acc_ty}):"));
    m.line("    %more = llvm.icmp \"ult\" %k0, %K : i32");
    m.line("    llvm.cond_br %more, ^body, ^done");
    m.line("  ^body:");
    let swa = if abi.scaled_a {
        scale_load(&mut m, &plan.a, "%scale_a", "%tile_m", &ks)?
    } else {
        m.i32(NEUTRAL)
    };
    let swb = if abi.scaled_b {
        scale_load(&mut m, &plan.b, "%scale_b", "%tile_n", &ks)?
    } else {
        m.i32(NEUTRAL)
    };
    let mut acc = "%acc".to_string();
    for step in 0..OPSEL_STEPS {
        let kstep = m.i32((step * shape.k()) as i64);
        let ks = m.op2("add", "%k0", &kstep);
        // Wait until every lane finished reading the previous step before overwriting LDS.
        m.line("    rocdl.barrier");
        stage(&mut m, &plan.a, "%a", "%lds_a", &m0, "%M", &kbytes_a, &ks)?;
        stage(&mut m, &plan.b, "%b", "%lds_b", &n0, "%N", &kbytes_b, &ks)?;
        m.line("    rocdl.barrier");
        let va = read_operand(&mut m, &plan.a, "%lds_a")?;
        let vb = read_operand(&mut m, &plan.b, "%lds_b")?;
        let fa = m.i32(plan.a.fmt.code() as i64);
        let fb = m.i32(plan.b.fmt.code() as i64);
        let opsel = m.i32(step as i64);
        let d = m.fresh("d");
        m.line(format!(
            "    {d} = {} {va}, {vb}, {acc}, {fa}, {fb}, {opsel}, {swa}, {opsel}, {swb} : (vector<{}xi32>, vector<{}xi32>, {acc_ty}, i32, i32, i32, i32, i32, i32) -> {acc_ty}",
            shape.rocdl_op(),
            plan.a.fmt.words(),
            plan.b.fmt.words()
        ));
        acc = d;
    }
    let sbk = m.i32(plan.superblock_k() as i64);
    let k1 = m.op2("add", "%k0", &sbk);
    let one = m.i32(1);
    let sb1 = m.op2("add", "%sb", &one);
    m.line(format!(
        "    llvm.br ^loop({k1}, {sb1}, {acc} : i32, i32, {acc_ty})"
    ));
    m.line("  ^done:");
    store_acc(&mut m, plan, abi, &m0, &n0, &acc_ty)?;
    m.line("    llvm.return");
    m.line("  }");
    m.line("}");
    Ok(m.finish())
}

/// Four e8m0 bytes of 2^0: the scale of an operand that has none.
const NEUTRAL: i64 = 0x7F7F_7F7F;

/// `K * bits / 8` as i32 (bytes per K-contiguous row).
fn row_stride(m: &mut MlirText, bits: u32) -> String {
    let b = m.i32(bits as i64);
    let kb = m.op2("mul", "%K", &b);
    let eight = m.i32(8);
    m.op2("udiv", &kb, &eight)
}

fn emit(m: &mut MlirText, ix: &Ix, vars: &[(&str, &str)]) -> Result<String, AmdError> {
    let lookup = |v: &str| vars.iter().find(|(k, _)| *k == v).map(|(_, s)| s.to_string());
    m.emit_ix(ix, "%lane", &lookup).map_err(AmdError::LaneMap)
}

fn scale_load(
    m: &mut MlirText,
    p: &OperandPlan,
    buf: &str,
    tile: &str,
    ks_pad: &str,
) -> Result<String, AmdError> {
    let off = emit(
        m,
        &p.scale_word,
        &[("tile", tile), ("sb", "%sb"), ("ks_pad", ks_pad)],
    )?;
    let ptr = m.fresh("sp");
    m.line(format!(
        "    {ptr} = llvm.getelementptr {buf}[{off}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"
    ));
    let w = m.fresh("sw");
    m.line(format!(
        "    {w} = llvm.load {ptr} {{alignment = 4 : i64}} : !llvm.ptr<1> -> i32"
    ));
    Ok(w)
}

/// Masked global → LDS copy of one step tile of an operand.
#[allow(clippy::too_many_arguments)]
fn stage(
    m: &mut MlirText,
    p: &OperandPlan,
    src: &str,
    lds: &str,
    row0: &str,
    rows: &str,
    kbytes: &str,
    k_elems: &str,
) -> Result<(), AmdError> {
    let bits = m.i32(p.fmt.bits() as i64);
    let kb = m.op2("mul", k_elems, &bits);
    let eight = m.i32(8);
    let kbyte0 = m.op2("udiv", &kb, &eight);
    for w in 0..p.copy_row.len() {
        let row = emit(m, &p.copy_row[w], &[])?;
        let kbyte = emit(m, &p.copy_kbyte[w], &[])?;
        let grow = m.op2("add", row0, &row);
        let gk = m.op2("add", &kbyte0, &kbyte);
        let in_r = m.fresh("inr");
        m.line(format!("    {in_r} = llvm.icmp \"ult\" {grow}, {rows} : i32"));
        let in_k = m.fresh("ink");
        m.line(format!("    {in_k} = llvm.icmp \"ult\" {gk}, {kbytes} : i32"));
        let inb = m.fresh("inb");
        m.line(format!("    {inb} = llvm.and {in_r}, {in_k} : i1"));
        let rowoff = m.op2("mul", &grow, kbytes);
        let off = m.op2("add", &rowoff, &gk);
        let zero = m.i32(0);
        // Masked lanes read the (always valid) first word and discard it: no divergent branch.
        let safe = m.fresh("safe");
        m.line(format!("    {safe} = llvm.select {inb}, {off}, {zero} : i1, i32"));
        let gp = m.fresh("gp");
        m.line(format!(
            "    {gp} = llvm.getelementptr {src}[{safe}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"
        ));
        let v = m.fresh("gv");
        m.line(format!(
            "    {v} = llvm.load {gp} {{alignment = 4 : i64}} : !llvm.ptr<1> -> i32"
        ));
        let vm = m.fresh("gvm");
        m.line(format!("    {vm} = llvm.select {inb}, {v}, {zero} : i1, i32"));
        let la = emit(m, &p.copy_lds[w], &[])?;
        let lp = m.fresh("lp");
        m.line(format!(
            "    {lp} = llvm.getelementptr {lds}[{la}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"
        ));
        m.line(format!(
            "    llvm.store {vm}, {lp} {{alignment = 4 : i64}} : i32, !llvm.ptr<3>"
        ));
    }
    Ok(())
}

/// Read the lane's operand registers from LDS into `vector<words x i32>`.
fn read_operand(m: &mut MlirText, p: &OperandPlan, lds: &str) -> Result<String, AmdError> {
    let words = p.fmt.words();
    let mut v = m.fresh("op");
    m.line(format!("    {v} = llvm.mlir.poison : vector<{words}xi32>"));
    for (j, ix) in p.read_lds.iter().enumerate() {
        let a = emit(m, ix, &[])?;
        let lp = m.fresh("rp");
        m.line(format!(
            "    {lp} = llvm.getelementptr {lds}[{a}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"
        ));
        let x = m.fresh("rw");
        m.line(format!(
            "    {x} = llvm.load {lp} {{alignment = 4 : i64}} : !llvm.ptr<3> -> i32"
        ));
        let jj = m.i32(j as i64);
        let nv = m.fresh("op");
        m.line(format!(
            "    {nv} = llvm.insertelement {x}, {v}[{jj} : i32] : vector<{words}xi32>"
        ));
        v = nv;
    }
    Ok(v)
}

fn store_acc(
    m: &mut MlirText,
    plan: &GemmTilePlan,
    abi: &GemmAbi,
    m0: &str,
    n0: &str,
    acc_ty: &str,
) -> Result<(), AmdError> {
    for (i, (r, c)) in plan.acc.iter().enumerate() {
        let row = emit(m, r, &[])?;
        let col = emit(m, c, &[])?;
        let gr = m.op2("add", m0, &row);
        let gc = m.op2("add", n0, &col);
        let in_r = m.fresh("sr");
        m.line(format!("    {in_r} = llvm.icmp \"ult\" {gr}, %M : i32"));
        let in_c = m.fresh("sc");
        m.line(format!("    {in_c} = llvm.icmp \"ult\" {gc}, %N : i32"));
        let inb = m.fresh("sinb");
        m.line(format!("    {inb} = llvm.and {in_r}, {in_c} : i1"));
        m.line(format!("    llvm.cond_br {inb}, ^st{i}, ^nx{i}"));
        m.line(format!("  ^st{i}:"));
        let ii = m.i32(i as i64);
        let x = m.fresh("dv");
        m.line(format!(
            "    {x} = llvm.extractelement %acc[{ii} : i32] : {acc_ty}"
        ));
        let ro = m.op2("mul", &gr, "%N");
        let off = m.op2("add", &ro, &gc);
        abi.emit_store(m, &x, &off).map_err(AmdError::LaneMap)?;
        m.line(format!("    llvm.br ^nx{i}"));
        m.line(format!("  ^nx{i}:"));
    }
    Ok(())
}
