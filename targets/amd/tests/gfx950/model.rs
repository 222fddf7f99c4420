//! Executable model of `V_MFMA_SCALE_F32_{16X16X128,32X32X64}_F8F6F4` (gfx950), written from the
//! AMD CDNA4 ISA reference guide, chapter 7 "Matrix Arithmetic Instructions" (scaled MFMA entries
//! and the MFMA operand/accumulator register layout tables), independently of the lowering:
//! it is phrased the other way round (for matrix element (i, k): which lane and which register
//! byte hold it) and decodes the raw register bits itself.
//!
//!   D[i][j] = C[i][j] + sum_k  A[i][k] * 2^(SA(i, k/32) - 127) * B[k][j] * 2^(SB(j, k/32) - 127)
//!
//! - A[i][k] is element `k % 32` of lane `i + MN * (k / 32)` (little-endian in the lane's VGPRs;
//!   fp4: element 2e in the low nibble of byte e); B[k][j] likewise from lane `j + MN * (k / 32)`.
//! - SA(i, g) is byte `opsel_a` of the scale VGPR of lane `i + MN * g` (e8m0), SB likewise.
//! - D[i][j] is register `r` of lane `l` with 16x16: `i = 4*(l/16) + r, j = l % 16`;
//!   32x32: `i = 8*(r/4) + 4*(l/32) + r%4, j = l % 32`.
//!   The sum is formed exactly (f64 here) and rounded to f32 once per instruction.

use tessera_target_amd::{MfmaFormat, MfmaShape};

/// OCP element decoders (what the matrix core does to the raw bits).
pub fn decode(fmt: MfmaFormat, code: u32) -> f64 {
    let (e_bits, m_bits, bias) = match fmt {
        MfmaFormat::Fp8E4M3 => (4, 3, 7),
        MfmaFormat::Bf8E5M2 => (5, 2, 15),
        MfmaFormat::Fp6E2M3 => (2, 3, 1),
        MfmaFormat::Bf6E3M2 => (3, 2, 3),
        MfmaFormat::Fp4E2M1 => (2, 1, 1),
    };
    let bits = 1 + e_bits + m_bits;
    let sign = if (code >> (bits - 1)) & 1 == 1 { -1.0 } else { 1.0 };
    let e = ((code >> m_bits) & ((1 << e_bits) - 1)) as i32;
    let m = (code & ((1 << m_bits) - 1)) as f64;
    let frac = m / f64::from(1u32 << m_bits);
    if fmt == MfmaFormat::Fp8E4M3 && e == 15 && m as u32 == 7 {
        return f64::NAN;
    }
    if fmt == MfmaFormat::Bf8E5M2 && e == 31 {
        return if m == 0.0 { sign * f64::INFINITY } else { f64::NAN };
    }
    if e == 0 {
        sign * frac * 2f64.powi(1 - bias)
    } else {
        sign * (1.0 + frac) * 2f64.powi(e - bias)
    }
}

pub fn e8m0(b: u32) -> f64 {
    if b == 0xFF {
        f64::NAN
    } else {
        2f64.powi(b as i32 - 127)
    }
}

/// Element `e` (0..32) of a lane's operand registers.
fn element(fmt: MfmaFormat, regs: &[u32], e: usize) -> u32 {
    let bytes: Vec<u8> = regs.iter().flat_map(|w| w.to_le_bytes()).collect();
    match fmt.bits() {
        8 => u32::from(bytes[e]),
        4 => u32::from(bytes[e / 2] >> (4 * (e % 2))) & 0xF,
        // fp6: 32 x 6 bits packed little-endian across the 6 VGPRs.
        _ => {
            let bit = e * 6;
            let lo = u32::from(bytes[bit / 8]) | (u32::from(*bytes.get(bit / 8 + 1).unwrap_or(&0)) << 8);
            (lo >> (bit % 8)) & 0x3F
        }
    }
}

/// (row, column) of accumulator register `r` of lane `l`, per the ISA table.
pub fn d_coord(shape: MfmaShape, l: usize, r: usize) -> (usize, usize) {
    match shape {
        MfmaShape::M16N16K128 => (4 * (l / 16) + r, l % 16),
        MfmaShape::M32N32K64 => (8 * (r / 4) + 4 * (l / 32) + r % 4, l % 32),
    }
}

/// One instruction: per-lane A/B registers, C registers, scale VGPRs and op_sel bytes in; D out.
#[allow(clippy::too_many_arguments)]
pub fn mfma_scale(
    shape: MfmaShape,
    fa: MfmaFormat,
    fb: MfmaFormat,
    a: &[Vec<u32>],
    b: &[Vec<u32>],
    c: &[Vec<f32>],
    opsel_a: u32,
    scale_a: &[u32],
    opsel_b: u32,
    scale_b: &[u32],
) -> Vec<Vec<f32>> {
    let mn = shape.mn() as usize;
    let regs = shape.acc_regs() as usize;
    let mut d = c.to_vec();
    for (l, dl) in d.iter_mut().enumerate().take(64) {
        for (r, dr) in dl.iter_mut().enumerate().take(regs) {
            let (i, j) = d_coord(shape, l, r);
            let mut sum = f64::from(*dr);
            for k in 0..shape.k() as usize {
                let (la, lb) = (i + mn * (k / 32), j + mn * (k / 32));
                let sa = e8m0((scale_a[la] >> (8 * opsel_a)) & 0xFF);
                let sb = e8m0((scale_b[lb] >> (8 * opsel_b)) & 0xFF);
                sum += decode(fa, element(fa, &a[la], k % 32))
                    * sa
                    * decode(fb, element(fb, &b[lb], k % 32))
                    * sb;
            }
            *dr = sum as f32;
        }
    }
    d
}
