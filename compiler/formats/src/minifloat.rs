//! Bit-level decode and round-to-nearest-even encode for the narrow IEEE-like formats (FP4, FP6,
//! FP8 and UE4M3), driven by a small table of parameters. Encoding works on exact arithmetic in f64
//! (every input magnitude is an f32 or an f32 times a power of two, so scaling by powers of two and
//! `round_ties_even` on the scaled significand are exact): no intermediate rounding can move a
//! value across a rounding boundary.

/// How a format spends its top codes on special values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Specials {
    /// No inf or NaN at all (FP4, FP6).
    None,
    /// NaN is the all-ones magnitude, no inf (OCP E4M3 "fn", UE4M3).
    NanAllOnes,
    /// IEEE: exponent all ones is inf (mantissa 0) or NaN (E5M2).
    Ieee,
    /// NaN is the negative-zero code 0x80; no -0 (E4M3 "fnuz").
    NanNegZero,
}

/// Parameters of one narrow float format.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub ebits: u32,
    pub mbits: u32,
    pub bias: i32,
    pub signed: bool,
    pub specials: Specials,
    /// Magnitude code of the largest finite value (saturation target).
    pub max_mag: u16,
}

impl Spec {
    fn mag_bits(&self) -> u32 {
        self.ebits + self.mbits
    }

    fn mag_mask(&self) -> u16 {
        (1u16 << self.mag_bits()) - 1
    }

    fn sign_bit(&self) -> u16 {
        1u16 << self.mag_bits()
    }
}

/// `2^k` as an exact f64 for `k` in the normal f64 exponent range.
pub(crate) fn pow2(k: i32) -> f64 {
    f64::from_bits(((1023 + k as i64) as u64) << 52)
}

/// Exact value of `code` (only the low `1 + ebits + mbits` bits, or `ebits + mbits` if unsigned,
/// are looked at; callers mask).
pub(crate) fn decode(s: &Spec, code: u16) -> f32 {
    let mag = code & s.mag_mask();
    let neg = s.signed && code & s.sign_bit() != 0;
    let e = (mag >> s.mbits) as i32;
    let m = (mag & ((1u16 << s.mbits) - 1)) as f64;
    let e_all_ones = e == (1i32 << s.ebits) - 1;
    match s.specials {
        Specials::NanAllOnes if mag == s.mag_mask() => return f32::NAN,
        Specials::Ieee if e_all_ones => {
            let v = if m == 0.0 { f32::INFINITY } else { f32::NAN };
            return if neg { -v } else { v };
        }
        Specials::NanNegZero if neg && mag == 0 => return f32::NAN,
        _ => {}
    }
    let v = if e == 0 {
        m * pow2(1 - s.bias - s.mbits as i32)
    } else {
        (pow2(s.mbits as i32) + m) * pow2(e - s.bias - s.mbits as i32)
    };
    // Every value of these formats has <= 4 significant bits and a small exponent: exact in f32.
    let v = v as f32;
    if neg { -v } else { v }
}

/// Round-to-nearest-even, saturating (`cvt.rn.satfinite`): finite overflow and ±inf go to ±max,
/// NaN goes to `nan_code`. Unsigned formats send negatives to +0 (their nearest value).
pub(crate) fn encode(s: &Spec, x: f64, nan_code: u16) -> u16 {
    if x.is_nan() {
        return nan_code;
    }
    let neg = x.is_sign_negative();
    if neg && !s.signed {
        return 0;
    }
    let a = x.abs();
    let mag = if a.is_infinite() {
        s.max_mag
    } else if a == 0.0 {
        0
    } else {
        let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023; // floor(log2 a); a is an f64 normal
        let emin = 1 - s.bias;
        let e_q = e.max(emin); // subnormals share the quantum of the smallest normal binade
        let q = a * pow2(s.mbits as i32 - e_q); // significand in units of the quantum, exact
        let r = q.round_ties_even();
        // Saturate before converting: r is finite but may be large only if e is huge.
        let code = (((e_q - emin) as f64) * pow2(s.mbits as i32) + r).min(s.max_mag as f64);
        code as u16
    };
    match s.specials {
        // No negative zero: -0 and negatives that round to zero are +0 (0x80 is NaN).
        Specials::NanNegZero if mag == 0 => 0,
        _ if neg => mag | s.sign_bit(),
        _ => mag,
    }
}
