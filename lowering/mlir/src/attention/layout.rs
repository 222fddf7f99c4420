//! Layout facts of the attention kernel: how the softmax probabilities P go from the S = Q·Kᵀ
//! accumulator fragment straight into the register A operand of the P·V wgmma, and where the
//! transposed V tile lives in shared memory.
//!
//! P in registers: the f32 accumulator of `m64nNk32` gives thread t (lane `l`, q = l % 4) of a
//! warp columns `8j + 2q + e` (e = 0, 1) of rows `l/4` and `l/4 + 8`. The e4m3 A fragment of
//! `m64nNk32` (PTX ISA, wgmma register fragment of A for 8-bit types) wants, per 32-wide K step,
//! a0 = row l/4, K `4q .. 4q+3`; a1 = row l/4 + 8, same K; a2/a3 = K `16 + 4q ..` of those rows.
//! The two differ only by a permutation of K inside each 32-wide step, and a dot product does not
//! care about the order of K as long as both operands agree: thread q packs its own accumulator
//! columns `2q, 2q+1, 8+2q, 9+2q` (then `+16`) into a0 (a2), and V's rows are permuted the same way
//! when V is transposed into shared memory. [`v_row`] is that permutation; no shuffles are needed.
//!
//! Vᵀ in shared memory: fp8 wgmma needs a K-major B, and V `[S, HD]` row-major is N-major for
//! `P·V`, so every CTA writes each V tile transposed (`[HD rows][BN bytes]`) with the BN-byte
//! swizzle that wgmma's descriptor expects ([`swizzle`]).

/// The V row (key offset inside the 32-wide K step) that A position `4 * kq + byte` of the
/// register fragment holds, for `kq` in 0..BN/4 counting 4-byte groups from the tile start.
pub(crate) fn v_row(kq: u32, byte: u32) -> u32 {
    16 * (kq / 4) + 2 * (kq % 4) + [0, 1, 8, 9][byte as usize % 4]
}

/// Byte offset of element (row `r`, byte `k`) of a K-major tile whose rows are `w` bytes wide
/// (w = 64 or 128) under the matching wgmma/TMA swizzle: 16-byte chunk bits 4.. of the linear
/// offset are XORed with its bits 7.. (128B: 3 bits, 64B: 2 bits), from a 1024-aligned base.
/// emit.rs computes the same expression in MLIR (`transpose_v`); this is its tested reference.
#[cfg(test)]
pub(crate) fn swizzle(r: u32, k: u32, w: u32) -> u32 {
    let off = r * w + k;
    off ^ (((off >> 7) & (w / 16 - 1)) << 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The accumulator column (within a 32-wide K step) held by register `a` (0..4), byte `i` of
    /// thread q, following the m64nNk32 f32 accumulator layout.
    fn acc_col(q: u32, a: u32, i: u32) -> u32 {
        // a0/a1: accumulator groups j = 0, 1 (columns 8j + 2q + e); a2/a3: j = 2, 3.
        let j = 2 * (a / 2) + i / 2;
        8 * j + 2 * q + i % 2
    }

    /// The K index (within the step) register `a`, byte `i` of thread q stands for in the PTX A
    /// fragment of `m64nNk32` for 8-bit types.
    fn a_frag_k(q: u32, a: u32, i: u32) -> u32 {
        4 * q + i + 16 * (a / 2)
    }

    #[test]
    fn v_rows_follow_the_accumulator_columns_packed_into_a() {
        for q in 0..4 {
            for a in 0..4 {
                for i in 0..4 {
                    let k = a_frag_k(q, a, i);
                    assert_eq!(v_row(k / 4, k % 4), acc_col(q, a, i), "q {q} a {a} i {i}");
                }
            }
        }
        // Beyond the first step the permutation repeats per 32 keys.
        assert_eq!(v_row(8, 0), 32);
        assert_eq!(v_row(15, 3), 32 + 16 + 6 + 9);
    }

    #[test]
    fn v_row_is_a_permutation_of_each_step() {
        let mut seen: Vec<u32> = (0..8).flat_map(|kq| (0..4).map(move |b| v_row(kq, b))).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..32).collect::<Vec<_>>());
    }

    #[test]
    fn swizzle_matches_the_128b_and_64b_atoms() {
        // 128B: chunk ^= row % 8.
        assert_eq!(swizzle(3, 5, 128), 3 * 128 + (3 << 4) + 5);
        // Row 9 = row 1 of its atom: chunk 1 ^ 1 = 0.
        assert_eq!(swizzle(9, 16, 128), 9 * 128);
        // 64B: chunk ^= (row / 2) % 4.
        assert_eq!(swizzle(2, 0, 64), 2 * 64 + (1 << 4));
        assert_eq!(swizzle(7, 33, 64), 7 * 64 + ((2 ^ 3) << 4) + 1);
    }
}
