//! Shared-memory addressing used by the sm_90a attention schedule: the
//! dynamic shared-memory base aligned at run time, and TMA destinations inside it.

use crate::text::Body;

/// `@tessera_smem` aligned up to 1024 bytes (the 128B-swizzle atom) at run time. The dynamic
/// shared-memory window only promises 16-byte alignment, and swizzled TMA boxes and wgmma
/// descriptors need the atom's alignment.
pub(crate) fn aligned_base(b: &mut Body) -> String {
    let raw = b.op("smem", "llvm.mlir.addressof @tessera_smem : !llvm.ptr<3>");
    let addr = b.op("sa", format!("llvm.ptrtoint {raw} : !llvm.ptr<3> to i32"));
    let c1024 = b.i32(1024);
    let rem = b.op("sa", format!("arith.remui {addr}, {c1024} : i32"));
    let up = b.op("sa", format!("arith.subi {c1024}, {rem} : i32"));
    let pad = b.op("sa", format!("arith.remui {up}, {c1024} : i32"));
    b.op(
        "smem",
        format!("llvm.getelementptr {raw}[{pad}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
    )
}

/// `smem + off` (bytes) as a shared::cluster pointer, the destination space of
/// `cp.async.bulk.tensor` (a CTA's own shared memory is part of its cluster's).
pub(crate) fn tma_dst(b: &mut Body, smem: &str, off: &str) -> String {
    let p = b.op(
        "dst",
        format!("llvm.getelementptr {smem}[{off}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8"),
    );
    b.op(
        "dst",
        format!("llvm.addrspacecast {p} : !llvm.ptr<3> to !llvm.ptr<7>"),
    )
}
