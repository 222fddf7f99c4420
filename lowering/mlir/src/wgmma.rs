//! wgmma details in one place: the accumulator fragment type and layout, the 64-bit shared-memory
//! matrix descriptor, and each thread's coordinates in the fragment (the attention schedule's).
//!
//! Descriptor (PTX ISA "matrix descriptor", K-major, W-byte swizzle, W = 128/64/32):
//! bits 0-13 start address >> 4; bits 16-29 leading-dimension byte offset >> 4 (unused for swizzled
//! K-major layouts, set to 1); bits 32-45 stride byte offset >> 4 = 8*W >> 4 (the distance between
//! 8-row groups: 8 rows x W bytes; 1024 B for 128B); bits 49-51 base offset = 0 (atoms are
//! aligned); bits 62-63 swizzle mode, 1 = 128B, 2 = 64B, 3 = 32B.
//!
//! Fragment (m64nNk*, f32 accumulators): register i of thread t of the warpgroup holds
//! row 16*(t/32) + (t%32)/4 + 8*((i/2)%2), column 8*(i/4) + 2*(t%4) + i%2.

use crate::text::Body;

/// Bits 16.. of the descriptor for a swizzle width of `w` bytes: LBO = 1 (unused), SBO = 8 rows x
/// `w` bytes, swizzle mode 1 = 128B, 2 = 64B, 3 = 32B.
fn desc_high(w: u32) -> u64 {
    let mode: u64 = match w {
        128 => 1,
        64 => 2,
        _ => 3,
    };
    (mode << 62) | (((8 * w as u64) >> 4) << 32) | (1 << 16)
}

/// `!llvm.struct<(f32 x N/2)>`: one thread's share of an m64nN f32 accumulator.
pub(crate) fn acc_struct(bn: u32) -> String {
    let fields = vec!["f32"; (bn / 2) as usize].join(", ");
    format!("!llvm.struct<({fields})>")
}

/// The register index holding (row half `h`, column group `j`, column parity `e`).
pub(crate) fn reg_index(h: u32, j: u32, e: u32) -> u32 {
    4 * j + 2 * h + e
}

/// Descriptor of the K-major operand swizzled `swizzle` bytes wide at smem byte address `addr` (i64).
pub(crate) fn descriptor(b: &mut Body, addr: &str, swizzle: u32) -> String {
    let mask = b.i64(0x3FFFF);
    let four = b.i64(4);
    let hi = b.i64(desc_high(swizzle) as i64);
    let m = b.op("desc", format!("arith.andi {addr}, {mask} : i64"));
    let s = b.op("desc", format!("arith.shrui {m}, {four} : i64"));
    b.op("desc", format!("arith.ori {s}, {hi} : i64"))
}

/// The descriptor `bytes` further along (bytes must be a multiple of 16; the start-address field
/// cannot carry out because shared memory is below 256 KiB).
pub(crate) fn advance(b: &mut Body, desc: &str, bytes: u32) -> String {
    if bytes == 0 {
        return desc.to_string();
    }
    let d = b.i64((bytes >> 4) as i64);
    b.op("desc", format!("arith.addi {desc}, {d} : i64"))
}

/// Per-thread coordinates every part of the kernel uses.
pub(crate) struct Geometry {
    pub is0: String,
    /// Tile-local row of accumulator registers with (i / 2) % 2 == h, for h = 0, 1.
    pub rows: [String; 2],
    /// 2 * (lane % 4): the column of register 0 within each 8-column group.
    pub col_base: String,
    pub wg: String,
}

pub(crate) fn thread_geometry(b: &mut Body) -> Geometry {
    let tid = b.op("tid", "nvvm.read.ptx.sreg.tid.x : i32");
    let c128 = b.i32(128);
    let c32 = b.i32(32);
    let c4 = b.i32(4);
    let wg = b.op("wg", format!("arith.divui {tid}, {c128} : i32"));
    let t = b.op("t", format!("arith.remui {tid}, {c128} : i32"));
    let warp = b.op("warp", format!("arith.divui {t}, {c32} : i32"));
    let lane = b.op("lane", format!("arith.remui {t}, {c32} : i32"));
    let zero = b.i32(0);
    let is0 = b.op("is0", format!("arith.cmpi eq, {tid}, {zero} : i32"));
    // Fragment layout of wgmma m64nNk*: thread t of a warpgroup holds rows 16*(t/32) + (t%32)/4
    // and +8, columns 8*j + 2*(t%4) and +1 (see wgmma.rs).
    let c64 = b.i32(64);
    let c16 = b.i32(16);
    let wrow = b.op("r", format!("arith.muli {wg}, {c64} : i32"));
    let w16 = b.op("r", format!("arith.muli {warp}, {c16} : i32"));
    let l4 = b.op("r", format!("arith.divui {lane}, {c4} : i32"));
    let r0a = b.op("r", format!("arith.addi {wrow}, {w16} : i32"));
    let r0 = b.op("row", format!("arith.addi {r0a}, {l4} : i32"));
    let c8 = b.i32(8);
    let r1 = b.op("row", format!("arith.addi {r0}, {c8} : i32"));
    let lm4 = b.op("c", format!("arith.remui {lane}, {c4} : i32"));
    let c2 = b.i32(2);
    let col_base = b.op("col", format!("arith.muli {lm4}, {c2} : i32"));
    Geometry {
        is0,
        rows: [r0, r1],
        col_base,
        wg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_high_bits_per_swizzle_mode() {
        // LBO = 1 at bit 16; SBO = 8 rows x W bytes >> 4 at bit 32; mode at bit 62.
        assert_eq!(desc_high(128), (1 << 62) | (64 << 32) | (1 << 16));
        assert_eq!(desc_high(64), (2 << 62) | (32 << 32) | (1 << 16));
        assert_eq!(desc_high(32), (3 << 62) | (16 << 32) | (1 << 16));
    }

    #[test]
    fn register_index_matches_the_ptx_fragment_layout() {
        // PTX ISA wgmma D fragment: register i holds row 8*((i/2)%2) (+ lane/4 + 16*warp) and
        // column 8*(i/4) + i%2 (+ 2*(lane%4)).
        for i in 0..128u32 {
            let (h, j, e) = ((i / 2) % 2, i / 4, i % 2);
            assert_eq!(reg_index(h, j, e), i);
        }
    }
}
