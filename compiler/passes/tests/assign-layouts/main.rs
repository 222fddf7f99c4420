//! Tests of the `assign-layouts` pass: every tile gets a valid physical layout (the verifier
//! checks the distributed level), anchors get the layouts the target table names, a row
//! softmax's broadcast moves no data, a dot's accumulator is laid out in the MMA fragment from the
//! start instead of being converted every iteration, the text form round-trips, and the
//! interpreter's results are unchanged (diff-interp).

use tessera_ir::{Kernel, LinearLayout, Module, OpKind, Type, parse_module, print_module, verify_module};

#[path = "../common/mod.rs"]
mod common;

/// The sm_90a pipeline with verify-each and diff-interp on, with operand-first layouts
/// (`assign-layouts`; the pipeline's default is MMA-first, tests/assign-layouts-mma).
fn distributed(src: &str) -> Module {
    common::sm90a_distributed(
        src,
        Some("canonicalize,fuse-dequant,assign-scale-layout,assign-layouts"),
    )
}

fn count(k: &Kernel, mnemonic: &str) -> usize {
    let mut n = 0;
    tessera_passes::walk_mut(&mut k.body.clone(), &mut |op| {
        if op.kind.mnemonic() == mnemonic {
            n += 1;
        }
    });
    n
}

use common::SOFTMAX_ROWS as SOFTMAX;

#[test]
fn every_tile_gets_a_layout_and_the_softmax_needs_no_conversion() {
    let m = distributed(SOFTMAX);
    let k = &m.kernels[0];
    let cta = k.cta.expect("the distributed level sets the CTA");
    assert_eq!((cta.lane_bits, cta.warp_bits), (5, 2));
    for v in &k.values {
        if let Type::Tile(t) = &v.ty {
            assert!(!t.layout.is_logical(), "a tile without a layout: {t:?}");
        }
    }
    assert_eq!(count(k, "convert_layout"), 0, "{}", print_module(&m));
}

#[test]
fn loads_are_coalesced_and_vectorised() {
    let m = distributed(SOFTMAX);
    let k = &m.kernels[0];
    let load = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Load { .. }))
        .unwrap();
    let l = k
        .ty(load.results[0])
        .as_tile()
        .unwrap()
        .layout
        .as_dist()
        .unwrap()
        .clone();
    assert_eq!(
        l.contiguous_regs(1),
        4,
        "16 bytes of f32 per thread along the row"
    );
    assert_eq!(
        l.lane[0],
        vec![0, 4],
        "neighbouring lanes hold neighbouring vectors"
    );
}

const GEMM: &str = r#"
kernel g(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N]) tiles(BM = 64 in [64], BN = 64 in [64], BK = 32 in [32])
    grid(cdiv(M, BM), cdiv(N, BN)) {
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], acc);
}
"#;

#[test]
fn the_accumulator_starts_in_the_mma_fragment() {
    let m = distributed(GEMM);
    let k = &m.kernels[0];
    let want = LinearLayout::wgmma_acc(64, 64, 5, 2).unwrap();
    let OpKind::For { inits, body, .. } = &k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::For { .. }))
        .unwrap()
        .kind
    else {
        unreachable!()
    };
    let init = k.ty(inits[0]).as_tile().unwrap();
    assert_eq!(
        init.layout.as_dist(),
        Some(&want),
        "zeros are made in the accumulator layout"
    );
    assert_eq!(
        count(k, "convert_layout"),
        0,
        "no per-iteration conversion of the accumulator"
    );
    let arg = k.ty(body.args[1]).as_tile().unwrap();
    assert_eq!(arg.layout.as_dist(), Some(&want));
}

#[test]
fn the_distributed_level_round_trips_through_text_and_verifies() {
    for src in [SOFTMAX, GEMM] {
        let m = distributed(src);
        let text = print_module(&m);
        assert!(text.contains("#dist<reg = ["), "{text}");
        assert!(text.contains("cta { warps = 4, warp_size = 32 }"), "{text}");
        let back = parse_module(&text).unwrap();
        assert_eq!(back, m);
        verify_module(&back).unwrap();
    }
}

#[test]
fn the_verifier_rejects_a_wrong_derived_layout() {
    let mut m = distributed(SOFTMAX);
    let k = &mut m.kernels[0];
    // Give the row maximum (a slice of the loaded tile's layout) another valid layout: the
    // reduce's result no longer follows from its operand.
    let red = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Reduce { .. }))
        .unwrap()
        .results[0];
    if let Type::Tile(t) = &mut k.values[red.0 as usize].ty {
        t.layout = tessera_ir::TileLayout::Dist(LinearLayout::blocked(&t.shape, 1, 5, 2));
    }
    let e = verify_module(&m).unwrap_err().to_string();
    assert!(e.contains("does not follow"), "{e}");
}

#[test]
fn a_layout_missing_a_thread_is_rejected() {
    let mut m = distributed(SOFTMAX);
    let k = &mut m.kernels[0];
    for v in &mut k.values {
        if let Type::Tile(t) = &mut v.ty
            && let tessera_ir::TileLayout::Dist(l) = &mut t.layout
            && l.reg.len() > 1
        {
            l.reg.pop();
            break;
        }
    }
    let e = verify_module(&m).unwrap_err().to_string();
    assert!(e.contains("invalid layout"), "{e}");
}

#[test]
fn loops_ifs_gathers_and_atomics_are_laid_out() {
    let src = r#"
kernel k(x: f32[M, N], idx: i32[G], flag: i32, y: out f32[G, N], s: out f32[N])
    tiles(BG = 8 in [8], BN = 64 in [64]) grid(cdiv(G, BG)) {
    let g0 = program_id(0) * BG;
    let rows = load(idx[g0 .. +BG]);
    var acc = zeros<f32>[BG, BN];
    var cnt = zeros<f32>[BN];
    for i in 0..3 {
        let t = load(x[rows, 0 .. +BN]);
        acc = acc + t;
        cnt = cnt + reduce_sum(t, axis = 0);
    }
    var res = acc;
    if flag > 0 { res = acc * 2.0; }
    store(y[g0 .. +BG, 0 .. +BN], res);
    atomic_add(s[0 .. +BN], cnt);
}
"#;
    let m = distributed(src);
    assert!(m.kernels[0].cta.is_some());
}

/// A packed FP4 store needs both codes of each byte in one thread: a tile whose registers walk the
/// other axis (quantized after a transpose) is converted to a layout that pairs neighbours along
/// the packed axis, and the interpreter's result is unchanged (diff-interp in `distributed`).
#[test]
fn packed_fp4_stores_pair_neighbours_along_the_packed_axis() {
    let m = distributed(
        r#"
kernel q(w: f32[K, N], y: out mx<f4e2m1, axis = 0>[N, K]) tiles(BK = 64, BN = 32) grid(cdiv(K, BK), cdiv(N, BN)) {
    let k0 = program_id(0) * BK;
    let n0 = program_id(1) * BN;
    let t = transpose(load(w[k0 .. +BK, n0 .. +BN]));
    store(y[n0 .. +BN, k0 .. +BK], quantize<mx<f4e2m1, axis = 0>>(t));
}
"#,
    );
    let k = &m.kernels[0];
    let mut stored = None;
    tessera_passes::walk_mut(&mut k.body.clone(), &mut |op| {
        if let OpKind::Store { value, .. } = &op.kind {
            stored = Some(*value);
        }
    });
    let v = stored.expect("a store");
    let Type::Tile(t) = k.ty(v) else { panic!("tile") };
    let l = t.layout.as_dist().expect("a register layout");
    assert!(
        l.contiguous_regs(1) >= 2,
        "the stored tile pairs codes along the packed axis: {l:?}"
    );
    assert!(count(k, "convert_layout") >= 1, "{}", print_module(&m));
}

#[test]
fn warp_groups_follow_accumulator_registers_and_the_kernel_s_request() {
    use tessera_passes::passes::assign_layouts::MIN_WARP_BITS_ATTR;
    // A 128x128 accumulator (128 registers per thread in one warpgroup) keeps one warpgroup; a
    // kernel that asks for more warp bits (the build does after ptxas spilled) gets a second, and
    // the accumulator is laid out over both; a 64-row accumulator leaves a second group no rows,
    // so the request changes nothing there.
    let big = GEMM.replace(
        "BM = 64 in [64], BN = 64 in [64]",
        "BM = 128 in [128], BN = 128 in [128]",
    );
    let warps = |src: &str, ask: Option<u32>| {
        let (m, diags) = tessera_check::check_source("t.tsr", src.as_bytes());
        let mut m = m.unwrap_or_else(|| panic!("{diags:?}"));
        if let Some(b) = ask {
            m.kernels[0]
                .attrs
                .push((MIN_WARP_BITS_ATTR.into(), b.to_string()));
        }
        let caps = tessera_passes::TargetCaps::lookup("sm_90a").unwrap();
        tessera_passes::run_pipeline(&mut m, caps, &Default::default(), &mut Vec::new()).unwrap();
        let k = m.kernels.remove(0);
        let mut acc = None;
        tessera_passes::walk_mut(&mut k.body.clone(), &mut |op| {
            if let OpKind::Dot { .. } = op.kind {
                acc = k
                    .ty(op.results[0])
                    .as_tile()
                    .and_then(|t| t.layout.as_dist().cloned());
            }
        });
        (k.cta.unwrap().warp_bits, acc)
    };
    assert_eq!(warps(&big, None).0, 2);
    let (wb, acc) = warps(&big, Some(3));
    assert_eq!(wb, 3);
    assert_eq!(acc, LinearLayout::wgmma_acc(128, 128, 5, 3));
    assert_eq!(warps(GEMM, Some(3)).0, 2, "64 rows: no work for a second group");
}
