//! Executable model of `mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale
//! .scale_vec::1X.f32.<a>.<b>.f32.ue8m0` (sm_120a), written from the PTX ISA (8.7+) sections
//! §9.7.14.5 "Matrix Fragments for mma.m16n8k32" (8-bit types) and §9.7.14.3 "Block Scaling for
//! mma.sync", phrased independently of the lowering (for each matrix element: which lane and which
//! register byte hold it), decoding the raw bits itself.
//!
//!   D[i][j] = C[i][j] + sum_{k<32} A[i][k] * SFA[i] * B[k][j] * SFB[j]
//!
//! - A[i][k]: lane `4*(i%8) + (k%16)/4`, element `8*(k/16) + 4*(i/8) + k%4` of a0..a15.
//! - B[k][j]: lane `4*j + (k%16)/4`, element `4*(k/16) + k%4` of b0..b7.
//! - SFA[i]: byte `byte_id_a` of the scale register of lane `4*(i%8) + 2*thread_id_a + i/8`;
//!   SFB[j]: byte `byte_id_b` of lane `4*j + thread_id_b` (ue8m0: 2^(b-127)).
//! - D: lane `l`, register `r`: row `l/4 + 8*(r/2)`, column `2*(l%4) + r%2`.

pub fn e4m3(c: u8) -> f64 {
    let (s, e, m) = (if c & 0x80 != 0 { -1.0 } else { 1.0 }, i32::from((c >> 3) & 0xF), f64::from(c & 7));
    if e == 15 && m == 7.0 {
        return f64::NAN;
    }
    if e == 0 { s * m / 8.0 * 2f64.powi(-6) } else { s * (1.0 + m / 8.0) * 2f64.powi(e - 7) }
}

fn byte(w: u32, b: usize) -> u8 {
    (w >> (8 * b)) as u8
}

fn e8m0(b: u8) -> f64 {
    if b == 0xFF { f64::NAN } else { 2f64.powi(i32::from(b) - 127) }
}

#[allow(clippy::too_many_arguments)]
pub fn mma_block_scale(
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
    let mut d = c.to_vec();
    for (l, dl) in d.iter_mut().enumerate() {
        for (r, dr) in dl.iter_mut().enumerate() {
            let (i, j) = (l / 4 + 8 * (r / 2), 2 * (l % 4) + r % 2);
            let sa = e8m0(byte(sfa[4 * (i % 8) + 2 * tid_a + i / 8], byte_a));
            let sb = e8m0(byte(sfb[4 * j + tid_b], byte_b));
            let mut sum = f64::from(*dr);
            for k in 0..32 {
                let ea = 8 * (k / 16) + 4 * (i / 8) + k % 4;
                let av = byte(a[4 * (i % 8) + (k % 16) / 4][ea / 4], ea % 4);
                let eb = 4 * (k / 16) + k % 4;
                let bv = byte(b[4 * j + (k % 16) / 4][eb / 4], eb % 4);
                sum += e4m3(av) * sa * e4m3(bv) * sb;
            }
            *dr = sum as f32;
        }
    }
    d
}
