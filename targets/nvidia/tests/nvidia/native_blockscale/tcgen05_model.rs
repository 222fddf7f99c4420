//! Executable model of the sm_100a tcgen05 block-scaled path, written from the PTX ISA 8.8
//! sections on tcgen05 (§9.7.16), independently of the lowering:
//! - Tensor memory: 128 lanes x 512 columns of 32-bit cells.
//! - `tcgen05.cp.cta_group::1.32x128b.warpx4 [taddr], sdesc`: 32 rows of 16 bytes from shared
//!   memory; row `r` goes to TMEM lane `r` of each of the four 32-lane quarters (warpx4 multicast),
//!   bytes `4w..4w+3` to column `col + w`.
//! - `tcgen05.mma.cta_group::1.kind::{mxf8f6f4, mxf4nvf4}.block_scale`: D (M = 128 rows on lanes
//!   0..127, N f32 columns from the D address) `+= (A * SFA) (B * SFB)^T`. A and B are K-major in
//!   shared memory, no swizzle: element (row m, K byte kb) at
//!   `start + (m/8)*SBO + (kb/16)*LBO + (m%8)*16 + kb%16` (§9.7.16.5 canonical layouts; fp4 packed
//!   two per byte, low nibble first). The scale of row m for the MMA's K-block `b` is byte
//!   `sf_id + b` of the cell at lane `m`, column `scale_col + m/32` — which is where the 32x128b
//!   warpx4 copy of an nv128x4 atom puts row m's four K-blocks (atom row `m%32`, 4-byte group
//!   `m/32`). `sf_id` comes from the instruction descriptor (bits 29-30 for A, 4-5 for B); the
//!   element formats (bits 7-9, 10-12) and scale type (bit 23) too.
//! - `tcgen05.ld.32x32b`: thread `t` of warp `w` reads lane `32w + t`.
//!
//! This TMEM scale-read rule is the least certain fact here (docs/TARGETS.md).

pub struct Tmem {
    pub cells: Vec<Vec<u32>>,
}

impl Tmem {
    pub fn new() -> Tmem {
        Tmem {
            cells: vec![vec![0; 512]; 128],
        }
    }

    pub fn cp_32x128b_warpx4(&mut self, col: usize, src: &[u8]) {
        for q in 0..4 {
            for r in 0..32 {
                for w in 0..4 {
                    let o = r * 16 + 4 * w;
                    self.cells[32 * q + r][col + w] =
                        u32::from_le_bytes([src[o], src[o + 1], src[o + 2], src[o + 3]]);
                }
            }
        }
    }
}

pub fn e8m0(b: u8) -> f64 {
    2f64.powi(i32::from(b) - 127)
}

pub fn ue4m3(b: u8) -> f64 {
    let (e, m) = (i32::from((b >> 3) & 0xF), f64::from(b & 7));
    if e == 0 {
        m / 8.0 * 2f64.powi(-6)
    } else {
        (1.0 + m / 8.0) * 2f64.powi(e - 7)
    }
}

pub fn e2m1(c: u8) -> f64 {
    let v = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0][usize::from(c & 7)];
    if c & 8 != 0 { -v } else { v }
}

/// One MMA. `kind_fp4`: mxf4nvf4 (K = 64, packed e2m1), else mxf8f6f4 with e4m3 (K = 32).
#[allow(clippy::too_many_arguments)]
pub fn mma_block_scale(
    tmem: &mut Tmem,
    smem: &[u8],
    a_start: usize,
    b_start: usize,
    lbo: usize,
    sbo: usize,
    idesc: u32,
    sfa_col: usize,
    sfb_col: usize,
    kind_fp4: bool,
    block: usize,
    accumulate: bool,
) {
    let (sf_a, sf_b) = (((idesc >> 29) & 3) as usize, ((idesc >> 4) & 3) as usize);
    let (fa, fb) = ((idesc >> 7) & 7, (idesc >> 10) & 7);
    let ue8m0 = (idesc >> 23) & 1 == 1;
    let n = (((idesc >> 17) & 0x3F) << 3) as usize;
    let k = if kind_fp4 { 64 } else { 32 };
    let elem = |start: usize, row: usize, kk: usize, fmt: u32| -> f64 {
        let kb = if kind_fp4 { kk / 2 } else { kk };
        let byte = smem[start + (row / 8) * sbo + (kb / 16) * lbo + (row % 8) * 16 + kb % 16];
        match (kind_fp4, fmt) {
            (true, 1) => e2m1(if kk.is_multiple_of(2) {
                byte & 0xF
            } else {
                byte >> 4
            }),
            (false, 0) => super::model::e4m3(byte),
            _ => f64::NAN,
        }
    };
    // Scales are read before D is written (they live in other columns).
    let cells = tmem.cells.clone();
    let scale = |lane: usize, col: usize, id: usize| -> f64 {
        let b = (cells[lane][col + lane / 32] >> (8 * id)) as u8;
        if ue8m0 { e8m0(b) } else { ue4m3(b) }
    };
    for m in 0..128 {
        for j in 0..n {
            let mut sum = if accumulate {
                f64::from(f32::from_bits(tmem.cells[m][j]))
            } else {
                0.0
            };
            for kk in 0..k {
                let (sa, sb) = (
                    scale(m, sfa_col, sf_a + kk / block),
                    scale(j, sfb_col, sf_b + kk / block),
                );
                sum += elem(a_start, m, kk, fa) * sa * elem(b_start, j, kk, fb) * sb;
            }
            tmem.cells[m][j] = (sum as f32).to_bits();
        }
    }
}
