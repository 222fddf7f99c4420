//! MLIR (LLVM dialect + NVVM) for a block-scaled GEMM (MXFP8 / FP8, MXFP4, NVFP4) on
//! sm_120a/sm_121a built from the [`MxMmaSync`] lane maps: one warp per 16x8 output tile, K walked
//! one nv128x4 scale word (4 K-blocks) at a time (4 / 2 / 1 `nvvm.mma.block_scale` with byte-id
//! stepping by the scale vector, sharing one scale register per lane), operands loaded
//! straight into the fragment registers with masked 32-bit loads, scales read from Nv128x4
//! buffers (the layout assign-scale-layout gives NVIDIA targets).
//!
//! ABI: [`GemmAbi::params`] (`a, [scale_a,] b, [scale_b,] c, M, N, K[, f32 multipliers]`); A
//! `[M, K]` and B `[N, K]` K-contiguous fp8, C `[M, N]` f32/bf16/f16; grid
//! `(ceil(M/16), ceil(N/8))`, 32 threads; K a multiple of 32. The padded scale-K is computed from
//! K; an unscaled operand gets the neutral scale 2^0 in every byte.

use crate::sm120::{MxMmaSync, WARP, nv128x4_word};
use tessera_lowering_mlir::native_scaled::{GemmAbi, Ix, MlirText, ks_pad};

/// Four e8m0 bytes of 2^0: the scale register of an operand that has no scales.
const NEUTRAL: i64 = 0x7F7F_7F7F;

/// Generate the kernel `name`. `Err` only for an internal lane-map inconsistency.
pub fn mx_gemm_mlir(name: &str, mma: &MxMmaSync, abi: &GemmAbi) -> Result<String, String> {
    let mut m = MlirText::new();
    m.line("module {");
    m.line(format!(
        "  llvm.func @{name}({}) attributes {{nvvm.kernel, nvvm.maxntid = array<i32: {WARP}, 1, 1>}} {{",
        abi.params()
    ));
    m.line("    %lane = nvvm.read.ptx.sreg.tid.x : i32");
    m.line("    %tm = nvvm.read.ptx.sreg.ctaid.x : i32");
    m.line("    %tn = nvvm.read.ptx.sreg.ctaid.y : i32");
    let c16 = m.i32(MxMmaSync::M as i64);
    let c8 = m.i32(MxMmaSync::N as i64);
    let m0 = m.op2("mul", "%tm", &c16);
    let n0 = m.op2("mul", "%tn", &c8);
    let ks = m.emit_ix(&ks_pad(mma.block(), 4), "%lane", &|v| {
        (v == "K").then(|| "%K".to_string())
    })?;
    // Bytes per stored row (FP4 packed two per byte).
    let bits = m.i32(mma.elem_bits() as i64);
    let kbits = m.op2("mul", "%K", &bits);
    let eight = m.i32(8);
    let kbytes = m.op2("udiv", &kbits, &eight);
    let zero = m.i32(0);
    let fz = m.fresh("fz");
    m.line(format!("    {fz} = llvm.mlir.constant(0.0 : f32) : f32"));
    m.line(format!(
        "    llvm.br ^loop({zero}, {fz}, {fz}, {fz}, {fz} : i32, f32, f32, f32, f32)"
    ));
    m.line("  ^loop(%k0: i32, %d0: f32, %d1: f32, %d2: f32, %d3: f32):");
    m.line("    %more = llvm.icmp \"ult\" %k0, %K : i32");
    m.line("    llvm.cond_br %more, ^body, ^done");
    m.line("  ^body:");
    // One iteration = one nv128x4 scale word per lane (4 K-blocks).
    let c128 = m.i32(mma.k_per_word() as i64);
    let katom = m.op2("udiv", "%k0", &c128);
    let vars = |m0: &str, katom: &str, ks: &str| {
        let (m0, katom, ks) = (m0.to_string(), katom.to_string(), ks.to_string());
        move |v: &str| match v {
            "mn0" => Some(m0.clone()),
            "katom" => Some(katom.clone()),
            "ks_pad" => Some(ks.clone()),
            _ => None,
        }
    };
    let wa = nv128x4_word(
        Ix::var("mn0") + mma.sfa_row(),
        Ix::var("katom"),
        Ix::var("ks_pad"),
    );
    let wb = nv128x4_word(
        Ix::var("mn0") + mma.sfb_col(),
        Ix::var("katom"),
        Ix::var("ks_pad"),
    );
    let sa = if abi.scaled_a {
        scale_word(&mut m, &wa, "%scale_a", &vars(&m0, &katom, &ks))?
    } else {
        m.i32(NEUTRAL)
    };
    let sb = if abi.scaled_b {
        scale_word(&mut m, &wb, "%scale_b", &vars(&n0, &katom, &ks))?
    } else {
        m.i32(NEUTRAL)
    };
    let mut d = ["%d0", "%d1", "%d2", "%d3"].map(String::from);
    // K byte of this iteration's first MMA.
    let kb0 = m.op2("mul", "%k0", &bits);
    let kbyte0 = m.op2("udiv", &kb0, &eight);
    for step in 0..mma.mmas_per_word() {
        let off = m.i32(32 * step as i64);
        let ks = m.op2("add", &kbyte0, &off);
        let a: Vec<String> = (0..4)
            .map(|j| {
                let (r, k) = mma.a_reg(j);
                frag_word(&mut m, "%a", &r, &k, &m0, "%M", &ks, &kbytes)
            })
            .collect::<Result<_, _>>()?;
        let b: Vec<String> = (0..2)
            .map(|j| {
                let (cn, k) = mma.b_reg(j);
                frag_word(&mut m, "%b", &cn, &k, &n0, "%N", &ks, &kbytes)
            })
            .collect::<Result<_, _>>()?;
        let byte = m.const_int((step * mma.scale_vec()) as i64, "i16");
        let tid = m.const_int(0, "i16");
        let r = m.fresh("mma");
        m.line(format!(
            "    {r} = nvvm.mma.block_scale A[{}] B[{}] C[{}] scaleA[{sa}, {byte}, {tid}] scaleB[{sb}, {byte}, {tid}] {{{}}} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>",
            a.join(", "),
            b.join(", "),
            d.join(", "),
            mma.mlir_attrs()
        ));
        for (i, di) in d.iter_mut().enumerate() {
            let x = m.fresh("d");
            m.line(format!(
                "    {x} = llvm.extractvalue {r}[{i}] : !llvm.struct<(f32, f32, f32, f32)>"
            ));
            *di = x;
        }
    }
    let k1 = m.op2("add", "%k0", &c128);
    m.line(format!(
        "    llvm.br ^loop({k1}, {} : i32, f32, f32, f32, f32)",
        d.join(", ")
    ));
    m.line("  ^done:");
    for i in 0..4u32 {
        let (r, cn) = mma.acc(i);
        let emit = |m: &mut MlirText, ix: &Ix| m.emit_ix(ix, "%lane", &|_| None);
        let row = emit(&mut m, &r)?;
        let col = emit(&mut m, &cn)?;
        let gr = m.op2("add", &m0, &row);
        let gc = m.op2("add", &n0, &col);
        let ir = m.fresh("ir");
        m.line(format!("    {ir} = llvm.icmp \"ult\" {gr}, %M : i32"));
        let ic = m.fresh("ic");
        m.line(format!("    {ic} = llvm.icmp \"ult\" {gc}, %N : i32"));
        let ok = m.fresh("ok");
        m.line(format!("    {ok} = llvm.and {ir}, {ic} : i1"));
        m.line(format!("    llvm.cond_br {ok}, ^st{i}, ^nx{i}"));
        m.line(format!("  ^st{i}:"));
        let ro = m.op2("mul", &gr, "%N");
        let off = m.op2("add", &ro, &gc);
        abi.emit_store(&mut m, &format!("%d{i}"), &off)?;
        m.line(format!("    llvm.br ^nx{i}"));
        m.line(format!("  ^nx{i}:"));
    }
    m.line("    llvm.return");
    m.line("  }");
    m.line("}");
    Ok(m.finish())
}

fn scale_word(
    m: &mut MlirText,
    ix: &Ix,
    buf: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let off = m.emit_ix(ix, "%lane", vars)?;
    let p = m.fresh("sp");
    m.line(format!(
        "    {p} = llvm.getelementptr {buf}[{off}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"
    ));
    let w = m.fresh("sw");
    m.line(format!(
        "    {w} = llvm.load {p} {{alignment = 4 : i64}} : !llvm.ptr<1> -> i32"
    ));
    Ok(w)
}

/// Masked 32-bit load of 4 consecutive K bytes of row `mn0 + row` at K byte `k + kk` (zero
/// outside); rows are `kbytes` long.
#[allow(clippy::too_many_arguments)]
fn frag_word(
    m: &mut MlirText,
    buf: &str,
    row: &Ix,
    kk: &Ix,
    mn0: &str,
    rows: &str,
    k: &str,
    kbytes: &str,
) -> Result<String, String> {
    let r = m.emit_ix(row, "%lane", &|_| None)?;
    let kx = m.emit_ix(kk, "%lane", &|_| None)?;
    let gr = m.op2("add", mn0, &r);
    let gk = m.op2("add", k, &kx);
    let ir = m.fresh("ir");
    m.line(format!("    {ir} = llvm.icmp \"ult\" {gr}, {rows} : i32"));
    let ik = m.fresh("ik");
    m.line(format!("    {ik} = llvm.icmp \"ult\" {gk}, {kbytes} : i32"));
    let ok = m.fresh("ok");
    m.line(format!("    {ok} = llvm.and {ir}, {ik} : i1"));
    let ro = m.op2("mul", &gr, kbytes);
    let off = m.op2("add", &ro, &gk);
    let zero = m.i32(0);
    let safe = m.fresh("safe");
    m.line(format!("    {safe} = llvm.select {ok}, {off}, {zero} : i1, i32"));
    let p = m.fresh("gp");
    m.line(format!(
        "    {p} = llvm.getelementptr {buf}[{safe}] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i8"
    ));
    let v = m.fresh("gv");
    m.line(format!(
        "    {v} = llvm.load {p} {{alignment = 4 : i64}} : !llvm.ptr<1> -> i32"
    ));
    let vm = m.fresh("gvm");
    m.line(format!("    {vm} = llvm.select {ok}, {v}, {zero} : i1, i32"));
    Ok(vm)
}
