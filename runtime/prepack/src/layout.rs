//! Where each logical scale `(r, c)` of a `[mn, ks]` scale matrix lives in the physical buffer of
//! every [`ScaleLayout`]: the padded extents and the element offset formula. This is the only
//! place the swizzles are written down; prepack, unpack and the tests all go through it.
//!
//! Conventions: `r` indexes the M or N dimension (rows of A, columns of B: one scale row per
//! output row/column), `c` indexes scale blocks along K (`c = k / block`). Offsets are in scale
//! *elements*; the byte offset is `offset * elem_bytes`.

use tessera_ir::ScaleLayout;

/// How a layout tiles the padded `[mn, ks]` scale matrix: atoms of `atom_mn x atom_ks` scales,
/// each atom `atom_mn * atom_ks` contiguous elements, atoms ordered row-major (all K-atoms of one
/// MN-atom row, then the next MN-atom row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtomShape {
    pub atom_mn: usize,
    pub atom_ks: usize,
}

impl AtomShape {
    pub fn atom_len(self) -> usize {
        self.atom_mn * self.atom_ks
    }
}

/// The atom of each layout. Linear (and Hopper's in-register application, whose buffer is linear)
/// is a 1x1 atom: no padding, row-major.
pub fn atom_shape(layout: ScaleLayout) -> AtomShape {
    match layout {
        ScaleLayout::Linear | ScaleLayout::HopperRegister => AtomShape {
            atom_mn: 1,
            atom_ks: 1,
        },
        // 128 rows x 4 scale columns = 512 bytes for 8-bit scales (cuBLAS/CUTLASS SF atom).
        ScaleLayout::Nv128x4 => AtomShape {
            atom_mn: 128,
            atom_ks: 4,
        },
        // 16 lanes' rows x 4 K-groups per MFMA x 4 op_sel bytes per VGPR = 16 x 16.
        ScaleLayout::AmdLane16x16x128 => AtomShape {
            atom_mn: 16,
            atom_ks: 16,
        },
        // 32 lanes' rows x 2 K-groups per MFMA x 4 op_sel bytes per VGPR = 32 x 8.
        ScaleLayout::AmdLane32x32x64 => AtomShape {
            atom_mn: 32,
            atom_ks: 8,
        },
    }
}

/// Padded extents `(mn_pad, ks_pad)` of a logical `[mn, ks]` scale matrix in `layout`.
pub fn padded_dims(layout: ScaleLayout, mn: usize, ks: usize) -> (usize, usize) {
    let a = atom_shape(layout);
    (mn.next_multiple_of(a.atom_mn), ks.next_multiple_of(a.atom_ks))
}

/// Number of scale elements of the physical buffer (padding included).
pub fn physical_elems(layout: ScaleLayout, mn: usize, ks: usize) -> usize {
    let (m, k) = padded_dims(layout, mn, ks);
    m * k
}

/// Element offset of logical scale `(r, c)` in the physical buffer of a matrix whose padded
/// scale-K extent is `ks_pad` (from [`padded_dims`]). `r`/`c` may address padding.
pub fn offset(layout: ScaleLayout, r: usize, c: usize, ks_pad: usize) -> usize {
    match layout {
        ScaleLayout::Linear | ScaleLayout::HopperRegister => r * ks_pad + c,
        // The reference page's formula, verbatim: reshape(MN/128, 4, 32, Ks/4, 4).permute(0,3,2,1,4).
        ScaleLayout::Nv128x4 => {
            (r / 128) * (ks_pad / 4) * 512 + (c / 4) * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + (c % 4)
        }
        ScaleLayout::AmdLane16x16x128 => {
            // One v_mfma_scale_f32_16x16x128 covers 4 scale columns (128 K / 32); lane l supplies
            // row l % 16 of K-group l / 16. Four consecutive MFMAs along K share one 32-bit VGPR
            // per lane, op_sel picking byte (c / 4) % 4.
            let lane = (r % 16) + 16 * (c % 4);
            let byte = (c % 16) / 4;
            atom_base(layout, r, c, ks_pad) + lane * 4 + byte
        }
        ScaleLayout::AmdLane32x32x64 => {
            // One v_mfma_scale_f32_32x32x64 covers 2 scale columns (64 K / 32); lane l supplies
            // row l % 32 of K-group l / 32; four MFMAs along K share a VGPR (byte (c / 2) % 4).
            let lane = (r % 32) + 32 * (c % 2);
            let byte = (c % 8) / 2;
            atom_base(layout, r, c, ks_pad) + lane * 4 + byte
        }
    }
}

/// First element of the atom holding `(r, c)`.
fn atom_base(layout: ScaleLayout, r: usize, c: usize, ks_pad: usize) -> usize {
    let a = atom_shape(layout);
    (r / a.atom_mn) * (ks_pad / a.atom_ks) * a.atom_len() + (c / a.atom_ks) * a.atom_len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ScaleLayout; 5] = [
        ScaleLayout::Linear,
        ScaleLayout::Nv128x4,
        ScaleLayout::AmdLane16x16x128,
        ScaleLayout::AmdLane32x32x64,
        ScaleLayout::HopperRegister,
    ];

    /// Every layout is a bijection from the padded logical matrix onto `0..physical_elems`.
    #[test]
    fn offsets_are_a_permutation_of_the_padded_matrix() {
        for layout in ALL {
            for (mn, ks) in [(1, 1), (100, 10), (128, 4), (257, 9), (33, 17)] {
                let (mp, kp) = padded_dims(layout, mn, ks);
                let n = physical_elems(layout, mn, ks);
                let mut seen = vec![false; n];
                for r in 0..mp {
                    for c in 0..kp {
                        let o = offset(layout, r, c, kp);
                        assert!(o < n, "{layout:?} ({r},{c}) -> {o} >= {n}");
                        assert!(!seen[o], "{layout:?} ({r},{c}) -> {o} twice");
                        seen[o] = true;
                    }
                }
            }
        }
    }

    #[test]
    fn padding_rules() {
        assert_eq!(padded_dims(ScaleLayout::Nv128x4, 100, 10), (128, 12));
        assert_eq!(padded_dims(ScaleLayout::Nv128x4, 704, 10), (768, 12));
        assert_eq!(padded_dims(ScaleLayout::Linear, 100, 10), (100, 10));
        assert_eq!(padded_dims(ScaleLayout::HopperRegister, 100, 10), (100, 10));
        assert_eq!(padded_dims(ScaleLayout::AmdLane16x16x128, 100, 10), (112, 16));
        assert_eq!(padded_dims(ScaleLayout::AmdLane32x32x64, 100, 10), (128, 16));
    }

    /// Hand-checked points of the 128x4 atom: row 32 starts the second 4-byte group of a 16-byte
    /// line, row 1 the second line, column 4 the next atom.
    #[test]
    fn nv128x4_known_points() {
        let l = ScaleLayout::Nv128x4;
        assert_eq!(offset(l, 0, 0, 8), 0);
        assert_eq!(offset(l, 0, 3, 8), 3);
        assert_eq!(offset(l, 32, 0, 8), 4);
        assert_eq!(offset(l, 1, 0, 8), 16);
        assert_eq!(offset(l, 0, 4, 8), 512);
        assert_eq!(offset(l, 128, 0, 8), 1024);
        assert_eq!(offset(l, 127, 3, 8), 31 * 16 + 3 * 4 + 3);
    }

    /// Lane/op_sel placement of the AMD layouts: lane 16 of a 16x16x128 MFMA holds row 0 of
    /// K-group 1; the second MFMA along K uses byte 1 of the same VGPR.
    #[test]
    fn amd_known_points() {
        let l = ScaleLayout::AmdLane16x16x128;
        assert_eq!(offset(l, 0, 0, 16), 0);
        assert_eq!(offset(l, 0, 1, 16), 16 * 4);
        assert_eq!(offset(l, 5, 0, 16), 5 * 4);
        assert_eq!(offset(l, 0, 4, 16), 1);
        assert_eq!(offset(l, 16, 0, 16), 256);
        let l = ScaleLayout::AmdLane32x32x64;
        assert_eq!(offset(l, 0, 1, 8), 32 * 4);
        assert_eq!(offset(l, 0, 2, 8), 1);
        assert_eq!(offset(l, 31, 7, 8), (31 + 32) * 4 + 3);
    }
}
