//! Distributed layouts: which thread register holds which tile element, as data.
//!
//! A [`LinearLayout`] maps the bits of a hardware index — `(register, lane, warp)` of one CTA — to
//! tile coordinates, linearly over GF(2): each index bit has a *basis vector* (one coordinate per
//! tile dim) and the coordinates of an element are the XOR of the basis vectors of the bits that
//! are set. This is the representation of Triton's `LinearLayout` and of the "Linear Layouts"
//! paper (arXiv 2505.23819), written from the idea, not the code. Blocked layouts, slices (a
//! reduced axis), MMA accumulators and operand fragments are all constructors of this one type,
//! and everything the lowering needs — "which element does register r of this thread hold",
//! "which index bits walk along axis d", "which elements are duplicated" — is a generic query.
//!
//! Tile extents need not be powers of two: a layout covers the *padded* shape (each extent rounded
//! up to a power of two), and elements outside the logical shape are dead (masked on memory access,
//! neutral in reductions).
//!
//! Duplication is allowed: a basis vector may be zero (the bit selects a copy of the same
//! element, e.g. lanes beyond a small tile, or the reduced axis of a slice). The non-zero basis
//! vectors must be linearly independent and span the padded shape, so every element has exactly
//! one *owner*: the index whose zero-basis bits are all 0. Side effects (stores, atomics) are
//! performed by owners only.

use serde::{Deserialize, Serialize};

/// The padded extent of a tile dim: the next power of two.
pub fn padded_extent(n: u32) -> u32 {
    n.max(1).next_power_of_two()
}

/// A register/lane/warp → tile-coordinate map over GF(2) (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinearLayout {
    /// One basis vector per register-index bit; each has one coordinate per tile dim.
    pub reg: Vec<Vec<u32>>,
    /// One basis vector per lane-index bit (log2 of the warp size of them).
    pub lane: Vec<Vec<u32>>,
    /// One basis vector per warp-index bit (log2 of the warps per CTA).
    pub warp: Vec<Vec<u32>>,
}

/// The hardware index dims of a [`LinearLayout`], in the order used by the text form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HwDim {
    Reg,
    Lane,
    Warp,
}

fn xor_into(acc: &mut [u32], v: &[u32]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a ^= *b;
    }
}

impl LinearLayout {
    pub fn rank(&self) -> usize {
        self.reg
            .iter()
            .chain(&self.lane)
            .chain(&self.warp)
            .map(Vec::len)
            .next()
            .unwrap_or(0)
    }

    pub fn bases(&self, d: HwDim) -> &[Vec<u32>] {
        match d {
            HwDim::Reg => &self.reg,
            HwDim::Lane => &self.lane,
            HwDim::Warp => &self.warp,
        }
    }

    /// Registers per thread (duplicates included).
    pub fn num_regs(&self) -> usize {
        1 << self.reg.len()
    }

    /// The coordinates held by register `r` of lane `l` of warp `w`.
    pub fn apply(&self, rank: usize, r: u32, l: u32, w: u32) -> Vec<u32> {
        let mut c = vec![0; rank];
        for (bases, idx) in [(&self.reg, r), (&self.lane, l), (&self.warp, w)] {
            for (i, b) in bases.iter().enumerate() {
                if idx >> i & 1 == 1 {
                    xor_into(&mut c, b);
                }
            }
        }
        c
    }

    /// The coordinates contributed by the register bits alone (compile-time part of an address).
    pub fn reg_coords(&self, rank: usize, r: u32) -> Vec<u32> {
        self.apply(rank, r, 0, 0)
    }

    /// Whether register `r` is the owner copy among the registers of one thread (its zero-basis
    /// register bits are all 0).
    pub fn reg_is_owner(&self, r: u32) -> bool {
        self.reg
            .iter()
            .enumerate()
            .all(|(i, b)| r >> i & 1 == 0 || b.iter().any(|x| *x != 0))
    }

    /// Index bits of `d` whose basis vector is zero (duplicating bits): the owner has them clear.
    pub fn zero_bits(&self, d: HwDim) -> Vec<u32> {
        self.bases(d)
            .iter()
            .enumerate()
            .filter(|(_, b)| b.iter().all(|x| *x == 0))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Checks the layout against the tile `shape`: one coordinate per dim in every basis vector,
    /// coordinates inside the padded shape, `lanes`/`warps` bits as given, non-zero bases linearly
    /// independent and spanning the padded shape.
    pub fn check(&self, shape: &[u32], lane_bits: usize, warp_bits: usize) -> Result<(), String> {
        let padded: Vec<u32> = shape.iter().map(|d| padded_extent(*d)).collect();
        if self.lane.len() != lane_bits {
            return Err(format!(
                "{} lane bases, the target's warp has {lane_bits} lane bits",
                self.lane.len()
            ));
        }
        if self.warp.len() != warp_bits {
            return Err(format!(
                "{} warp bases, the kernel has {warp_bits} warp bits",
                self.warp.len()
            ));
        }
        let mut basis_rows: Vec<u64> = Vec::new();
        for (name, bases) in [("reg", &self.reg), ("lane", &self.lane), ("warp", &self.warp)] {
            for (i, b) in bases.iter().enumerate() {
                if b.len() != shape.len() {
                    return Err(format!(
                        "{name} basis {i} has {} coordinates for a rank-{} tile",
                        b.len(),
                        shape.len()
                    ));
                }
                for (d, (x, p)) in b.iter().zip(&padded).enumerate() {
                    if x >= p {
                        return Err(format!(
                            "{name} basis {i} coordinate {x} is outside dim {d} (padded extent {p})"
                        ));
                    }
                }
                if b.iter().any(|x| *x != 0) {
                    basis_rows.push(pack(b, &padded));
                }
            }
        }
        let total_bits: u32 = padded.iter().map(|p| p.trailing_zeros()).sum();
        if total_bits > 63 {
            return Err("tile too large for a layout (more than 2^63 elements)".into());
        }
        let rank = gf2_rank(&basis_rows);
        if rank != basis_rows.len() {
            return Err(
                "non-zero basis vectors are linearly dependent (an element would have two owners)".into(),
            );
        }
        if rank as u32 != total_bits {
            return Err(format!(
                "the layout covers 2^{rank} elements of a padded tile of 2^{total_bits}"
            ));
        }
        Ok(())
    }

    /// Whether every basis vector is zero or points along one dim only; reductions and
    /// broadcasts are lowered per axis on such layouts.
    pub fn is_axis_separable(&self) -> bool {
        self.reg
            .iter()
            .chain(&self.lane)
            .chain(&self.warp)
            .all(|b| b.iter().filter(|x| **x != 0).count() <= 1)
    }

    /// The same layout on a tile with dim `axis` removed (the result of a reduction along it):
    /// register bits along `axis` disappear (combined in-thread), lane and warp bits along it
    /// become duplicating bits (combined by shuffles / shared memory, after which every copy holds
    /// the result). Requires an axis-separable layout.
    pub fn slice(&self, axis: usize) -> LinearLayout {
        let drop = |b: &Vec<u32>| {
            let mut v = b.clone();
            v.remove(axis);
            v
        };
        LinearLayout {
            reg: self.reg.iter().filter(|b| b[axis] == 0).map(drop).collect(),
            lane: self.lane.iter().map(drop).collect(),
            warp: self.warp.iter().map(drop).collect(),
        }
    }

    /// The register bits of `self` that survive [`LinearLayout::slice`] along `axis`, in order
    /// (register `i` of the slice is the register of `self` whose surviving bits spell `i` and
    /// whose `axis` bits are 0).
    pub fn reg_bits_off_axis(&self, axis: usize) -> Vec<u32> {
        (0..self.reg.len() as u32)
            .filter(|i| self.reg[*i as usize][axis] == 0)
            .collect()
    }

    /// Insert a size-1 dim at `axis` (coordinate 0 in every basis).
    pub fn expand_dims(&self, axis: usize) -> LinearLayout {
        let ins = |b: &Vec<u32>| {
            let mut v = b.clone();
            v.insert(axis, 0);
            v
        };
        LinearLayout {
            reg: self.reg.iter().map(ins).collect(),
            lane: self.lane.iter().map(ins).collect(),
            warp: self.warp.iter().map(ins).collect(),
        }
    }

    /// Remove a size-1 dim at `axis` (the inverse of [`LinearLayout::expand_dims`]).
    pub fn squeeze(&self, axis: usize) -> LinearLayout {
        let del = |b: &Vec<u32>| {
            let mut v = b.clone();
            v.remove(axis);
            v
        };
        LinearLayout {
            reg: self.reg.iter().map(del).collect(),
            lane: self.lane.iter().map(del).collect(),
            warp: self.warp.iter().map(del).collect(),
        }
    }

    /// The layout of a broadcast's source, given the broadcast result's layout: the coordinates
    /// along the broadcast dims (`dims[d]` true) are zeroed; register bits that then select
    /// nothing are dropped (register `i` of the source is the result register whose surviving
    /// bits spell `i`, see [`LinearLayout::reg_bits_kept`]); lane and warp bits along those dims
    /// become duplicating bits. So every thread already holds the source element of each of its
    /// result elements: a broadcast moves no data.
    pub fn project(&self, dims: &[bool]) -> LinearLayout {
        let z = |b: &Vec<u32>| {
            b.iter()
                .zip(dims)
                .map(|(x, d)| if *d { 0 } else { *x })
                .collect::<Vec<u32>>()
        };
        LinearLayout {
            reg: self
                .reg
                .iter()
                .map(z)
                .filter(|b| b.iter().any(|x| *x != 0))
                .collect(),
            lane: self.lane.iter().map(z).collect(),
            warp: self.warp.iter().map(z).collect(),
        }
    }

    /// The register bits of `self` that survive [`LinearLayout::project`] onto `dims`.
    pub fn reg_bits_kept(&self, dims: &[bool]) -> Vec<u32> {
        (0..self.reg.len() as u32)
            .filter(|i| {
                self.reg[*i as usize]
                    .iter()
                    .zip(dims)
                    .any(|(x, d)| !*d && *x != 0)
            })
            .collect()
    }

    /// The layout of the rank-1 tile indexed by dim `d` of this layout's tile (the index tile of
    /// a gather along `d`): each thread holds the index of every one of its elements.
    pub fn along(&self, d: usize) -> LinearLayout {
        let dims: Vec<bool> = (0..self.rank()).map(|i| i != d).collect();
        let mut p = self.project(&dims);
        for i in (0..self.rank()).rev() {
            if i != d {
                p = p.squeeze(i);
            }
        }
        p
    }

    /// Swap the two dims of a rank-2 layout.
    pub fn transpose(&self) -> LinearLayout {
        let t = |b: &Vec<u32>| b.iter().rev().copied().collect::<Vec<u32>>();
        LinearLayout {
            reg: self.reg.iter().map(t).collect(),
            lane: self.lane.iter().map(t).collect(),
            warp: self.warp.iter().map(t).collect(),
        }
    }

    /// The same layout with tile dims `a` and `b` exchanged in every basis (a transpose for any
    /// rank): a layout built for the permuted shape, mapped back.
    pub fn swap_dims(&self, a: usize, b: usize) -> LinearLayout {
        let t = |v: &Vec<u32>| {
            let mut v = v.clone();
            v.swap(a, b);
            v
        };
        LinearLayout {
            reg: self.reg.iter().map(t).collect(),
            lane: self.lane.iter().map(t).collect(),
            warp: self.warp.iter().map(t).collect(),
        }
    }

    /// Register bits `0..k` walk contiguously along dim `d` (register `i < 2^k` holds coordinate
    /// `i` along `d` plus the same offset): the largest such `2^k` is the vector width of a
    /// memory access along a contiguous `d`.
    pub fn contiguous_regs(&self, d: usize) -> u32 {
        let mut k = 0;
        while k < self.reg.len() {
            let b = &self.reg[k];
            let want = 1u32 << k;
            if b.iter()
                .enumerate()
                .all(|(i, x)| if i == d { *x == want } else { *x == 0 })
            {
                k += 1;
            } else {
                break;
            }
        }
        1 << k
    }

    /// A blocked layout: `vec` consecutive elements of the last dim per register group, lanes
    /// filling the fastest dims first (coalesced along the last dim), warps filling the slowest
    /// dims first (so a row reduction usually stays inside a warp), and the rest of the tile as
    /// more registers. Bits that run out of tile are duplicating (zero) bits.
    pub fn blocked(shape: &[u32], vec: u32, lane_bits: usize, warp_bits: usize) -> LinearLayout {
        let rank = shape.len();
        let padded: Vec<u32> = shape.iter().map(|d| padded_extent(*d)).collect();
        let mut filled = vec![0u32; rank]; // log2 of the extent covered so far, per dim
        let left = |filled: &[u32], d: usize| padded[d].trailing_zeros() - filled[d];
        let unit = |d: usize, bit: u32| {
            let mut v = vec![0u32; rank];
            v[d] = 1 << bit;
            v
        };
        let mut reg = Vec::new();
        if rank > 0 {
            let last = rank - 1;
            let vb = vec.max(1).trailing_zeros().min(left(&filled, last));
            for _ in 0..vb {
                reg.push(unit(last, filled[last]));
                filled[last] += 1;
            }
        }
        let mut lane = Vec::new();
        for _ in 0..lane_bits {
            match (0..rank).rev().find(|d| left(&filled, *d) > 0) {
                Some(d) => {
                    lane.push(unit(d, filled[d]));
                    filled[d] += 1;
                }
                None => lane.push(vec![0; rank]),
            }
        }
        let mut warp = Vec::new();
        for _ in 0..warp_bits {
            match (0..rank).find(|d| left(&filled, *d) > 0) {
                Some(d) => {
                    warp.push(unit(d, filled[d]));
                    filled[d] += 1;
                }
                None => warp.push(vec![0; rank]),
            }
        }
        for d in (0..rank).rev() {
            while left(&filled, d) > 0 {
                reg.push(unit(d, filled[d]));
                filled[d] += 1;
            }
        }
        LinearLayout { reg, lane, warp }
    }

    /// The wgmma accumulator fragment (PTX ISA 9.7.15.5.1, "Matrix fragments for wgmma .m64nNk*"),
    /// tiled over an `[m, n]` tile by `warp_bits - 2` warpgroups along M and then by registers:
    /// within a warp, lane `4·r + c` holds rows `r` and `r + 8`, columns `2c, 2c + 1` of each 8-column
    /// group; warp `w` of a warpgroup holds rows `16w .. 16w + 16`. A tile smaller than the atom
    /// (`m < 64` or `n < 8`) is computed padded: the bits that would address rows or columns past
    /// the tile are duplicating (zero) bits, so the register numbering stays that of the atom.
    pub fn wgmma_acc(m: u32, n: u32, lane_bits: usize, warp_bits: usize) -> Option<LinearLayout> {
        let (pm, pn) = (padded_extent(m), padded_extent(n));
        if lane_bits != 5 || warp_bits < 2 {
            return None;
        }
        let (mm, nn) = (pm.max(64), pn.max(8));
        let v = |r: u32, c: u32| vec![r, c];
        let mut reg = vec![v(0, 1), v(8, 0)];
        let lane = vec![v(0, 2), v(0, 4), v(1, 0), v(2, 0), v(4, 0)];
        let mut warp = vec![v(16, 0), v(32, 0)];
        let mut rows = 64u32;
        for _ in 2..warp_bits {
            if rows < mm {
                warp.push(v(rows, 0));
                rows *= 2;
            } else {
                warp.push(v(0, 0));
            }
        }
        let mut cols = 8u32;
        while cols < nn {
            reg.push(v(0, cols));
            cols *= 2;
        }
        while rows < mm {
            reg.push(v(rows, 0));
            rows *= 2;
        }
        let clip = |b: &mut Vec<u32>| {
            if b[0] >= pm || b[1] >= pn {
                b.iter_mut().for_each(|x| *x = 0);
            }
        };
        let mut l = LinearLayout { reg, lane, warp };
        l.reg.iter_mut().for_each(clip);
        l.lane.iter_mut().for_each(clip);
        l.warp.iter_mut().for_each(clip);
        Some(l)
    }
}

/// A shared-memory placement of a tile: row-major over the padded shape in `order` (fastest dim
/// first), with an XOR swizzle of `vec`-element groups: the group index within a row is XORed
/// with `(row / per_phase) % max_phase`. `max_phase = 1` is no swizzle. The NVMMA 128-byte
/// swizzle of 16-bit elements is `vec = 8, per_phase = 1, max_phase = 8`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SharedLayout {
    pub order: Vec<u32>,
    pub vec: u32,
    pub per_phase: u32,
    pub max_phase: u32,
}

impl SharedLayout {
    /// Unswizzled, row-major (last dim fastest).
    pub fn row_major(rank: usize) -> SharedLayout {
        SharedLayout {
            order: (0..rank as u32).rev().collect(),
            vec: 1,
            per_phase: 1,
            max_phase: 1,
        }
    }

    pub fn check(&self, shape: &[u32]) -> Result<(), String> {
        let mut seen: Vec<u32> = self.order.clone();
        seen.sort_unstable();
        if seen != (0..shape.len() as u32).collect::<Vec<_>>() {
            return Err(format!(
                "order {:?} is not a permutation of the tile's dims",
                self.order
            ));
        }
        for (name, v) in [
            ("vec", self.vec),
            ("per_phase", self.per_phase),
            ("max_phase", self.max_phase),
        ] {
            if !v.is_power_of_two() {
                return Err(format!("{name} = {v} is not a power of two"));
            }
        }
        Ok(())
    }

    /// Element offset of `coords` (padded shape `padded`) in the shared buffer.
    pub fn offset(&self, coords: &[u32], padded: &[u32]) -> u64 {
        let fast = self.order.first().map_or(0, |d| *d as usize);
        let row_len = padded.get(fast).copied().unwrap_or(1) as u64;
        let mut row = 0u64;
        let mut stride = 1u64;
        for d in self.order.iter().skip(1) {
            row += coords[*d as usize] as u64 * stride;
            stride *= padded[*d as usize] as u64;
        }
        let col = coords.get(fast).copied().unwrap_or(0) as u64;
        let vec = self.vec as u64;
        let phase = (row / self.per_phase as u64) % self.max_phase as u64;
        let group = (col / vec) ^ phase;
        row * row_len + group * vec + col % vec
    }
}

/// The tile-IR view of a distributed-level kernel: every layout erased, `convert_layout` ops
/// removed (their uses read the converted value), no `cta`. Consumers that predate the
/// distributed level read this view.
pub fn erase_layouts(k: &crate::Kernel) -> crate::Kernel {
    use crate::{Block, OpKind, TileLayout, Type, ValueId};
    use std::collections::HashMap;
    fn strip(b: &Block, alias: &mut HashMap<ValueId, ValueId>) -> Block {
        let mut ops = Vec::with_capacity(b.ops.len());
        for op in &b.ops {
            if let OpKind::ConvertLayout { x } = op.kind {
                let src = *alias.get(&x).unwrap_or(&x);
                for r in &op.results {
                    alias.insert(*r, src);
                }
                continue;
            }
            let mut op = op.clone();
            for blk in op.kind.blocks_mut() {
                *blk = strip(blk, alias);
            }
            rename(&mut op.kind, alias);
            ops.push(op);
        }
        Block {
            args: b.args.clone(),
            ops,
        }
    }
    fn rename(k: &mut OpKind, alias: &HashMap<ValueId, ValueId>) {
        k.for_each_operand_mut(|v| {
            if let Some(a) = alias.get(v) {
                *v = *a;
            }
        });
    }
    let mut out = k.clone();
    let mut alias = HashMap::new();
    out.body = strip(&k.body, &mut alias);
    out.cta = None;
    for v in &mut out.values {
        if let Type::Tile(t) = &mut v.ty {
            t.layout = TileLayout::Logical;
        }
    }
    out
}

/// Pack a coordinate vector into one integer: dim `d`'s bits above the bits of the later dims.
fn pack(c: &[u32], padded: &[u32]) -> u64 {
    let mut out = 0u64;
    for (x, p) in c.iter().zip(padded) {
        out = (out << p.trailing_zeros()) | *x as u64;
    }
    out
}

/// Rank of a set of GF(2) row vectors.
fn gf2_rank(rows: &[u64]) -> usize {
    let mut basis: Vec<u64> = Vec::new();
    for r in rows {
        let mut x = *r;
        for b in &basis {
            x = x.min(x ^ b);
        }
        if x != 0 {
            basis.push(x);
            basis.sort_unstable_by(|a, b| b.cmp(a));
        }
    }
    basis.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers_once(l: &LinearLayout, shape: &[u32]) {
        l.check(shape, 5, l.warp.len()).unwrap();
        let padded: Vec<u32> = shape.iter().map(|d| padded_extent(*d)).collect();
        let n: usize = padded.iter().map(|p| *p as usize).product();
        let mut owners = vec![0u32; n];
        for w in 0..1u32 << l.warp.len() {
            for ln in 0..32u32 {
                for r in 0..l.num_regs() as u32 {
                    let c = l.apply(shape.len(), r, ln, w);
                    let owner = l.reg_is_owner(r)
                        && l.zero_bits(HwDim::Lane).iter().all(|b| ln >> b & 1 == 0)
                        && l.zero_bits(HwDim::Warp).iter().all(|b| w >> b & 1 == 0);
                    if owner {
                        let mut lin = 0usize;
                        for (x, p) in c.iter().zip(&padded) {
                            lin = lin * *p as usize + *x as usize;
                        }
                        owners[lin] += 1;
                    }
                }
            }
        }
        assert!(
            owners.iter().all(|o| *o == 1),
            "every element has exactly one owner"
        );
    }

    #[test]
    fn blocked_layouts_cover_every_element_once() {
        for shape in [
            vec![1024],
            vec![64, 256],
            vec![128, 64],
            vec![3, 5],
            vec![2, 4, 8],
            vec![1],
            vec![16, 1],
        ] {
            for vec in [1, 4] {
                for wb in [0, 2, 3] {
                    covers_once(&LinearLayout::blocked(&shape, vec, 5, wb), &shape);
                }
            }
        }
    }

    #[test]
    fn blocked_is_coalesced_and_vectorised() {
        let l = LinearLayout::blocked(&[64, 256], 4, 5, 2);
        assert_eq!(l.contiguous_regs(1), 4);
        assert_eq!(l.lane[0], vec![0, 4], "lane 1 starts 4 elements after lane 0");
        assert_eq!(l.warp[0], vec![1, 0], "warps split rows");
    }

    #[test]
    fn wgmma_accumulator_matches_the_ptx_fragment() {
        let l = LinearLayout::wgmma_acc(64, 64, 5, 2).unwrap();
        covers_once(&l, &[64, 64]);
        // PTX ISA: lane l, register pair i: row = 8*(i%2) + l/4 (+16 w), col = 8*(i/2) + 2*(l%4) + (i%2 of pair)
        for w in 0..4u32 {
            for ln in 0..32u32 {
                for r in 0..l.num_regs() as u32 {
                    let c = l.apply(2, r, ln, w);
                    let (pair, half) = (r / 2, r % 2);
                    let row = 16 * w + ln / 4 + 8 * (pair % 2);
                    let col = 8 * (pair / 2) + 2 * (ln % 4) + half;
                    assert_eq!(c, vec![row, col], "w{w} l{ln} r{r}");
                }
            }
        }
        covers_once(&LinearLayout::wgmma_acc(128, 256, 5, 3).unwrap(), &[128, 256]);
        // Tiles smaller than the m64n8 atom are computed padded, with duplicating bits.
        for (m, n) in [(32, 64), (16, 16), (8, 4), (64, 8)] {
            let l = LinearLayout::wgmma_acc(m, n, 5, 2).unwrap();
            covers_once(&l, &[m, n]);
            assert_eq!(
                l.num_regs(),
                LinearLayout::wgmma_acc(64, n.max(8), 5, 2).unwrap().num_regs()
            );
        }
        covers_once(&LinearLayout::wgmma_acc(256, 128, 5, 3).unwrap(), &[256, 128]);
    }

    #[test]
    fn slice_and_expand_keep_coverage() {
        let l = LinearLayout::blocked(&[64, 256], 4, 5, 2);
        let s = l.slice(1);
        covers_once(&s, &[64]);
        let e = s.expand_dims(1);
        covers_once(&e, &[64, 1]);
        let p = l.project(&[false, true]);
        covers_once(&p, &[64, 1]);
        let t = l.transpose();
        covers_once(&t, &[256, 64]);
    }

    #[test]
    fn check_rejects_bad_layouts() {
        let mut l = LinearLayout::blocked(&[64, 64], 1, 5, 2);
        l.reg[0] = l.lane[0].clone();
        assert!(l.check(&[64, 64], 5, 2).unwrap_err().contains("dependent"));
        let l = LinearLayout::blocked(&[64, 64], 1, 5, 2);
        assert!(l.check(&[64, 128], 5, 2).is_err());
        assert!(l.check(&[64, 64], 5, 3).is_err());
    }

    #[test]
    fn swizzle_is_a_permutation() {
        let s = SharedLayout {
            order: vec![1, 0],
            vec: 8,
            per_phase: 1,
            max_phase: 8,
        };
        let padded = [16u32, 64];
        let mut seen = vec![false; 16 * 64];
        for r in 0..16 {
            for c in 0..64 {
                let o = s.offset(&[r, c], &padded) as usize;
                assert!(!seen[o]);
                seen[o] = true;
            }
        }
    }
}
