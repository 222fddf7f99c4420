//! The data movement of one scaled-GEMM tile on gfx950, as lane maps: how the wave stages an
//! operand step through LDS (coalesced copy), which LDS bytes each lane then reads into its MFMA
//! operand registers, which 32-bit word of the prepacked scale buffer it loads, and where each
//! accumulator register is stored. The generator ([`crate::kernel`]) emits exactly these
//! expressions; the tests run the same plan on the host against the instruction model.
//!
//! Kernel skeleton the plan plugs into (fixed code, same in generator and test simulator): one
//! workgroup = one wave64 = one MN x MN output tile (`tile_m`, `tile_n` = workgroup ids); K is
//! walked in *superblocks* of [`OPSEL_STEPS`] MFMAs (`sb` = superblock index), because the scale
//! layout packs the scales of four consecutive MFMAs into one VGPR (op_sel = step).

use crate::mfma::{ELEMS_PER_LANE, MfmaFormat, OPSEL_STEPS, ScaledMfma, WAVE};
use std::ops::{Div, Rem};
use tessera_ir::ScaleLayout;
use tessera_lowering_mlir::native_scaled::Ix;

/// One operand (A rows or B columns, both stored K-contiguous) of the tile.
#[derive(Clone, Debug, PartialEq)]
pub struct OperandPlan {
    pub fmt: MfmaFormat,
    /// Bytes of one row of the per-MFMA step tile (`K_atom * bits / 8`).
    pub row_bytes: u32,
    /// Global→LDS copy, per copy word `w` (each lane copies `copy_words` 32-bit words): the tile
    /// row, the byte within that row, and the LDS byte address written.
    pub copy_row: Vec<Ix>,
    pub copy_kbyte: Vec<Ix>,
    pub copy_lds: Vec<Ix>,
    /// LDS byte address of operand register word `j` of the lane (the ISA operand layout).
    pub read_lds: Vec<Ix>,
    /// Byte offset, in the prepacked scale buffer, of this lane's 32-bit scale word for the
    /// current superblock. Variables: `tile` (MN-tile index), `sb`, `ks_pad` (padded scale-K).
    pub scale_word: Ix,
}

/// The whole tile: atom, two operands, accumulator store map.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmTilePlan {
    pub atom: ScaledMfma,
    pub a: OperandPlan,
    pub b: OperandPlan,
    /// Per accumulator register: (row, column) within the output tile.
    pub acc: Vec<(Ix, Ix)>,
}

impl GemmTilePlan {
    pub fn new(atom: ScaledMfma) -> GemmTilePlan {
        GemmTilePlan {
            atom,
            a: operand(atom, atom.a),
            b: operand(atom, atom.b),
            acc: (0..atom.shape.acc_regs()).map(|i| atom.acc_coord(i)).collect(),
        }
    }

    /// Elements of K one superblock covers (four MFMAs).
    pub fn superblock_k(&self) -> u32 {
        self.atom.shape.k() * OPSEL_STEPS
    }

    pub fn layout(&self) -> ScaleLayout {
        self.atom.shape.scale_layout()
    }

    /// Scale columns per layout atom (`amd_lane16x16x128`: 16, `amd_lane32x32x64`: 8): the
    /// rounding of the padded scale-K.
    pub fn atom_ks(&self) -> u32 {
        self.atom.shape.k_groups() * OPSEL_STEPS
    }

    /// LDS bytes the tile stages (A then B).
    pub fn lds_bytes(&self) -> u32 {
        self.atom.shape.mn() * (self.a.row_bytes + self.b.row_bytes)
    }
}

fn operand(atom: ScaledMfma, fmt: MfmaFormat) -> OperandPlan {
    let row_bytes = atom.shape.k() * fmt.bits() / 8;
    let row_words = (row_bytes / 4) as i64;
    // Coalesced staging: copy word w of lane l is word `w * 64 + l` of the row-major step tile,
    // so each copy instruction of the wave touches consecutive words.
    let q = |w: u32| Ix::lane() + (w * WAVE) as i64;
    let copy_words = atom.shape.mn() * row_bytes / 4 / WAVE;
    let copy_row: Vec<Ix> = (0..copy_words).map(|w| q(w).div(row_words)).collect();
    let copy_kbyte: Vec<Ix> = (0..copy_words).map(|w| q(w).rem(row_words) * 4).collect();
    let copy_lds = (0..copy_words).map(|w| q(w) * 4).collect();
    // Operand registers (CDNA4 layout, see crate::mfma): row l % MN, the 32 consecutive elements
    // of K-group l / MN, i.e. bytes [kgroup * 32 * bits / 8, +32 * bits / 8) of that row.
    let group_bytes = (ELEMS_PER_LANE * fmt.bits() / 8) as i64;
    let read_lds = (0..fmt.words())
        .map(|j| atom.operand_mn() * row_bytes as i64 + atom.operand_kgroup() * group_bytes + (4 * j) as i64)
        .collect();
    OperandPlan {
        fmt,
        row_bytes,
        copy_row,
        copy_kbyte,
        copy_lds,
        read_lds,
        scale_word: scale_word(atom),
    }
}

/// The consumer side of the `amd_lane*` scale layouts (tessera-prepack writes them): atoms of
/// `MN x (k_groups * 4)` scales = 64 lanes x 4 bytes, atoms row-major over `[mn_pad, ks_pad]`.
/// For the lane at MN-tile `tile`, superblock `sb`: row `r = tile*MN + l%MN`, scale column
/// `c = sb*4*G + step*G + l/MN`, so its atom is `(tile, sb)`, its lane slot within the atom is
/// exactly `l`, and the byte is `step` — the VGPR is one aligned 32-bit load, op_sel = step.
fn scale_word(atom: ScaledMfma) -> Ix {
    let atom_ks = (atom.shape.k_groups() * OPSEL_STEPS) as i64;
    let atom_bytes = (WAVE * OPSEL_STEPS) as i64;
    Ix::var("tile") * (Ix::var("ks_pad").div(atom_ks) * atom_bytes)
        + Ix::var("sb") * atom_bytes
        + Ix::lane() * 4
}
