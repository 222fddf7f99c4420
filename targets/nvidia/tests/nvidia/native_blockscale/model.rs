//! Executable model of the sm_120a warp-level block-scaled MMAs, written from the PTX ISA (8.7+)
//! sections §9.7.14.5 "Matrix Fragments for mma.m16n8k32" (8-bit types) and "... mma.m16n8k64"
//! (`.e2m1`), and §9.7.14.3 "Block Scaling for mma.sync", phrased independently of the lowering
//! (for each matrix element: which lane and which register bits hold it), decoding raw bits:
//!
//!   D[i][j] = C[i][j] + sum_k A[i][k] * SFA[i][k / block] * B[k][j] * SFB[j][k / block]
//!
//! - m16n8k32, 8-bit: A[i][k] in lane `4*(i%8) + (k%16)/4`, element `8*(k/16) + 4*(i/8) + k%4`
//!   of a0..a15 (byte `e%4` of register `e/4`); B[k][j] in lane `4*j + (k%16)/4`, element
//!   `4*(k/16) + k%4` of b0..b7.
//! - m16n8k64, e2m1: A[i][k] in lane `4*(i%8) + (k%32)/8`, element `16*(k/32) + 8*(i/8) + k%8` of
//!   a0..a31 (nibble `e%8` of register `e/8`, low nibble first); B[k][j] in lane `4*j + (k%32)/8`,
//!   element `8*(k/32) + k%8` of b0..b15.
//! - SFA[i][v] (v < scale_vec) is byte `byte_id_a + v` of the scale register of lane
//!   `4*(i%8) + 2*thread_id_a + i/8`; SFB[j][v] byte `byte_id_b + v` of lane `4*j + thread_id_b`.
//! - D: lane `l`, register `r`: row `l/4 + 8*(r/2)`, column `2*(l%4) + r%2`.

pub fn e4m3(c: u8) -> f64 {
    let (s, e, m) = (
        if c & 0x80 != 0 { -1.0 } else { 1.0 },
        i32::from((c >> 3) & 0xF),
        f64::from(c & 7),
    );
    if e == 15 && m == 7.0 {
        return f64::NAN;
    }
    if e == 0 {
        s * m / 8.0 * 2f64.powi(-6)
    } else {
        s * (1.0 + m / 8.0) * 2f64.powi(e - 7)
    }
}

fn e2m1(c: u32) -> f64 {
    let v = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0][(c & 7) as usize];
    if c & 8 != 0 { -v } else { v }
}

fn e8m0(b: u8) -> f64 {
    if b == 0xFF {
        f64::NAN
    } else {
        2f64.powi(i32::from(b) - 127)
    }
}

fn ue4m3(b: u8) -> f64 {
    e4m3(b & 0x7F)
}

fn byte(w: u32, b: usize) -> u8 {
    (w >> (8 * b)) as u8
}

/// The instruction variant: `fp4` = m16n8k64 e2m1 (else m16n8k32 e4m3), scales per row per MMA,
/// and whether the scales are ue4m3 (NVFP4) rather than ue8m0.
#[derive(Clone, Copy)]
pub struct Variant {
    pub fp4: bool,
    pub scale_vec: usize,
    pub ue4m3: bool,
}

#[allow(clippy::too_many_arguments)]
pub fn mma_block_scale(
    v: Variant,
    a: &[[u32; 4]],
    b: &[[u32; 2]],
    c: &[[f32; 4]],
    sfa: &[u32],
    byte_a: usize,
    tid_a: usize,
    sfb: &[u32],
    byte_b: usize,
    tid_b: usize,
) -> Vec<[f32; 4]> {
    let k_mma = if v.fp4 { 64 } else { 32 };
    let block = k_mma / v.scale_vec;
    let scale = |w: u32, i: usize| {
        if v.ue4m3 {
            ue4m3(byte(w, i))
        } else {
            e8m0(byte(w, i))
        }
    };
    let a_elem = |i: usize, k: usize| -> f64 {
        if v.fp4 {
            let e = 16 * (k / 32) + 8 * (i / 8) + k % 8;
            e2m1(a[4 * (i % 8) + (k % 32) / 8][e / 8] >> (4 * (e % 8)))
        } else {
            let e = 8 * (k / 16) + 4 * (i / 8) + k % 4;
            e4m3(byte(a[4 * (i % 8) + (k % 16) / 4][e / 4], e % 4))
        }
    };
    let b_elem = |k: usize, j: usize| -> f64 {
        if v.fp4 {
            let e = 8 * (k / 32) + k % 8;
            e2m1(b[4 * j + (k % 32) / 8][e / 8] >> (4 * (e % 8)))
        } else {
            let e = 4 * (k / 16) + k % 4;
            e4m3(byte(b[4 * j + (k % 16) / 4][e / 4], e % 4))
        }
    };
    let mut d = c.to_vec();
    for (l, dl) in d.iter_mut().enumerate() {
        for (r, dr) in dl.iter_mut().enumerate() {
            let (i, j) = (l / 4 + 8 * (r / 2), 2 * (l % 4) + r % 2);
            let mut sum = f64::from(*dr);
            for k in 0..k_mma {
                let sa = scale(sfa[4 * (i % 8) + 2 * tid_a + i / 8], byte_a + k / block);
                let sb = scale(sfb[4 * j + tid_b], byte_b + k / block);
                sum += a_elem(i, k) * sa * b_elem(k, j) * sb;
            }
            *dr = sum as f32;
        }
    }
    d
}
