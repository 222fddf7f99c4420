//! wgmma details in one place: the accumulator fragment type and layout, the 64-bit shared-memory
//! matrix descriptor, and the `nvvm.wgmma.mma_async` op text.
//!
//! Descriptor (PTX ISA "matrix descriptor", K-major, W-byte swizzle, W = 128/64/32):
//! bits 0-13 start address >> 4; bits 16-29 leading-dimension byte offset >> 4 (unused for swizzled
//! K-major layouts, set to 1); bits 32-45 stride byte offset >> 4 = 8*W >> 4 (the distance between
//! 8-row groups: 8 rows x W bytes; 1024 B for 128B); bits 49-51 base offset = 0 (atoms are
//! aligned); bits 62-63 swizzle mode, 1 = 128B, 2 = 64B, 3 = 32B.
//!
//! Fragment (m64nNk*, f32 accumulators): register i of thread t of the warpgroup holds
//! row 16*(t/32) + (t%32)/4 + 8*((i/2)%2), column 8*(i/4) + 2*(t%4) + i%2.

use crate::mainloop::MainloopPlan;
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

/// One `wgmma.mma_async` accumulating into `acc` (scale-d = 1), or overwriting it when `fresh`
/// (scale-d = 0: D = A*B, the first wgmma of a block-scaled K tile's partial).
pub(crate) fn mma(b: &mut Body, da: &str, db: &str, acc: &str, plan: &MainloopPlan, fresh: bool) -> String {
    let out = if fresh { "zero" } else { "one" };
    b.op(
        "mma",
        format!(
            "nvvm.wgmma.mma_async {da}, {db}, {acc}, #nvvm.shape<m = 64, n = {}, k = {}>, D [<f32>, #nvvm.wgmma_scale_out<{out}>], A [<{}>, #nvvm.wgmma_scale_in<one>, <row>], B [<{}>, #nvvm.wgmma_scale_in<one>, <col>] : !acc -> !acc",
            plan.bn, plan.k_instr, plan.a_ty, plan.b_ty
        ),
    )
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
