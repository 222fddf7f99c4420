//! Shared helpers of the formats tests: fixture loading and a tiny deterministic RNG (the crate
//! has no rand dependency and the tests need none).

#![allow(dead_code)] // each test binary uses a different subset

use tessera_formats::Format;

pub fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("missing fixture {p}: {e} (run fixtures/gen_fixtures.py)"))
}

/// The oracle's value of every code of `f`.
pub fn decode_table(f: Format) -> Vec<f32> {
    let b = fixture(&format!("decode_{}.bin", f.name()));
    assert_eq!(b.len(), 4 * f.code_count() as usize, "decode table size of {f}");
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The oracle's (input, expected code) pairs for `f`.
pub fn encode_table(f: Format) -> Vec<(f32, u16)> {
    let b = fixture(&format!("encode_{}.bin", f.name()));
    assert_eq!(b.len() % 6, 0, "encode table size of {f}");
    b.chunks_exact(6)
        .map(|c| {
            (
                f32::from_bits(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                u16::from_le_bytes([c[4], c[5]]),
            )
        })
        .collect()
}

/// SplitMix64: a small, well-mixed deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An approximately normal sample (sum of uniforms; good enough for test data).
    pub fn normalish(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>() * 1.7320508 - 3.4641016
    }
}
