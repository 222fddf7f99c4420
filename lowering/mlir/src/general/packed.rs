//! Packed FP4 dot operands staged from their bytes: a `load` of an FP4 tensor packed two codes per
//! byte along K (MXFP4 with e8m0 block scales, NVFP4 with ue4m3 ones) whose only use is a dot
//! operand is issued by the dot (`async_copy`'s deferral), each thread reading whole packed words
//! and writing whole 16-byte chunks of the swizzled K-major staging tile wgmma reads:
//!
//! - a dot taking scaled operands as codes (`dot::group_size`: the scales applied per K group from
//!   the dot's tables) stages e4m3 codes: 16 FP4 codes (8 bytes) per chunk, each re-encoded by a
//!   byte permute (`prmt`) through an 8-entry table of magnitudes, the sign bit moved over;
//! - a dot on bf16 wgmma stages `code * s` in bf16: 8 codes (4 bytes) per chunk, the bf16 bits of
//!   each magnitude from two `prmt` tables, times the chunk's block scale `s` in f32, rounded to
//!   bf16 (exact: a 2-bit significand times a power of two or a 4-bit ue4m3 significand). NVFP4's
//!   per-tensor scale multiplies the dot's partial instead (`scaled::nv_on_bf16`).
//!
//! This is the same arithmetic as the register path (`load_scaled` one code per register, then
//! `code_operand` / `dequant`), done eight or sixteen codes at a time; the codes never occupy a
//! register each. Elements outside the tensor read code 0 (value 0) and chunks wholly outside it
//! the neutral scale, as a masked scaled load does. A chunk that reaches past K keeps its in-bounds
//! block's scale for the zero codes past K: only a NaN scale makes them differ from the
//! interpreter's 0, and then the block's in-bounds elements already make every affected sum NaN.

use super::*;

/// Bytes of the e4m3 encodings of FP4 magnitudes 0..7 (0, 0.5, 1, 1.5, 2, 3, 4, 6), as the two
/// words of a `prmt` table.
const E4M3_OF_MAG: (u32, u32) = (0x3C38_3000, 0x4C48_4440);
/// High bytes of the bf16 encodings of FP4 magnitudes 0..7.
const BF16_HI_OF_MAG: (u32, u32) = (0x3F3F_3F00, 0x4040_4040);
/// Low bytes of the bf16 encodings of FP4 magnitudes 0..7.
const BF16_LO_OF_MAG: (u32, u32) = (0xC080_0000, 0xC080_4000);
/// Of four codes (16 bits, code j in nibble j): the magnitudes, as `prmt` selectors.
const MAG_BITS: u32 = 0x7777;
/// `prmt` selector duplicating bytes into `[B0, B0, B1, B1]`, and the mask that keeps code j's sign
/// in byte j (bit 3 for even j, bit 7 for odd j); the even ones then move up 4 bits.
const SIGN_DUP: u32 = 0x1100;
const SIGN_KEEP: u32 = 0x8008_8008;
const SIGN_EVEN: u32 = 0x0008_0008;
const SIGN_ODD: u32 = 0x8000_8000;
/// `prmt` selectors interleaving low-byte and high-byte words into bf16 pairs: `[lo0, hi0, lo1, hi1]`
/// and `[lo2, hi2, lo3, hi3]`.
const BF16_PAIRS: [u32; 2] = [0x5140, 0x7362];

/// A packed FP4 tile's place in its tensor, lowered (`Gen::packed_tile`).
struct PackedTile {
    /// Rows of the tile itself (staging rows past them repeat them).
    real_rows: u32,
    /// Leading point coordinates (i32), row-major linearized in `first_row`.
    points: Vec<V>,
    /// The tensor's extents (i64), `rdim` and `kdim` its last two.
    dims: Vec<V>,
    gbase: V,
    /// Every leading point lies inside its dimension.
    inside: V,
    rdim: V,
    kdim: V,
    /// Bytes per packed row: ceil(K / 2).
    pitch: V,
    /// Rows before the tile's 2-D slice.
    first_row: V,
    /// The tile's row and K starts (i64).
    r0: V,
    k0: V,
}

/// An explicit `dequant`'s scale tile slice, lowered (`Gen::scale_slice`).
struct ScaleSlice<'c> {
    base: V,
    /// Elements before the slice (its leading points), and whether they lie in the tensor.
    first: V,
    inside: V,
    /// The tensor's last two extents, the slice's row and K starts (i64).
    dims: [V; 2],
    r0: V,
    k0: V,
    /// Codes per scale along rows and K.
    block: [u32; 2],
    dtype: DType,
    et: melior::ir::Type<'c>,
    fill: V,
}

/// Whether a load of `t` from tensor type `ty` is a packed FP4 tile a dot can stage from its bytes:
/// FP4 packed along the last axis (K of a dot operand's `[rows, K]` load) with one-byte block
/// scales (MX e8m0, or NVFP4 ue4m3 with its per-tensor scale).
pub(super) fn is_packed_fp4(t: &tessera_ir::TileType, ty: &tessera_ir::TensorType) -> bool {
    t.dtype == DType::F4E2M1
        && ty.packed_axis == ty.dims.len().checked_sub(1)
        && ty.scale.as_ref().is_some_and(|s| {
            (s.scale_dtype == DType::E8M0 && !s.global) || (s.scale_dtype == DType::UE4M3 && s.global)
        })
}

/// The i32 constant with bit pattern `x`.
fn word<'c>(m: &Mlir<'c>, b: &Block<'c>, x: u32) -> Result<V, LoweringError> {
    m.const_int(b, i64::from(x as i32), 32)
}

/// Whether every run of `codes` elements of scaled dot operand `v` along its K axis `axis` that
/// starts at a multiple of `codes` lies inside one scale block: the block and the tile's K start
/// are multiples of `codes`.
pub(super) fn chunk_in_block(
    k: &Kernel,
    align: &super::align::Align,
    v: ValueId,
    axis: usize,
    codes: u32,
) -> bool {
    let Some((access, d, start)) = align.tile_start(v, axis) else {
        return false;
    };
    let ParamKind::Tensor { ty, .. } = &k.param(access.tensor).kind else {
        return false;
    };
    ty.scale
        .as_ref()
        .and_then(|s| s.block.get(d))
        .is_some_and(|b| b % codes == 0 && start % u64::from(codes) == 0)
}

/// Whether every FP4 value times every scale of `sd` is exact in bf16 (so a bf16 multiply gives
/// the f32 product rounded to bf16, `dequant`'s arithmetic): e8m0 scales are powers of two in
/// bf16's exponent range (or NaN), ue4m3 ones have 4 significant bits against FP4's 2, well inside
/// bf16's 8 (checked for every pair by `tests::fp4_times_scales_is_exact_in_bf16`). f32 scales are
/// not.
pub(super) fn exact_bf16_scale(sd: DType) -> bool {
    matches!(sd, DType::E8M0 | DType::UE4M3)
}

/// FP4 codes one thread converts into one 16-byte staging chunk of `to` (bf16: 8, e4m3: 16).
pub(super) fn codes_per_chunk(to: DType) -> u32 {
    16 / elem_bytes(to)
}

impl<'c> Gen<'c, '_> {
    /// The packed FP4 load behind dot operand `v` that the dot has not issued yet, if any.
    pub(super) fn packed_of(&self, v: ValueId) -> Option<ValueId> {
        let l = self.deferred_of(v)?;
        self.pending.get(&l)?.packed_as.map(|_| l)
    }

    /// Where a packed FP4 load's tile lies in its tensor, lowered: `access` with its tile at `at`.
    fn packed_tile(
        &self,
        b: &Block<'c>,
        access: &Access,
        at: &async_copy::TileAt,
        span: Span,
    ) -> Result<PackedTile, LoweringError> {
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("packed load of a scalar"));
        };
        let n = access.index.len();
        let real_rows = async_copy::tile_rows(access)?;
        let dims = self.dims(b, &ty.dims, span)?;
        let gbase = *self
            .tensors
            .get(&access.tensor)
            .ok_or_else(|| ice("tensor pointer"))?;
        let m = &self.m;
        let (lead, inside) = self.leading_points(b, &at.points, &dims)?;
        let (rdim, kdim) = (dims[n - 2], dims[n - 1]);
        // Packed rows are ceil(K / 2) bytes; the rows before the tile's slice, `lead * R`.
        let one = m.const_int(b, 1, 64)?;
        let two = m.const_int(b, 2, 64)?;
        let k1 = m.bin(b, "arith.addi", kdim, one)?;
        let pitch = m.bin(b, "arith.divui", k1, two)?;
        let first_row = m.bin(b, "arith.muli", lead, rdim)?;
        let (r0, k0) = (
            m.conv(b, "arith.extsi", at.r0, m.i(64))?,
            m.conv(b, "arith.extsi", at.k0, m.i(64))?,
        );
        Ok(PackedTile {
            real_rows,
            points: at.points.clone(),
            dims,
            gbase,
            inside,
            rdim,
            kdim,
            pitch,
            first_row,
            r0,
            k0,
        })
    }

    /// For staging row `row` (i32; rows past the tile's `real_rows` repeat it) and K offset `kel`
    /// (i32) of a tile: the tensor row and K (i64), whether the row lies in the tensor, and the
    /// byte offset of the row's first code.
    fn packed_at(
        &self,
        b: &Block<'c>,
        t: &PackedTile,
        rows: u32,
        (row, kel): (V, V),
    ) -> Result<(V, V, V, V), LoweringError> {
        let m = &self.m;
        let trow = if t.real_rows < rows {
            let mask = m.const_int(b, i64::from(t.real_rows - 1), 32)?;
            m.bin(b, "arith.andi", row, mask)?
        } else {
            row
        };
        let gr = m.bin(b, "arith.addi", t.r0, m.conv(b, "arith.extui", trow, m.i(64))?)?;
        let gk = m.bin(b, "arith.addi", t.k0, m.conv(b, "arith.extui", kel, m.i(64))?)?;
        let z = m.const_int(b, 0, 64)?;
        let r_lo = m.cmp(b, false, 5, gr, z)?; // sge
        let r_hi = m.cmp(b, false, 2, gr, t.rdim)?; // slt
        let row_ok = m.bin(b, "arith.andi", r_lo, r_hi)?;
        let row_ok = m.bin(b, "arith.andi", row_ok, t.inside)?;
        let grow = m.bin(b, "arith.addi", t.first_row, gr)?;
        let row_byte = m.bin(b, "arith.muli", grow, t.pitch)?;
        Ok((gr, gk, row_ok, row_byte))
    }

    /// Codes `gk .. gk + n` of a packed row (`row_byte` its first byte) one by one, 8 to an i32
    /// (code `e` in nibble `e % 8` of word `e / 8`), 0 where `row_ok` fails or K is outside
    /// `[0, K)`: the edge of a tile, or a row not aligned for whole-word reads.
    fn packed_codes_by_one(
        &self,
        b: &Block<'c>,
        t: &PackedTile,
        (gk, row_ok, row_byte): (V, V, V),
        n: u32,
    ) -> Result<Vec<V>, LoweringError> {
        let m = &self.m;
        let one = m.const_int(b, 1, 64)?;
        let z = m.const_int(b, 0, 64)?;
        let mut ws = vec![m.const_int(b, 0, 32)?; (n / 8) as usize];
        for e in 0..n {
            let ke = m.bin(b, "arith.addi", gk, m.const_int(b, i64::from(e), 64)?)?;
            let lo = m.cmp(b, false, 5, ke, z)?;
            let hi = m.cmp(b, false, 2, ke, t.kdim)?;
            let valid = m.bin(b, "arith.andi", row_ok, lo)?;
            let valid = m.bin(b, "arith.andi", valid, hi)?;
            let kb = m.bin(b, "arith.shrsi", ke, one)?;
            let off = m.bin(b, "arith.addi", row_byte, kb)?;
            let zero8 = m.const_int(b, 0, 8)?;
            let byte = m.load_or(b, valid, t.gbase, off, m.i(8), zero8)?;
            let odd = m.bin(b, "arith.andi", ke, one)?;
            let sh = m.bin(b, "arith.shli", odd, m.const_int(b, 2, 64)?)?;
            let byte = m.conv(b, "arith.extui", byte, m.i(32))?;
            let sh = m.conv(b, "arith.trunci", sh, m.i(32))?;
            let code = m.bin(b, "arith.shrui", byte, sh)?;
            let code = m.bin(b, "arith.andi", code, m.const_int(b, 15, 32)?)?;
            let at = m.const_int(b, i64::from(4 * (e % 8)), 32)?;
            let code = m.bin(b, "arith.shli", code, at)?;
            let w = (e / 8) as usize;
            ws[w] = m.bin(b, "arith.ori", ws[w], code)?;
        }
        Ok(ws)
    }

    /// Where byte `within()` (i32, an offset inside the row) of row `row` (i32) lies in a ring
    /// stage's copy of a packed tile of K extent `kk` at `region` bytes from `base`: rows of
    /// `kk / 2` bytes, row-major.
    fn raw_at(
        &self,
        b: &Block<'c>,
        (base, region): (V, u32),
        kk: u32,
        row: V,
        within: &dyn Fn() -> Result<V, LoweringError>,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let c32 = |x: u32| m.const_int(b, i64::from(x), 32);
        let rb = m.bin(b, "arith.muli", row, c32(kk / 2)?)?;
        let off = m.bin(b, "arith.addi", rb, within()?)?;
        let off = m.bin(b, "arith.addi", off, c32(region)?)?;
        let off = m.conv(b, "arith.extui", off, m.i(64))?;
        m.gep(b, base, off, m.i(8))
    }

    /// Copy the packed bytes of the `[rows, kk]` tile of `access` at `at` into a plain row-major region
    /// (`kk / 2` bytes a row) at `region` bytes from `base`, for a ring stage: `cp.async`, 16
    /// bytes (32 codes) per copy, zero-filled out of bounds, not committed (the ring commits its
    /// iteration's copies as one group); or, when K or the tile's K start is not a multiple of 32
    /// at run time, code by code through registers.
    pub(super) fn issue_packed(
        &self,
        b: &Block<'c>,
        (access, at): (&Access, &async_copy::TileAt),
        (rows, kk): (u32, u32),
        (region, base): (u32, V),
        span: Span,
    ) -> Result<(), LoweringError> {
        if !kk.is_multiple_of(32) {
            return Err(ice(
                "a ring's packed tile K is not a whole number of 16-byte copies",
            ));
        }
        let t = self.packed_tile(b, access, at, span)?;
        let m = &self.m;
        let c64 = |b: &Block<'c>, x: i64| m.const_int(b, x, 64);
        let z64 = c64(b, 0)?;
        let rem_k = m.bin(b, "arith.remsi", t.kdim, c64(b, 32)?)?;
        let rem_k0 = m.bin(b, "arith.remsi", t.k0, c64(b, 32)?)?;
        let a1 = m.cmp(b, false, 0, rem_k, z64)?;
        let a2 = m.cmp(b, false, 0, rem_k0, z64)?;
        let aligned = m.bin(b, "arith.andi", a1, a2)?;
        let tid = self.tid(b)?;
        let cpr = kk / 32;
        let copies = |blk: &Block<'c>, asynchronous: bool| -> Result<Vec<V>, LoweringError> {
            let copy = |cb: &Block<'c>, idx: V| -> Result<(), LoweringError> {
                let c32 = |x: u32| m.const_int(cb, i64::from(x), 32);
                let row = m.bin(cb, "arith.divui", idx, c32(cpr)?)?;
                let ch = m.bin(cb, "arith.remui", idx, c32(cpr)?)?;
                let kel = m.bin(cb, "arith.muli", ch, c32(32)?)?;
                let (_, gk, row_ok, row_byte) = self.packed_at(cb, &t, rows, (row, kel))?;
                let dst = self.raw_at(cb, (base, region), kk, row, &|| {
                    m.bin(cb, "arith.muli", ch, c32(16)?)
                })?;
                if !asynchronous {
                    let ws = self.packed_codes_by_one(cb, &t, (gk, row_ok, row_byte), 32)?;
                    return m.store_vec(cb, &ws, dst, 16);
                }
                // Bytes left in the row, clamped to 16; none for a row outside the tensor.
                let z = c64(cb, 0)?;
                let k_lo = m.cmp(cb, false, 5, gk, z)?;
                let ok = m.bin(cb, "arith.andi", row_ok, k_lo)?;
                let half = m.bin(cb, "arith.shrsi", gk, c64(cb, 1)?)?;
                let left = m.bin(cb, "arith.subi", t.pitch, half)?;
                let left = m.bin(cb, "arith.minsi", left, c64(cb, 16)?)?;
                let left = m.bin(cb, "arith.maxsi", left, z)?;
                let bytes = m.op1(cb, "arith.select", &[ok, left, z], m.i(64), &[])?;
                let bytes = m.conv(cb, "arith.trunci", bytes, m.i(32))?;
                let has = m.cmp(cb, false, 1, bytes, c32(0)?)?; // ne
                // A copy of nothing (zero fill) reads from the tensor's first byte.
                let src_off = m.bin(cb, "arith.addi", row_byte, half)?;
                let src_off = m.op1(cb, "arith.select", &[has, src_off, z], m.i(64), &[])?;
                let src = m.gep(cb, t.gbase, src_off, m.i(8))?;
                m.cp_async_16(cb, dst, src, bytes)?;
                Ok(())
            };
            self.spread(blk, rows * cpr, tid, &copy)?;
            Ok(vec![])
        };
        m.if_(b, aligned, &[], |tb| copies(tb, true), |eb| copies(eb, false))?;
        Ok(())
    }

    /// Stage the `[rows, kk]` tile of packed FP4 load `l` as `to` (e4m3 codes, or bf16 values with
    /// `scaled`: each chunk times its block scale) into the K-major swizzled staging tile at
    /// `region` bytes from `base` (the layout [`Self::swizzled`] gives). The codes come from the
    /// tensor, or (`raw`) from a ring stage's copy of the tile's bytes (`issue_packed`: pointer,
    /// byte offset). Rows past the tile's own repeat its rows, as the other staging paths do.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage_packed(
        &mut self,
        b: &Block<'c>,
        l: ValueId,
        (rows, kk): (u32, u32),
        (to, scaled): (DType, bool),
        sw: u32,
        (region, base): (u32, V),
        raw: Option<(V, u32)>,
        span: Span,
    ) -> Result<(), LoweringError> {
        // (A ring's loads left `pending` when their iteration's copies were issued.)
        self.pending.remove(&l);
        let d = self
            .deferrable
            .get(&l)
            .cloned()
            .ok_or_else(|| ice("deferred packed load"))?;
        let access = &d.access;
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("packed load of a scalar"));
        };
        // Each chunk's scale: from the tensor's own block scales, or (an explicit `dequant`)
        // from its scale tile's slice.
        let explicit = match (&d.explicit, scaled) {
            (Some(e), true) => Some(self.scale_slice(b, e, span)?),
            (Some(_), false) => return Err(ice("explicit dequant scales staged as codes")),
            (None, _) => None,
        };
        let spec = match (&explicit, &ty.scale) {
            (Some(_), _) => None,
            (None, Some(sp)) => Some(sp.clone()),
            (None, None) => return Err(ice("packed FP4 load without scales")),
        };
        let at = self.tile_at(&async_copy::tile_starts(access)?)?;
        let t = self.packed_tile(b, access, &at, span)?;
        if !t.real_rows.is_power_of_two() || !rows.is_multiple_of(t.real_rows) {
            return Err(ice("deferred tile rows do not divide the staging rows"));
        }
        let c = codes_per_chunk(to);
        if !kk.is_multiple_of(c) {
            return Err(ice("packed tile K is not a whole number of chunks"));
        }
        let implicit = match &spec {
            Some(sp) => {
                let sdims = self.scale_dims(b, sp, &t.dims)?;
                let sptr = *self
                    .scale_ptrs
                    .get(&access.tensor)
                    .ok_or_else(|| ice("scale pointer of a scaled tensor"))?;
                Some((sp, sdims, sptr))
            }
            None => None,
        };
        let m = &self.m;
        let c64 = |b: &Block<'c>, x: i64| m.const_int(b, x, 64);
        // Whole-word reads from the tensor when every chunk's bytes start on a word of its size.
        let wbytes = c64(b, i64::from(c / 2))?;
        let z64 = c64(b, 0)?;
        let rem_pitch = m.bin(b, "arith.remui", t.pitch, wbytes)?;
        let rem_k = m.bin(b, "arith.remsi", t.k0, c64(b, i64::from(c))?)?;
        let a1 = m.cmp(b, false, 0, rem_pitch, z64)?;
        let a2 = m.cmp(b, false, 0, rem_k, z64)?;
        let aligned = m.bin(b, "arith.andi", a1, a2)?;
        let tid = self.tid(b)?;
        let cpr = kk / c;
        let i32t = m.i(32);
        let words = (c / 8) as usize;
        // One thread converts `g` consecutive chunks of a row: their bytes one vector read from a
        // ring stage (at most 16 bytes), their row's address math and (`scaled`) their block
        // scale once, when the `g * c` codes lie in one scale block (`Deferred::scale_run`).
        let run = if scaled { d.scale_run } else { 32 };
        let mut g = (run.min(32) / c).max(1);
        while !cpr.is_multiple_of(g) {
            g /= 2;
        }
        let upr = cpr / g;
        // The bf16 products are exact (`exact_bf16_scale`): one bf16x2 multiply per pair.
        let exact = explicit.as_ref().map_or_else(
            || spec.as_ref().is_some_and(|sp| exact_bf16_scale(sp.scale_dtype)),
            |x| exact_bf16_scale(x.dtype),
        );
        let unit = |cb: &Block<'c>, idx: V| -> Result<(), LoweringError> {
            let c32 = |x: u32| m.const_int(cb, i64::from(x), 32);
            let row = m.bin(cb, "arith.divui", idx, c32(upr)?)?;
            let cg = m.bin(cb, "arith.remui", idx, c32(upr)?)?;
            let kel0 = m.bin(cb, "arith.muli", cg, c32(g * c)?)?;
            let (gr, gk0, row_ok, row_byte) = self.packed_at(cb, &t, rows, (row, kel0))?;
            let z = c64(cb, 0)?;
            let in_k = |gk: V| -> Result<V, LoweringError> {
                let k_lo = m.cmp(cb, false, 5, gk, z)?;
                let k_in = m.cmp(cb, false, 2, gk, t.kdim)?;
                let x = m.bin(cb, "arith.andi", row_ok, k_lo)?;
                m.bin(cb, "arith.andi", x, k_in)
            };
            let starts_in = in_k(gk0)?;
            // The units' codes as `g * words` i32s, code e of chunk j in nibble e % 8 of word
            // j * words + e / 8.
            let packed = match raw {
                Some((rbase, roff)) => {
                    // The stage holds the tile's bytes row-major, zero outside the tensor.
                    let p = self.raw_at(cb, (rbase, roff), kk, row, &|| {
                        m.bin(cb, "arith.shrui", kel0, c32(1)?)
                    })?;
                    m.load_vec(cb, p, i32t, g * words as u32, g * c / 2)?
                }
                None => {
                    let mut all = Vec::with_capacity(g as usize * words);
                    for j in 0..g {
                        let gk = m.bin(cb, "arith.addi", gk0, c64(cb, i64::from(j * c))?)?;
                        let end = m.bin(cb, "arith.addi", gk, c64(cb, i64::from(c))?)?;
                        let k_all = m.cmp(cb, false, 3, end, t.kdim)?; // sle
                        let full = m.bin(cb, "arith.andi", in_k(gk)?, k_all)?;
                        let full = m.bin(cb, "arith.andi", full, aligned)?;
                        all.extend(m.if_(
                            cb,
                            full,
                            &vec![i32t; words],
                            |tb| {
                                let half = m.bin(tb, "arith.shrui", gk, c64(tb, 1)?)?;
                                let off = m.bin(tb, "arith.addi", row_byte, half)?;
                                let p = m.gep(tb, t.gbase, off, m.i(8))?;
                                m.load_vec(tb, p, i32t, words as u32, c / 2)
                            },
                            // A chunk at the tensor's edge (or unaligned): code by code, zero
                            // outside.
                            |eb| self.packed_codes_by_one(eb, &t, (gk, row_ok, row_byte), c),
                        )?);
                    }
                    all
                }
            };
            // The unit's block scale (all its codes lie in one block), neutral outside; as a
            // bf16x2 pair of it where the products are exact.
            let scale = if scaled {
                let s = match (&explicit, &implicit) {
                    (Some(x), _) => {
                        let trow = m.bin(cb, "arith.subi", gr, t.r0)?;
                        self.slice_scale(cb, x, trow, kel0, span)?
                    }
                    (None, Some((spec, sdims, sptr))) => {
                        let mut coords = Vec::with_capacity(t.points.len() + 2);
                        for p in &t.points {
                            coords.push(m.conv(cb, "arith.extsi", *p, m.i(64))?);
                        }
                        coords.push(gr);
                        coords.push(gk0);
                        self.block_scale_at(cb, (&coords, starts_in), spec, (sdims, *sptr), span)?
                    }
                    (None, None) => return Err(ice("packed FP4 chunk without scales")),
                };
                Some(if exact { self.bf16x2_splat(cb, s)? } else { s })
            } else {
                None
            };
            for (j, chunk) in packed.chunks(words).enumerate() {
                let kel = m.bin(cb, "arith.addi", kel0, c32(j as u32 * c)?)?;
                let dst = self.swizzled(cb, row, kel, rows, sw, elem_bytes(to), region, base)?;
                let mut out = Vec::with_capacity(4);
                for w in chunk {
                    for h in 0..2 {
                        match scale {
                            Some(s) => {
                                for pair in self.fp4_to_bf16x2(cb, *w, h)? {
                                    out.push(if exact {
                                        self.mul_bf16x2(cb, pair, s)?
                                    } else {
                                        self.scale_bf16x2(cb, pair, s)?
                                    });
                                }
                            }
                            None => out.push(self.fp4_to_e4m3x4(cb, *w, h)?),
                        }
                    }
                }
                m.store_vec(cb, &out, dst, 16)?;
            }
            Ok(())
        };
        self.spread(b, rows * upr, tid, &unit)
    }

    /// The scale tile slice of an explicit `dequant` folded into packed staging, lowered.
    fn scale_slice(
        &self,
        b: &Block<'c>,
        e: &async_copy::ExplicitScale,
        span: Span,
    ) -> Result<ScaleSlice<'c>, LoweringError> {
        let ParamKind::Tensor { ty, .. } = &self.k.param(e.access.tensor).kind else {
            return Err(ice("scale tile of a scalar"));
        };
        let n = e.access.index.len();
        let at = self.tile_at(&async_copy::tile_starts(&e.access)?)?;
        let dims = self.dims(b, &ty.dims, span)?;
        let (mut first, inside) = self.leading_points(b, &at.points, &dims)?;
        let m = &self.m;
        for d in &dims[n - 2..] {
            first = m.bin(b, "arith.muli", first, *d)?;
        }
        let dtype = self.k.ty(e.load).dtype();
        Ok(ScaleSlice {
            base: *self
                .tensors
                .get(&e.access.tensor)
                .ok_or_else(|| ice("tensor pointer"))?,
            first,
            inside,
            dims: [dims[n - 2], dims[n - 1]],
            r0: m.conv(b, "arith.extsi", at.r0, m.i(64))?,
            k0: m.conv(b, "arith.extsi", at.k0, m.i(64))?,
            block: e.block,
            dtype,
            et: m.elem(dtype, span)?,
            fill: self.fill_of(b, dtype, e.other, span)?,
        })
    }

    /// The decoded scale of the chunk at tile row `trow` (i64) and K offset `kel` (i32): element
    /// `(trow / block[0], kel / block[1])` of the scale tile, read as the interpreter reads its load
    /// (outside the tensor: the load's fill, the value 0.0 for a narrow float).
    fn slice_scale(
        &self,
        b: &Block<'c>,
        x: &ScaleSlice<'c>,
        trow: V,
        kel: V,
        span: Span,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let c64 = |v: u32| m.const_int(b, i64::from(v), 64);
        let sr = m.bin(b, "arith.divui", trow, c64(x.block[0])?)?;
        let kel = m.conv(b, "arith.extui", kel, m.i(64))?;
        let sk = m.bin(b, "arith.divui", kel, c64(x.block[1])?)?;
        let sr = m.bin(b, "arith.addi", x.r0, sr)?;
        let sk = m.bin(b, "arith.addi", x.k0, sk)?;
        let z = c64(0)?;
        let mut ok = x.inside;
        for (i, d) in [(sr, x.dims[0]), (sk, x.dims[1])] {
            let lo = m.cmp(b, false, 5, i, z)?; // sge
            let hi = m.cmp(b, false, 2, i, d)?; // slt
            ok = m.bin(b, "arith.andi", ok, lo)?;
            ok = m.bin(b, "arith.andi", ok, hi)?;
        }
        let off = m.bin(b, "arith.muli", sr, x.dims[1])?;
        let off = m.bin(b, "arith.addi", off, sk)?;
        let off = m.bin(b, "arith.addi", off, x.first)?;
        let raw = m.load_or(b, ok, x.base, off, x.et, x.fill)?;
        let s = self.decode_scale(b, raw, x.dtype, span)?;
        if x.dtype == DType::E8M0 {
            // Masked, the interpreter reads the value 0.0, which no e8m0 code holds (code 0 is
            // 2^-127).
            let zero = m.const_float(b, 0.0, m.f32())?;
            return m.select(b, ok, s, zero);
        }
        Ok(s)
    }

    /// `prmt` of bytes `lo:hi` by `sel` (each selector nibble picks one of the 8 bytes).
    fn prmt(&self, b: &Block<'c>, lo: V, hi: V, sel: V) -> Result<V, LoweringError> {
        let m = &self.m;
        m.op1(
            b,
            "nvvm.prmt",
            &[lo, hi, sel],
            m.i(32),
            &[m.attr("mode", m.parse_attr("#nvvm.permute_mode<default>")?)],
        )
    }

    /// The magnitudes (as `prmt` selectors) and the sign bits (bit 7 of byte j for code j) of
    /// codes `4h..4h+4` of packed word `w`.
    fn fp4_quad(&self, b: &Block<'c>, w: V, h: u32) -> Result<(V, V), LoweringError> {
        let m = &self.m;
        let c = |x: u32| word(m, b, x);
        let x = if h == 0 {
            w
        } else {
            m.bin(b, "arith.shrui", w, c(16)?)?
        };
        let sel = m.bin(b, "arith.andi", x, c(MAG_BITS)?)?;
        // Bytes [B0, B0, B1, B1]: code j's sign is bit 3 (j even) or bit 7 (j odd) of byte j.
        let z = c(0)?;
        let dup = self.prmt(b, x, z, c(SIGN_DUP)?)?;
        let s = m.bin(b, "arith.andi", dup, c(SIGN_KEEP)?)?;
        let even = m.bin(b, "arith.andi", s, c(SIGN_EVEN)?)?;
        let even = m.bin(b, "arith.shli", even, c(4)?)?;
        let odd = m.bin(b, "arith.andi", s, c(SIGN_ODD)?)?;
        Ok((sel, m.bin(b, "arith.ori", even, odd)?))
    }

    /// The e4m3 codes of FP4 codes `4h..4h+4` of packed word `w`, one per byte (exact: e4m3 holds
    /// every FP4 value).
    fn fp4_to_e4m3x4(&self, b: &Block<'c>, w: V, h: u32) -> Result<V, LoweringError> {
        let m = &self.m;
        let (sel, sign) = self.fp4_quad(b, w, h)?;
        let (lo, hi) = (word(m, b, E4M3_OF_MAG.0)?, word(m, b, E4M3_OF_MAG.1)?);
        let mag = self.prmt(b, lo, hi, sel)?;
        m.bin(b, "arith.ori", mag, sign)
    }

    /// The bf16 values of FP4 codes `4h..4h+4` of packed word `w`, two per word (code `4h` in the
    /// low half of the first).
    fn fp4_to_bf16x2(&self, b: &Block<'c>, w: V, h: u32) -> Result<[V; 2], LoweringError> {
        let m = &self.m;
        let c = |x: u32| word(m, b, x);
        let (sel, sign) = self.fp4_quad(b, w, h)?;
        let his = self.prmt(b, c(BF16_HI_OF_MAG.0)?, c(BF16_HI_OF_MAG.1)?, sel)?;
        let his = m.bin(b, "arith.ori", his, sign)?;
        let los = self.prmt(b, c(BF16_LO_OF_MAG.0)?, c(BF16_LO_OF_MAG.1)?, sel)?;
        // [lo0, hi0, lo1, hi1] and [lo2, hi2, lo3, hi3].
        Ok([
            self.prmt(b, los, his, c(BF16_PAIRS[0])?)?,
            self.prmt(b, los, his, c(BF16_PAIRS[1])?)?,
        ])
    }

    /// `s` (f32, a value bf16 holds exactly) as both halves of a bf16x2 word.
    fn bf16x2_splat(&self, b: &Block<'c>, s: V) -> Result<V, LoweringError> {
        let m = &self.m;
        let bf = m.elem(DType::BF16, self.span)?;
        let h = m.conv(b, "arith.truncf", s, bf)?;
        let h = m.conv(b, "arith.bitcast", h, m.i(16))?;
        let h = m.conv(b, "arith.extui", h, m.i(32))?;
        let hi = m.bin(b, "arith.shli", h, word(m, b, 16)?)?;
        let w = m.bin(b, "arith.ori", h, hi)?;
        // (An i32 to a 2-vector: the LLVM dialect's bitcast, which `arith.bitcast` is not.)
        m.conv(b, "llvm.bitcast", w, Type::vector(&[2], bf))
    }

    /// Both bf16 halves of `pair` times the bf16x2 `s2` in one multiply (`mul.rn.bf16x2`): the
    /// products are exact (`exact_bf16_scale`), so these are the bits `scale_bf16x2` gives.
    fn mul_bf16x2(&self, b: &Block<'c>, pair: V, s2: V) -> Result<V, LoweringError> {
        let m = &self.m;
        let v2 = Type::vector(&[2], m.elem(DType::BF16, self.span)?);
        let p = m.conv(b, "llvm.bitcast", pair, v2)?;
        let r = m.bin(b, "arith.mulf", p, s2)?;
        m.conv(b, "llvm.bitcast", r, m.i(32))
    }

    /// Both bf16 halves of `pair` times `s` (f32), rounded to bf16 (round to nearest even, as
    /// `dequant` casts).
    fn scale_bf16x2(&self, b: &Block<'c>, pair: V, s: V) -> Result<V, LoweringError> {
        let m = &self.m;
        let c = |x: u32| word(m, b, x);
        let lo = m.bin(b, "arith.shli", pair, c(16)?)?;
        let hi = m.bin(b, "arith.andi", pair, c(0xFFFF_0000)?)?;
        let f = m.f32();
        let lo = m.conv(b, "arith.bitcast", lo, f)?;
        let hi = m.conv(b, "arith.bitcast", hi, f)?;
        let lo = m.bin(b, "arith.mulf", lo, s)?;
        let hi = m.bin(b, "arith.mulf", hi, s)?;
        let bf = m.elem(DType::BF16, self.span)?;
        let lo = m.conv(b, "arith.truncf", lo, bf)?;
        let hi = m.conv(b, "arith.truncf", hi, bf)?;
        let lo = m.conv(b, "arith.bitcast", lo, m.i(16))?;
        let hi = m.conv(b, "arith.bitcast", hi, m.i(16))?;
        let lo = m.conv(b, "arith.extui", lo, m.i(32))?;
        let hi = m.conv(b, "arith.extui", hi, m.i(32))?;
        let hi = m.bin(b, "arith.shli", hi, c(16)?)?;
        m.bin(b, "arith.ori", lo, hi)
    }
}

#[cfg(test)]
mod tests {
    //! The byte tables and bit moves of the conversions (the constants the emitter uses, in the
    //! emitter's order of operations), replayed on the CPU (a model of PTX `prmt` in its default
    //! mode) against tessera-formats' codecs for every packed word pattern of each code in each
    //! position.
    use super::*;
    use tessera_formats::{Format, decode, encode};

    /// PTX `prmt.b32` default mode: byte i of the result is byte `sel[4i..4i+3] & 7` of `hi:lo`,
    /// or that byte's sign replicated when the selector nibble's bit 3 is set.
    fn prmt(lo: u32, hi: u32, sel: u32) -> u32 {
        let pool = (u64::from(hi) << 32) | u64::from(lo);
        (0..4).fold(0, |acc, i| {
            let s = (sel >> (4 * i)) & 0xF;
            let byte = ((pool >> (8 * (s & 7))) & 0xFF) as u32;
            let byte = if s & 8 != 0 {
                if byte & 0x80 != 0 { 0xFF } else { 0 }
            } else {
                byte
            };
            acc | (byte << (8 * i))
        })
    }

    /// `fp4_quad` on the CPU.
    fn quad(w: u32, h: u32) -> (u32, u32) {
        let x = if h == 0 { w } else { w >> 16 };
        let sel = x & MAG_BITS;
        let s = prmt(x, 0, SIGN_DUP) & SIGN_KEEP;
        (sel, ((s & SIGN_EVEN) << 4) | (s & SIGN_ODD))
    }

    /// Packed words holding code `c` at position `pos` and other codes around it.
    fn words(c: u32, pos: u32) -> impl Iterator<Item = u32> {
        [0u32, 0xFFFF_FFFF, 0x8888_8888, 0x7777_7777, 0x1234_5678]
            .into_iter()
            .map(move |bg| (bg & !(0xF << (4 * pos))) | (c << (4 * pos)))
    }

    #[test]
    fn fp4_times_scales_is_exact_in_bf16() {
        // `mul_bf16x2` against `scale_bf16x2`: every e8m0 and ue4m3 scale is a bf16 value, and
        // every FP4 value times it is exact in f32 (at most 6 significant bits, inside f32's
        // range down to its subnormals) or past bf16's largest finite value (both round to the
        // same infinity): so rounding the exact product once to bf16 (a bf16 multiply) and
        // rounding the f32 product to bf16 agree.
        let bf16_max = f64::from(f32::from_bits(0x7F7F_0000));
        for (fmt, n) in [(Format::E8M0, 256u16), (Format::UE4M3, 128)] {
            assert!(exact_bf16_scale(if fmt == Format::E8M0 {
                DType::E8M0
            } else {
                DType::UE4M3
            }));
            for sc in 0..n {
                let s = decode(fmt, sc);
                if s.is_nan() {
                    continue;
                }
                assert_eq!(
                    s.to_bits() & 0xFFFF,
                    0,
                    "{fmt:?} scale {sc:#x} = {s:e} is not a bf16 value"
                );
                for c in 0..16u16 {
                    let x = f64::from(decode(Format::F4E2M1, c));
                    let p = x * f64::from(s);
                    let exact = f64::from(p as f32) == p;
                    assert!(
                        exact || p.abs() > bf16_max,
                        "{x} x {fmt:?} {sc:#x} = {p:e} is neither exact in f32 nor past bf16's range"
                    );
                }
            }
        }
        assert!(!exact_bf16_scale(DType::F32));
    }

    #[test]
    fn e4m3_bytes_are_the_fp4_values_reencoded() {
        for c in 0..16u32 {
            let want = encode(Format::F8E4M3, decode(Format::F4E2M1, c as u16)) as u32;
            for pos in 0..8 {
                for w in words(c, pos) {
                    let (sel, sign) = quad(w, pos / 4);
                    let out = prmt(E4M3_OF_MAG.0, E4M3_OF_MAG.1, sel) | sign;
                    let got = (out >> (8 * (pos % 4))) & 0xFF;
                    assert_eq!(got, want, "code {c:#x} at nibble {pos} of {w:#010x}");
                }
            }
        }
    }

    #[test]
    fn bf16_halves_are_the_fp4_values() {
        for c in 0..16u32 {
            let v = decode(Format::F4E2M1, c as u16);
            let want = v.to_bits() >> 16;
            assert_eq!(v.to_bits() & 0xFFFF, 0, "FP4 values are exact in bf16");
            for pos in 0..8 {
                for w in words(c, pos) {
                    let (sel, sign) = quad(w, pos / 4);
                    let his = prmt(BF16_HI_OF_MAG.0, BF16_HI_OF_MAG.1, sel) | sign;
                    let los = prmt(BF16_LO_OF_MAG.0, BF16_LO_OF_MAG.1, sel);
                    let pairs = BF16_PAIRS.map(|sel| prmt(los, his, sel));
                    let j = pos % 4;
                    let got = (pairs[(j / 2) as usize] >> (16 * (j % 2))) & 0xFFFF;
                    assert_eq!(got, want, "code {c:#x} at nibble {pos} of {w:#010x}");
                }
            }
        }
    }
}
