//! Host execution of a [`GemmTilePlan`]: the generated kernel's skeleton (tiles, superblocks,
//! op_sel steps, masked LDS staging) with every lane-dependent address taken from the plan's
//! `Ix` maps — the same values the MLIR generator emits — feeding the instruction model.

use super::model;
use tessera_target_amd::GemmTilePlan;
use tessera_target_amd::plan::OperandPlan;

/// Host buffers as the kernel receives them.
pub struct Problem<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// A `[M, K]` / B `[N, K]`, K-contiguous, FP4 packed two per byte along K.
    pub a: &'a [u8],
    pub b: &'a [u8],
    /// Prepacked scale buffers and their padded scale-K extents.
    pub scale_a: &'a [u8],
    pub scale_b: &'a [u8],
    pub ks_pad_a: usize,
    pub ks_pad_b: usize,
}

fn word(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
}

/// The kernel's masked global→LDS copy of one step tile (see `kernel::stage`).
fn stage(
    p: &OperandPlan,
    src: &[u8],
    row0: usize,
    rows: usize,
    kbytes: usize,
    k_elems: usize,
    lds: &mut [u8],
) {
    let kbyte0 = k_elems * p.fmt.bits() as usize / 8;
    for lane in 0..64i64 {
        for w in 0..p.copy_row.len() {
            let at = |ix: &tessera_lowering_mlir::native_scaled::Ix| ix.at(lane).expect("lane map") as usize;
            let (grow, gk) = (row0 + at(&p.copy_row[w]), kbyte0 + at(&p.copy_kbyte[w]));
            let v = if grow < rows && gk < kbytes {
                word(src, grow * kbytes + gk)
            } else {
                0
            };
            let la = at(&p.copy_lds[w]);
            lds[la..la + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
}

fn read(p: &OperandPlan, lds: &[u8]) -> Vec<Vec<u32>> {
    (0..64i64)
        .map(|l| {
            p.read_lds
                .iter()
                .map(|ix| word(lds, ix.at(l).expect("lane map") as usize))
                .collect()
        })
        .collect()
}

fn scales(p: &OperandPlan, buf: &[u8], tile: usize, sb: usize, ks_pad: usize) -> Vec<u32> {
    let env = |v: &str| match v {
        "tile" => Some(tile as i64),
        "sb" => Some(sb as i64),
        "ks_pad" => Some(ks_pad as i64),
        _ => None,
    };
    (0..64i64)
        .map(|l| word(buf, p.scale_word.eval(l, &env).expect("scale map") as usize))
        .collect()
}

/// Run the whole grid; returns C `[M, N]` (f32, row-major).
pub fn run(plan: &GemmTilePlan, pr: &Problem) -> Vec<f32> {
    let shape = plan.atom.shape;
    let mn = shape.mn() as usize;
    let mut c = vec![0f32; pr.m * pr.n];
    let (kb_a, kb_b) = (
        pr.k * plan.a.fmt.bits() as usize / 8,
        pr.k * plan.b.fmt.bits() as usize / 8,
    );
    let mut lds_a = vec![0u8; mn * plan.a.row_bytes as usize];
    let mut lds_b = vec![0u8; mn * plan.b.row_bytes as usize];
    for tm in 0..pr.m.div_ceil(mn) {
        for tn in 0..pr.n.div_ceil(mn) {
            let mut acc = vec![vec![0f32; shape.acc_regs() as usize]; 64];
            let (mut k0, mut sb) = (0, 0);
            while k0 < pr.k {
                let sa = scales(&plan.a, pr.scale_a, tm, sb, pr.ks_pad_a);
                let sbv = scales(&plan.b, pr.scale_b, tn, sb, pr.ks_pad_b);
                for step in 0..4u32 {
                    let ks = k0 + (step * shape.k()) as usize;
                    stage(&plan.a, pr.a, tm * mn, pr.m, kb_a, ks, &mut lds_a);
                    stage(&plan.b, pr.b, tn * mn, pr.n, kb_b, ks, &mut lds_b);
                    let (ra, rb) = (read(&plan.a, &lds_a), read(&plan.b, &lds_b));
                    acc = model::mfma_scale(
                        shape, plan.a.fmt, plan.b.fmt, &ra, &rb, &acc, step, &sa, step, &sbv,
                    );
                }
                k0 += plan.superblock_k() as usize;
                sb += 1;
            }
            for (l, regs) in acc.iter().enumerate() {
                for (r, v) in regs.iter().enumerate() {
                    let (row, col) = &plan.acc[r];
                    let (gr, gc) = (
                        tm * mn + row.at(l as i64).expect("acc map") as usize,
                        tn * mn + col.at(l as i64).expect("acc map") as usize,
                    );
                    if gr < pr.m && gc < pr.n {
                        c[gr * pr.n + gc] = *v;
                    }
                }
            }
        }
    }
    c
}
