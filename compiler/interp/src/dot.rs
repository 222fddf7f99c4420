//! `dot`: the hot loop of every GEMM and attention program, and the place where scale contracts
//! meet. Semantics (docs/NUMERICS.md, "Interpreter semantics"):
//!
//! - Operands hold exact decoded element values; every product `a*b` is rounded to f32 and added
//!   to an f32 sum (no fused multiply-add), per output element in ascending k.
//! - Unscaled: `c = acc; for k ascending: c += a[m,k] * b[k,n]`.
//! - Scaled (either operand carries block scales along K with block `kb`): for each K-block in
//!   ascending order, `p = sum over the block of a*b` (from 0, k ascending), then
//!   `c += p * s` with `s = (sa[m, blk] * sb[blk, n]) * (ga * gb)` — missing scales/globals are 1.
//!   This is the per-K-block promotion that Hopper kernels perform in registers.
//! - i8 x i8 accumulates exactly in i32 (wrapping).
//!
//! The loops are in "axpy" form (for each row of A, for each k, `c_row += a * b_row`): B rows are
//! contiguous, the innermost loop over n is unit-stride and vectorizes, and each output element
//! still sees its products in ascending k.

use crate::value::{Data, Scales, Tile};
use tessera_ir::DType;

pub(crate) enum DotFault {
    /// Contracting over a K extent that is not a whole number of scale blocks (`which` operand).
    PartialKBlock {
        which: &'static str,
        block: usize,
    },
    Unsupported(String),
}

pub(crate) fn dot(a: &Tile, b: &Tile, acc: &Tile) -> Result<Tile, DotFault> {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
    match (&a.data, &b.data, &acc.data) {
        (Data::I(x), Data::I(y), Data::I(c)) => {
            if a.scale.is_some() || b.scale.is_some() {
                return Err(DotFault::Unsupported("scaled integer dot".into()));
            }
            let mut out = c.clone();
            for i in 0..m {
                for kk in 0..k {
                    let av = x[i * k + kk];
                    for j in 0..n {
                        out[i * n + j] = (out[i * n + j].wrapping_add(av * y[kk * n + j])) as i32 as i64;
                    }
                }
            }
            Ok(Tile::ints(DType::I32, vec![m, n], out))
        }
        (Data::F(x), Data::F(y), Data::F(c)) => {
            let out = match (&a.scale, &b.scale) {
                (None, None) => plain(x, y, c, m, k, n),
                (sa, sb) => scaled(x, y, c, (m, k, n), sa.as_ref(), sb.as_ref())?,
            };
            Ok(Tile::floats(DType::F32, vec![m, n], out))
        }
        _ => Err(DotFault::Unsupported(
            "operands mix integer and float data".into(),
        )),
    }
}

fn plain(x: &[f32], y: &[f32], c: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = c.to_vec();
    for i in 0..m {
        let crow = &mut out[i * n..(i + 1) * n];
        let arow = &x[i * k..(i + 1) * k];
        for (kk, &av) in arow.iter().enumerate() {
            let brow = &y[kk * n..(kk + 1) * n];
            for (cv, bv) in crow.iter_mut().zip(brow) {
                *cv += av * *bv;
            }
        }
    }
    out
}

fn scaled(
    x: &[f32],
    y: &[f32],
    c: &[f32],
    (m, k, n): (usize, usize, usize),
    sa: Option<&Scales>,
    sb: Option<&Scales>,
) -> Result<Vec<f32>, DotFault> {
    let kb_a = sa.map(|s| s.block[1]);
    let kb_b = sb.map(|s| s.block[0]);
    let kb = match (kb_a, kb_b) {
        (Some(a), Some(b)) if a != b => {
            return Err(DotFault::Unsupported(format!(
                "operands scaled with different K blocks ({a} and {b})"
            )));
        }
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => k,
    };
    if let Some(s) = sa
        && !s.whole[1]
    {
        return Err(DotFault::PartialKBlock {
            which: "lhs",
            block: s.block[1],
        });
    }
    if let Some(s) = sb
        && !s.whole[0]
    {
        return Err(DotFault::PartialKBlock {
            which: "rhs",
            block: s.block[0],
        });
    }
    let g = sa.and_then(|s| s.global).unwrap_or(1.0) * sb.and_then(|s| s.global).unwrap_or(1.0);
    let nblk = k.div_ceil(kb.max(1));
    let mut out = c.to_vec();
    let mut p = vec![0f32; n];
    // Per K-block, the column scales sb[blk, j / bn] expanded to n entries.
    let mut srow = vec![1f32; n];
    for blk in 0..nblk {
        if let Some(s) = sb {
            let bn = s.block[1];
            for (j, v) in srow.iter_mut().enumerate() {
                *v = s.v[blk * s.shape[1] + j / bn];
            }
        }
        let (k0, k1) = (blk * kb, ((blk + 1) * kb).min(k));
        for i in 0..m {
            p.iter_mut().for_each(|v| *v = 0.0);
            for kk in k0..k1 {
                let av = x[i * k + kk];
                let brow = &y[kk * n..(kk + 1) * n];
                for (pv, bv) in p.iter_mut().zip(brow) {
                    *pv += av * *bv;
                }
            }
            let a_s = match sa {
                Some(s) => s.v[(i / s.block[0]) * s.shape[1] + blk],
                None => 1.0,
            };
            let crow = &mut out[i * n..(i + 1) * n];
            for ((cv, pv), sv) in crow.iter_mut().zip(&p).zip(&srow) {
                *cv += *pv * ((a_s * *sv) * g);
            }
        }
    }
    Ok(out)
}
