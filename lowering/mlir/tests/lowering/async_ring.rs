//! Async copies (on by default; `--no-async-copies` turns them off): per-op dots copy their
//! operand loads with `cp.async`, through a multi-stage ring when the dot is in a loop. These
//! tests check what is emitted and when; the H200 validates it (scripts/gpu-dots.sh,
//! scripts/gpu-conformance.sh).

use std::path::Path;
use tessera_lowering_mlir::{LoweringOptions, lower_sm90a};

fn piped_src(name: &str, src: &str) -> tessera_ir::Kernel {
    let (m, d) = tessera_check::check_source(name, src.as_bytes());
    let mut m = m.unwrap_or_else(|| panic!("{name}: {d:?}"));
    let caps = tessera_passes::TargetCaps::lookup("sm_90a").unwrap();
    tessera_passes::run_pipeline(&mut m, caps, &Default::default(), &mut std::io::sink()).unwrap();
    m.kernels.pop().unwrap()
}

fn example(rel: &str) -> tessera_ir::Kernel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
    piped_src(rel, &std::fs::read_to_string(&path).unwrap())
}

fn per_op(stages: u32, async_copies: bool) -> LoweringOptions {
    LoweringOptions {
        stages: Some(stages),
        async_copies,
        ..LoweringOptions::default()
    }
}

/// `nvvm.cp.async.wait.group` operations and their `n`, in order.
fn waits(mlir: &str) -> Vec<String> {
    mlir.lines()
        .filter(|l| l.contains("nvvm.cp.async.wait.group"))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn a_gemm_loop_streams_its_operands_through_a_ring_of_the_requested_depth() {
    let k = example("dsl_examples/gemm_bf16.tsr");
    for stages in [2u32, 3, 4] {
        let l = lower_sm90a(&k, &per_op(stages, true)).unwrap_or_else(|e| panic!("{e}"));
        assert!(l.mlir.contains("per op"), "not the per-op lowering");
        assert_eq!(l.mma.stages, stages);
        assert!(
            l.mma.operand_a.contains(&format!("ring of {stages} stages")),
            "{}",
            l.mma.operand_a
        );
        // S - 1 prologue groups, each followed by a wait that leaves the S - 1 youngest in
        // flight; each iteration waits, before its own prefetch, until S - 2 are left.
        let w = waits(&l.mlir);
        assert_eq!(w.len(), stages as usize, "{w:?}");
        let n = |x: &String| x.rsplit(' ').next().unwrap_or("").to_string();
        let counts: Vec<String> = w.iter().map(n).collect();
        let mut want = vec![(stages - 1).to_string(); stages as usize - 1];
        want.push((stages - 2).to_string());
        assert_eq!(counts, want, "{w:?}");
        // 128x64 A and 128x64 B bf16 tiles per stage, plus the 1 KiB alignment slack.
        let stage = 2 * 128 * 64 * 2;
        assert!(
            l.dynamic_shared_bytes >= stages * stage + 1024,
            "{}",
            l.dynamic_shared_bytes
        );
    }
}

#[test]
fn the_automatic_ring_depth_leaves_room_for_two_ctas_per_sm() {
    let k = example("dsl_examples/gemm_bf16.tsr");
    let auto = LoweringOptions::default();
    assert!(auto.async_copies, "async copies are the default");
    let l = lower_sm90a(&k, &auto).unwrap_or_else(|e| panic!("{e}"));
    // 32 KiB stages: 4 would leave one CTA per SM (2 x 132 KiB > 228 KiB), 3 leave two.
    assert_eq!(l.mma.stages, 3, "{}", l.mma.operand_a);
    assert!(
        2 * (l.dynamic_shared_bytes + 1024) <= 233_472,
        "{}",
        l.dynamic_shared_bytes
    );
    // An SM too small for two CTAs with two stages each: the ring is planned for one CTA.
    let small_sm = LoweringOptions {
        shared_per_sm: 120 * 1024,
        ..auto.clone()
    };
    let l = lower_sm90a(&k, &small_sm).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.mma.stages, 4, "{}", l.mma.operand_a);
    // The user's --stages wins over occupancy.
    let asked = LoweringOptions {
        stages: Some(4),
        ..auto
    };
    assert_eq!(lower_sm90a(&k, &asked).unwrap().mma.stages, 4);
}

#[test]
fn without_async_copies_the_operands_are_staged_from_registers() {
    let k = example("dsl_examples/gemm_bf16.tsr");
    let l = lower_sm90a(&k, &per_op(4, false)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!l.mlir.contains("cp.async"), "cp.async with --no-async-copies");
    assert_eq!(l.mma.stages, 0);
    assert!(l.mma.operand_a.contains("registers"), "{}", l.mma.operand_a);
}

#[test]
fn a_ring_that_does_not_fit_shrinks_and_one_that_cannot_is_not_built() {
    let k = example("dsl_examples/gemm_bf16.tsr");
    let l = lower_sm90a(&k, &per_op(64, true)).unwrap_or_else(|e| panic!("{e}"));
    let stage = 2 * 128 * 64 * 2;
    assert!(
        l.mma.stages >= 2 && l.mma.stages < 64 && l.mma.stages * stage <= 232_448 - 1024,
        "{}",
        l.mma.stages
    );
    assert!(l.dynamic_shared_bytes <= 232_448, "{}", l.dynamic_shared_bytes);
    let tight = LoweringOptions {
        max_shared_bytes: 64 * 1024,
        ..per_op(4, true)
    };
    let l = lower_sm90a(&k, &tight).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.mma.stages, 0, "a ring in {} bytes", 64 * 1024);
    // Without a ring the dot still copies its operands, one iteration at a time.
    assert!(l.mlir.contains("nvvm.cp.async.shared.global"));
    let w = waits(&l.mlir);
    assert!(!w.is_empty() && w.iter().all(|x| x.ends_with("group 0")), "{w:?}");
}

/// A GEMM whose B tile start reads a loop-carried value: its next iteration's start is not known
/// ahead, so the dot is not pipelined (the copies still happen, per iteration).
const CARRIED_START: &str = "
kernel carried(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N])
    tiles(BM = 64, BN = 64, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    var kb = 0;
    for k0 in 0..K step BK {
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, kb .. +BK])), acc);
        kb = kb + BK;
    }
    store(c[m0 .. +BM, n0 .. +BN], acc);
}
";

/// The same GEMM with its starts computed from the induction variable through pure ops.
const COMPUTED_START: &str = "
kernel computed(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N])
    tiles(BM = 64, BN = 64, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for kt in 0..cdiv(K, BK) {
        let k0 = kt * BK;
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], acc);
}
";

#[test]
fn only_starts_known_ahead_are_prefetched() {
    let carried = piped_src("carried.tsr", CARRIED_START);
    let l = lower_sm90a(&carried, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        l.mma.stages, 0,
        "a start read from a carried value was prefetched"
    );
    assert!(l.mlir.contains("nvvm.cp.async.shared.global"));
    let computed = piped_src("computed.tsr", COMPUTED_START);
    let l = lower_sm90a(&computed, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        l.mma.stages, 3,
        "a start computed from the induction variable was not prefetched"
    );
}

#[test]
fn tiles_shorter_than_the_wgmma_atom_are_copied_with_repeated_rows() {
    // BM = 32: the 64-row A atom repeats the tile's rows (the copy reads row `row & 31`); before,
    // such tiles were staged from registers.
    let src = COMPUTED_START.replace("BM = 64", "BM = 32");
    let k = piped_src("short.tsr", &src);
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.mma.stages, 3);
}

/// A GEMM with 64 KiB stages (BK = 128) whose f32 residual epilogue converts a 128x128 f32 tile
/// through 64 KiB of scratch: three stages plus the scratch exceed sm_90a's shared memory.
const BIG_EPILOGUE: &str = "
kernel gemm_res(a: bf16[M, K], b: bf16[N, K], r: f32[M, N], c: out f32[M, N])
    tiles(BM = 128, BN = 128, BK = 128)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], acc + load(r[m0 .. +BM, n0 .. +BN]));
}
";

#[test]
fn rings_are_planned_again_around_the_scratch_the_kernel_needs() {
    let k = piped_src("gemm_res.tsr", BIG_EPILOGUE);
    let l = lower_sm90a(&k, &per_op(4, true)).unwrap_or_else(|e| panic!("{e}"));
    let max = LoweringOptions::default().max_shared_bytes;
    assert!(
        l.dynamic_shared_bytes <= max,
        "{} > {max}",
        l.dynamic_shared_bytes
    );
    assert_eq!(l.mma.stages, 2, "two 64 KiB stages fit next to 64 KiB of scratch");
}

#[test]
fn a_kernel_needing_more_shared_memory_than_the_target_has_is_refused_at_the_op() {
    let src = COMPUTED_START;
    let k = piped_src("computed.tsr", src);
    let tiny = LoweringOptions {
        max_shared_bytes: 8 * 1024,
        ..per_op(4, false)
    };
    match lower_sm90a(&k, &tiny) {
        Err(tessera_lowering_mlir::LoweringError::Unsupported { what, span }) => {
            assert!(what.contains("shared memory"), "{what}");
            let at = &src[span.lo as usize..span.hi as usize];
            assert!(at.contains("dot("), "refused at `{at}`, not at the dot");
        }
        r => panic!("{:?}", r.map(|l| l.dynamic_shared_bytes)),
    }
}

#[test]
fn tiles_behind_leading_point_coordinates_are_copied_too() {
    // A batched GEMM (`a[z, m0 .. +BM, k0 .. +BK]`): the point `z` offsets the 2-D slice and is
    // checked against its dimension, and the tiles still stream through a ring.
    let k = example("tests/conformance/gemm_batched_bf16.tsr");
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.mma.stages, 3, "{}", l.mma.operand_a);
    assert!(l.mlir.contains("nvvm.cp.async.shared.global"));
    // Attention: K is loaded in the loop behind the `bh` point and streams through the first
    // dot's ring (Q, its other operand, is resident: staged once before the loop).
    let k = example("dsl_examples/attention_fp8.tsr");
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.mma.stages, 3);
    assert!(l.mlir.contains("nvvm.cp.async.shared.global"), "K is not copied");
    let regs = lower_sm90a(&k, &per_op(3, false)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!regs.mlir.contains("nvvm.cp.async.shared.global"));
}

#[test]
fn a_dot_outside_a_ring_copies_only_tiles_of_8_kib_or_more() {
    // One dot outside any loop: 64 x 32 bf16 tiles (4 KiB) go through registers, which the H200
    // measured faster than copying them with nothing to overlap the copy; 64 x 64 (8 KiB) are
    // copied.
    let src = |bk: u32| {
        format!(
            "kernel one(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N])
                tiles(BM = 64, BN = 64, BK = {bk})
                grid(cdiv(M, BM), cdiv(N, BN))
            {{
                let m0 = program_id(0) * BM;
                let n0 = program_id(1) * BN;
                let acc = dot(load(a[m0 .. +BM, 0 .. +BK]), transpose(load(b[n0 .. +BN, 0 .. +BK])), zeros<f32>[BM, BN]);
                store(c[m0 .. +BM, n0 .. +BN], acc);
            }}"
        )
    };
    let small =
        lower_sm90a(&piped_src("small.tsr", &src(32)), &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!small.mlir.contains("nvvm.cp.async.shared.global"));
    let big =
        lower_sm90a(&piped_src("big.tsr", &src(64)), &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(big.mlir.contains("nvvm.cp.async.shared.global"));
}

#[test]
fn nvfp4_dots_take_bf16_wgmma_unless_turned_off() {
    // NVFP4 dots (on by default): the codes times their ue4m3 block scale go into bf16 wgmma and
    // each dot's partial is multiplied by the per-tensor scales before it is added; with
    // `--no-nvfp4-wgmma` the dot runs on f32 FMAs.
    let k = example("dsl_examples/gemm_nvfp4.tsr");
    let off = LoweringOptions {
        nvfp4_wgmma: false,
        ..per_op(3, true)
    };
    let off = lower_sm90a(&k, &off).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !off.mlir.contains("nvvm.wgmma.mma_async"),
        "wgmma with --no-nvfp4-wgmma"
    );
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.mma.family.ends_with(".f32.bf16.bf16"), "{}", l.mma.family);
    // Promoted: each of the two 64-row chains starts from zero (its partial is scaled by the
    // per-tensor scales, then added), and continues over the K tile's 8 k16 steps.
    assert_eq!(l.mlir.matches("D[<f32>, <zero>]").count(), 2);
    assert_eq!(l.mlir.matches("D[<f32>, <one>]").count(), 14);
}

#[test]
fn mxfp8_codes_stream_through_a_ring_unless_turned_off() {
    // MXFP8 codes taken by a grouped dot (on by default) are copied like fp8 tiles (through a
    // ring here) and their e8m0 scales read from global memory into the dot's tables; with
    // `--no-async-scaled-copies` the codes and scales go through registers.
    let k = example("dsl_examples/gemm_mxfp8.tsr");
    let off = LoweringOptions {
        async_scaled_copies: false,
        ..per_op(3, true)
    };
    let off = lower_sm90a(&k, &off).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(off.mma.stages, 0, "{}", off.mma.operand_a);
    let on = per_op(3, true);
    let l = lower_sm90a(&k, &on).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.mma.stages, 3, "{}", l.mma.operand_a);
    assert!(l.mma.family.ends_with(".f32.e4m3.e4m3"), "{}", l.mma.family);
    // A dot that dequantizes its MX operands (an fp8 x bf16 pair has no code path) keeps them in
    // registers.
    let mixed = piped_src(
        "mixed.tsr",
        "
kernel mixed(a: mx<f8e4m3>[M, K], b: bf16[N, K], c: out f32[M, N])
    tiles(BM = 64, BN = 64, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        acc = dot(dequant<bf16>(load(a[m0 .. +BM, k0 .. +BK])), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], acc);
}
",
    );
    lower_sm90a(&mixed, &on).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn loop_invariant_operands_are_staged_once_before_their_loop() {
    // Attention's Q tile is loaded before the key loop: its dot stages it into its own region once,
    // before the loop (general/resident.rs), instead of every iteration. The FP8 attention's
    // accumulators (128x64 scores and 128x128 output, 192 registers for one warpgroup) also get a
    // second warpgroup (`acc_regs`).
    let k = example("dsl_examples/attention_fp8.tsr");
    assert_eq!(
        k.cta.unwrap().warp_bits,
        3,
        "the FP8 attention runs two warpgroups"
    );
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma
            .operand_a
            .contains("1 loop-invariant operand(s) staged once"),
        "{}",
        l.mma.operand_a
    );
    // Q's staging ends with the proxy fence that hands it to wgmma, ahead of the `scf.for` (the
    // kernel has no other dot before the loop).
    let text = &l.mlir;
    let loop_at = text.find("scf.for").expect("a key loop");
    assert!(
        text[..loop_at].contains("nvvm.fence.proxy"),
        "no operand staged before the loop"
    );
    // A GEMM's operands both change every iteration: nothing is resident, and a 128x128 tile (128
    // accumulator registers) keeps one warpgroup.
    let g = example("dsl_examples/gemm_bf16.tsr");
    assert_eq!(g.cta.unwrap().warp_bits, 2);
    let l = lower_sm90a(&g, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!l.mma.operand_a.contains("loop-invariant"), "{}", l.mma.operand_a);
}

#[test]
fn mxfp8_gemms_stream_their_codes_through_a_ring_by_default() {
    // An MXFP8 x MXFP8 GEMM with a 128x128 tile: its codes through a ring, each K group's e8m0
    // scales applied to the partial (`mxfp8_codes_stream_through_a_ring_unless_turned_off`
    // covers `--no-async-scaled-copies`).
    let k = example("dsl_examples/gemm_mxfp8.tsr");
    let l = lower_sm90a(&k, &LoweringOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.mma.stages >= 2, "{}", l.mma.operand_a);
    assert!(
        l.mma.note.as_deref().unwrap_or("").contains("per-op lowering"),
        "{:?}",
        l.mma.note
    );
    assert!(
        l.mma.dequant.starts_with("scaled codes on wgmma"),
        "{}",
        l.mma.dequant
    );
}

#[test]
fn dots_sharing_loop_invariant_operands_each_stage_them_before_their_own_loop() {
    // Two dots read the same tiles in loops on either branch of an `if`: a region staged before
    // one loop is never written when the other branch runs, so each dot gets its own regions,
    // staged before its own loop (four resident operands, two stagings).
    let k = piped_src(
        "shared.tsr",
        "
kernel shared_operands(q: bf16[M, D], w: bf16[N, D], flag: i32, c: out f32[M, N])
    tiles(BM = 64, BN = 64, D = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    let tq = load(q[m0 .. +BM, :]);
    let tw = transpose(load(w[n0 .. +BN, :]));
    var acc = zeros<f32>[BM, BN];
    if flag != 0 {
        for i in 0..3 {
            acc = dot(tq, tw, acc);
        }
    } else {
        for j in 0..2 {
            acc = dot(tq, tw, acc);
        }
    }
    store(c[m0 .. +BM, n0 .. +BN], acc);
}
",
    );
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.operand_a.contains("4 loop-invariant operand(s)"),
        "{}",
        l.mma.operand_a
    );
    // Each loop is preceded by its own staging (barrier, stores, proxy fence, barrier).
    let loops: Vec<usize> = l.mlir.match_indices("scf.for").map(|(i, _)| i).collect();
    assert_eq!(loops.len(), 2, "{}", l.mlir);
    let fences_before = |at: usize| l.mlir[..at].matches("nvvm.fence.proxy").count();
    assert_eq!(fences_before(loops[0]), 1);
    assert_eq!(
        fences_before(loops[1]),
        3,
        "one staging fence and the first loop's dot fence"
    );
}

#[test]
fn packed_fp4_operands_are_staged_from_their_bytes_unless_turned_off() {
    // MXFP4 weights with MXFP8 activations: the dot takes both as codes, the FP4 tile staged as
    // e4m3 from its packed bytes (byte permutes, no code per register); MXFP4 with bf16 and NVFP4
    // are staged as bf16 `code * s`. With `--no-packed-fp4-staging` the codes go through
    // registers, one per register, and no byte permute is emitted.
    let off = LoweringOptions {
        packed_fp4_staging: false,
        ..per_op(3, true)
    };
    for (ex, family, what) in [
        (
            "dsl_examples/gemm_mxfp4_fp8.tsr",
            ".f32.e4m3.e4m3",
            "scaled codes on wgmma",
        ),
        (
            "dsl_examples/gemm_mxfp4_bf16.tsr",
            ".f32.bf16.bf16",
            "packed FP4 operands",
        ),
        (
            "dsl_examples/gemm_nvfp4.tsr",
            ".f32.bf16.bf16",
            "packed FP4 operands",
        ),
        // Codes and scales written out: `dequant(q, s)` folded into the staging (e8m0 per 32,
        // ue4m3 per 16).
        (
            "dsl_examples/gemm_dequant_explicit.tsr",
            ".f32.bf16.bf16",
            "packed FP4 operands",
        ),
        (
            "tests/conformance/gemm_dequant_fp4_blocks.tsr",
            ".f32.bf16.bf16",
            "packed FP4 operands",
        ),
    ] {
        let k = example(ex);
        let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{ex}: {e}"));
        assert!(l.mma.family.ends_with(family), "{ex}: {}", l.mma.family);
        assert!(l.mlir.contains("nvvm.prmt"), "{ex}: no byte permutes");
        assert!(
            l.mma.dequant.contains("packed FP4 operands converted"),
            "{ex}: {}",
            l.mma.dequant
        );
        assert!(l.mma.dequant.contains(what), "{ex}: {}", l.mma.dequant);
        if family.ends_with("bf16.bf16") {
            // e8m0 / ue4m3 scales: `code * s` is exact in bf16, one bf16x2 multiply per pair.
            assert!(l.mlir.contains("vector<2xbf16>"), "{ex}: no bf16x2 multiply");
        }
        // Through the ring: after the iteration's wait, a barrier before the conversion reads the
        // stage (other threads copied its bytes).
        let t = &l.mlir;
        let body = t.find("scf.for").map_or(t.as_str(), |i| &t[i..]);
        let wait = body
            .find("nvvm.cp.async.wait.group")
            .expect("a ring wait in the loop");
        let conv = wait
            + body[wait..]
                .find("nvvm.prmt")
                .expect("a conversion after the wait");
        assert!(
            body[wait..conv].contains("nvvm.barrier"),
            "{ex}: no barrier between the wait and the conversion"
        );
        let r = lower_sm90a(&k, &off).unwrap_or_else(|e| panic!("{ex}: {e}"));
        assert!(
            !r.mlir.contains("nvvm.prmt"),
            "{ex}: byte permutes with the staging off"
        );
        assert!(!r.mma.dequant.contains("packed FP4"), "{ex}: {}", r.mma.dequant);
    }
    // A packed tile whose dot cannot take it as codes or on bf16 (an f16 partner) goes through
    // registers (f32 FMAs here), still correct, without byte permutes.
    let mixed = piped_src(
        "mixed_fp4.tsr",
        "
kernel mixed_fp4(a: f16[M, K], w: mx<f4e2m1>[N, K], c: out f32[M, N])
    tiles(BM = 64, BN = 64, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(w[n0 .. +BN, k0 .. +BK])), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], acc);
}
",
    );
    let l = lower_sm90a(&mixed, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!l.mlir.contains("nvvm.prmt"));
    // An explicit `dequant` whose dot stages its tiles from registers after all (a 4 KiB bf16 tile,
    // below what a copy pays for) is lowered as written: codes, scales and `dequant` in
    // registers, no byte permutes.
    let ragged = piped_src(
        "ragged_dequant.tsr",
        "
kernel ragged_dequant(a: bf16[M, K], q: f4e2m1[N, K], s: ue4m3[N, K / 16], c: out f32[M, N])
    tiles(BM = 64, BN = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    let w = dequant<bf16>(load(q[n0 .. +BN, 0 .. +32]), load(s[n0 .. +BN, 0 .. +2]));
    store(c[m0 .. +BM, n0 .. +BN], dot(load(a[m0 .. +BM, 0 .. +32]), transpose(w)));
}
",
    );
    let l = lower_sm90a(&ragged, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!l.mlir.contains("nvvm.prmt"));
    assert!(!l.mma.dequant.contains("packed FP4"), "{}", l.mma.dequant);
}

#[test]
fn fp4_gemms_stage_their_packed_codes_through_a_ring_by_default() {
    // Per op, the FP4 operands staged from their packed bytes through the ring (several chunks of
    // a row per thread with one scale read, bf16x2 multiplies; an explicit `dequant` folded in),
    // every FP4 GEMM example beats the mainloop on the H200 at every recorded shape (session 9,
    // per op vs mainloop: gemm_mxfp4_bf16 424.1 vs 601.8 us at 4096^3, 153.3 vs 207.8 at
    // 16x8192x8192; gemm_mxfp4_fp8 642.1 vs 1271.1; gemm_nvfp4 792.4 vs 1262.1;
    // gemm_dequant_explicit 525.3 vs 718.5): their operands go through a ring. Without packed
    // staging (`packed_fp4_operands_are_staged_from_their_bytes_unless_turned_off`) their codes
    // go through registers.
    for ex in [
        "dsl_examples/gemm_mxfp4_fp8.tsr",
        "dsl_examples/gemm_nvfp4.tsr",
        "dsl_examples/gemm_mxfp4_bf16.tsr",
        "dsl_examples/gemm_dequant_explicit.tsr",
    ] {
        let k = example(ex);
        let on = lower_sm90a(&k, &LoweringOptions::default()).unwrap_or_else(|e| panic!("{ex}: {e}"));
        assert!(
            on.mma.note.as_deref().unwrap_or("").contains("per-op lowering"),
            "{ex}: {:?}",
            on.mma.note
        );
        assert!(on.mma.stages >= 2, "{ex}: {}", on.mma.operand_a);
        assert!(on.mma.dequant.contains("packed FP4"), "{ex}: {}", on.mma.dequant);
    }
}

#[test]
fn grouped_dots_promote_with_one_fma_and_read_f32_block_scales_directly() {
    // Every grouped (scaled-code) dot adds each K group's partial with one fma per register, the
    // scales' product formed once per (row, column) key. DeepSeek-style f32 block scales are few
    // per thread (one per accumulator row of A, one per tile of B when its 128x128 block covers
    // it), so each thread reads them itself before the group's chain instead of through a shared
    // table (H200, session 9: gemm_fp8_blockscale per op 312.1 -> 260.8 us, gemm_mxfp8 577.3 ->
    // 537.1 with the fma alone); MX scales (one per row or column and 32-wide group) keep the
    // table.
    for (ex, direct) in [
        ("dsl_examples/gemm_fp8_blockscale.tsr", true),
        ("tests/conformance/gemm_fp8_blockscale_residual.tsr", true),
        ("dsl_examples/gemm_mxfp8.tsr", false),
        ("dsl_examples/gemm_mxfp4_fp8.tsr", false),
    ] {
        let k = example(ex);
        let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{ex}: {e}"));
        assert!(l.mlir.contains("llvm.intr.fma"), "{ex}: no fma promotion");
        assert!(l.mma.dequant.contains("each K group"), "{ex}: {}", l.mma.dequant);
        assert_eq!(
            l.mma.dequant.contains("straight into registers"),
            direct,
            "{ex}: {}",
            l.mma.dequant
        );
    }
}

/// A 128x128x64 GEMM kernel `name` with parameters `params`, K-loop body `body` (`acc` carried)
/// and stored value `out`, through the sm_90a pipeline.
fn dequant_gemm(name: &str, params: &str, body: &str, out: &str) -> tessera_ir::Kernel {
    piped_src(
        &format!("{name}.tsr"),
        &format!(
            "
kernel {name}({params})
    tiles(BM = 128, BN = 128, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {{
        {body}
    }}
    store(c[m0 .. +BM, n0 .. +BN], {out});
}}
"
        ),
    )
}

#[test]
fn explicit_dequants_the_dot_cannot_fold_are_computed_in_registers() {
    // The per-op dot folds an explicit `dequant` into its staging only as B and to bf16; a GEMM
    // whose explicit dequant is its A operand computes it in registers, as written, and stages
    // the bf16 result (slower, never refused).
    let k = dequant_gemm(
        "dequant_a",
        "q: f4e2m1[M, K], s: e8m0[M, K / 32], b: bf16[N, K], c: out bf16[M, N]",
        "let w = dequant<bf16>(load(q[m0 .. +BM, k0 .. +BK]), load(s[m0 .. +BM, k0 / 32 .. +BK / 32]));
        acc = dot(w, transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);",
        "cast<bf16>(acc)",
    );
    let l = lower_sm90a(&k, &LoweringOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.note.as_deref().unwrap_or("").contains("per-op lowering"),
        "{:?}",
        l.mma.note
    );
    assert!(!l.mma.dequant.contains("packed FP4"), "{}", l.mma.dequant);
    // The B form (gemm_dequant_explicit) is folded and runs per op.
    let k = example("dsl_examples/gemm_dequant_explicit.tsr");
    let l = lower_sm90a(&k, &LoweringOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.mma.note.as_deref().unwrap_or("").contains("per-op lowering"));
}

#[test]
fn a_dequant_to_f16_is_never_staged_as_bf16() {
    // The dot's packed staging writes dequantized operands as bf16; a program that dequantizes to
    // f16 (whose rounding and range differ) is lowered as written, through registers.
    let k = dequant_gemm(
        "dequant_f16",
        "a: f16[M, K], q: f4e2m1[N, K], s: e8m0[N, K / 32], c: out f32[M, N]",
        "let w = dequant<f16>(load(q[n0 .. +BN, k0 .. +BK]), load(s[n0 .. +BN, k0 / 32 .. +BK / 32]));
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(w), acc);",
        "acc",
    );
    let l = lower_sm90a(&k, &LoweringOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.note.as_deref().unwrap_or("").contains("per-op lowering"),
        "{:?}",
        l.mma.note
    );
    assert!(!l.mlir.contains("cp.async.bulk.tensor"));
}

/// Each `TensorMap` slot of `l`'s ABI: its tensor, box and swizzle, and whether it may be null.
fn map_slots(l: &tessera_lowering_mlir::LoweredKernel) -> Vec<(String, Vec<u32>, u32, bool)> {
    l.abi
        .iter()
        .filter_map(|a| match a {
            tessera_bundle::AbiArg::TensorMap {
                param, tma, or_null, ..
            } => Some((param.clone(), tma.box_dims.clone(), tma.swizzle, *or_null)),
            _ => None,
        })
        .collect()
}

fn count(mlir: &str, op: &str) -> usize {
    mlir.lines().filter(|l| l.contains(op)).count()
}

#[test]
fn rings_are_filled_by_tma_with_cp_async_kept_for_launches_without_maps() {
    let k = example("dsl_examples/gemm_bf16.tsr");
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.operand_a.contains("TMA ring of 3 stages"),
        "{}",
        l.mma.operand_a
    );
    // One map per operand, after every other slot, which the runtime may pass as null; the
    // tensors' own pointers stay (the cp.async path reads them).
    let maps = map_slots(&l);
    assert_eq!(
        maps,
        vec![
            ("a".to_string(), vec![64, 128], 128, true),
            ("b".to_string(), vec![64, 128], 128, true),
        ]
    );
    let ptrs = l
        .abi
        .iter()
        .filter(|a| matches!(a, tessera_bundle::AbiArg::Ptr { param, .. } if param == "a" || param == "b"))
        .count();
    assert_eq!(ptrs, 2);
    // One barrier a stage, initialised before the loop and invalidated after it; S - 1 prologue
    // fills and one per iteration, each one box per operand (BK = 64 bf16: one 128-byte slab),
    // armed with both tiles' bytes; the loop waits on its stage's phase.
    let m = &l.mlir;
    assert_eq!(count(m, "nvvm.mbarrier.init"), 3, "{m}");
    assert_eq!(count(m, "nvvm.mbarrier.inval"), 3);
    assert_eq!(count(m, "nvvm.cp.async.bulk.tensor"), 2 * 2 + 2);
    assert_eq!(count(m, "nvvm.mbarrier.arrive.expect_tx"), 2 + 1);
    assert_eq!(count(m, "nvvm.mbarrier.try_wait.parity"), 1);
    assert!(
        m.contains("arith.constant 32768 : i32"),
        "expect_tx of 2 x 128x64 bf16"
    );
    // The cp.async path is still there for launches whose maps are null.
    assert_eq!(waits(m).len(), 3, "{m}");

    // Off, the same ring is filled by cp.async alone and the ABI has no maps.
    let off = LoweringOptions {
        tma_rings: false,
        ..per_op(3, true)
    };
    let l = lower_sm90a(&k, &off).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.operand_a.contains("cp.async ring of 3 stages"),
        "{}",
        l.mma.operand_a
    );
    assert!(map_slots(&l).is_empty());
    assert_eq!(count(&l.mlir, "nvvm.mbarrier"), 0);
}

#[test]
fn tma_repeats_a_short_tile_down_the_stage_and_leaves_packed_operands_to_cp_async() {
    // BM = 32: the 64-row A atom holds the tile twice, so its one box is copied twice.
    let src = COMPUTED_START.replace("BM = 64", "BM = 32");
    let k = piped_src("short.tsr", &src);
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    let maps = map_slots(&l);
    assert_eq!(maps.len(), 2, "{maps:?}");
    assert_eq!(maps[0].1[1], 32, "A's box is the tile's 32 rows: {maps:?}");
    // Per fill: A twice, B once (one slab each).
    assert_eq!(count(&l.mlir, "nvvm.cp.async.bulk.tensor"), 3 * 3);
    // Packed FP4 bytes are converted after the copy, not copied as the stage holds them.
    let k = example("dsl_examples/gemm_mxfp4_fp8.tsr");
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(map_slots(&l).is_empty(), "{:?}", map_slots(&l));
    assert!(l.mma.operand_a.contains("cp.async ring"), "{}", l.mma.operand_a);
}

#[test]
fn a_dot_with_a_resident_operand_streams_the_other_through_a_ring() {
    // Attention's S = Q K^T: Q is staged once before the key loop (resident), so the ring's
    // stages hold only the K tiles, prefetched S - 1 iterations ahead by cp.async (TMA only
    // fills rings of two streamed operands).
    let k = example("dsl_examples/attention_fp8.tsr");
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.operand_a.contains("cp.async ring of 3 stages"),
        "{}",
        l.mma.operand_a
    );
    assert!(l.mma.operand_a.contains("loop-invariant"), "{}", l.mma.operand_a);
    assert!(map_slots(&l).is_empty());
    // Two prologue groups and one per iteration (the K tile, 64 x 128 fp8: 512 16-byte chunks,
    // two per thread of the 256).
    assert_eq!(waits(&l.mlir).len(), 3);
    let stage = 64 * 128;
    assert!(
        l.dynamic_shared_bytes >= 3 * stage + 128 * 128,
        "{}",
        l.dynamic_shared_bytes
    );
}

#[test]
fn two_tma_rings_share_their_maps_and_one_barrier_block() {
    // Two K loops over the same operands (a two-pass kernel): one ring each, both filled by TMA,
    // the two maps shared (same tensor, same box), each ring with its own barriers in the one
    // block after the rings, and the whole within the CTA's shared memory.
    let src = "
kernel twice(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N])
    tiles(BM = 64, BN = 64, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var x = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        x = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), x);
    }
    var y = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        y = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), y);
    }
    store(c[m0 .. +BM, n0 .. +BN], x * y);
}
";
    let k = piped_src("twice.tsr", src);
    let l = lower_sm90a(&k, &per_op(3, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.mma.operand_a.starts_with("TMA ring of 3 stages"),
        "{}",
        l.mma.operand_a
    );
    assert_eq!(map_slots(&l).len(), 2, "{:?}", map_slots(&l));
    assert_eq!(count(&l.mlir, "nvvm.mbarrier.init"), 6);
    assert_eq!(count(&l.mlir, "nvvm.mbarrier.inval"), 6);
    assert_eq!(count(&l.mlir, "nvvm.mbarrier.try_wait.parity"), 2);
    // Two rings of 3 stages of 16 KiB, the barrier block, the alignment slack.
    assert!(
        l.dynamic_shared_bytes >= 2 * 3 * 16 * 1024 + 1024 + 1024,
        "{}",
        l.dynamic_shared_bytes
    );
    assert!(l.dynamic_shared_bytes <= LoweringOptions::default().max_shared_bytes);
}

#[test]
fn attention_probabilities_go_into_wgmma_from_registers() {
    // P = cast(exp2(s - m)) is in the S accumulator's fragment layout, so the P·V dot takes it as
    // wgmma's register A operand (8-bit: K permuted inside each 32-wide step, V staged in that
    // order; 16-bit: as it is) instead of staging it through shared memory. A GEMM's loaded A
    // is never taken so.
    let opts = LoweringOptions::default();
    for (ex, a) in [
        ("dsl_examples/attention_fp8.tsr", "e4m3"),
        ("tests/conformance/attention_bf16_d64.tsr", "bf16"),
    ] {
        let l = lower_sm90a(&example(ex), &opts).unwrap_or_else(|e| panic!("{ex}: {e}"));
        assert!(
            l.mma.operand_a.contains("A from registers"),
            "{ex}: {}",
            l.mma.operand_a
        );
        let asm: Vec<&str> = l
            .mlir
            .lines()
            .filter(|x| x.contains("llvm.inline_asm") && x.contains("wgmma.mma_async"))
            .collect();
        assert!(!asm.is_empty(), "{ex}: no register-A wgmma");
        assert!(
            asm.iter().all(|x| x.contains(&format!(".f32.{a}.{a}"))),
            "{ex}: {asm:?}"
        );
        // Only the P·V dot: Q·K^T still reads both operands from shared memory.
        assert!(l.mlir.contains("nvvm.wgmma.mma_async"), "{ex}");
    }
    let l = lower_sm90a(&example("dsl_examples/gemm_fp8.tsr"), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !l.mma.operand_a.contains("A from registers"),
        "{}",
        l.mma.operand_a
    );
    assert!(!l.mlir.contains("llvm.inline_asm"));
}

#[test]
fn attention_values_ride_the_key_ring_and_are_transposed_while_the_score_wgmma_runs() {
    // V is loaded [keys, head dim] with the head dim contiguous: the P·V dot reads it as B, which
    // wgmma wants K-major. The K ring of S = Q·K^T carries V's tile as it is (one more region per
    // stage, same commit group), and after S's wgmma chain is committed every thread transposes
    // the iteration's V tile into the K-major tile P·V reads (byte permutes, 32-bit words),
    // before S's wait.
    let opts = LoweringOptions::default();
    for (ex, stage) in [
        ("dsl_examples/attention_fp8.tsr", 2 * 64 * 128),
        ("tests/conformance/attention_bf16_d64.tsr", 2 * 32 * 64 * 2),
    ] {
        let l = lower_sm90a(&example(ex), &opts).unwrap_or_else(|e| panic!("{ex}: {e}"));
        assert!(
            l.mma
                .operand_a
                .contains("1 N-major B tile(s) carried in an earlier dot's ring"),
            "{ex}: {}",
            l.mma.operand_a
        );
        let at = |what: &str| {
            l.mlir
                .lines()
                .position(|x| x.contains(what))
                .unwrap_or_else(|| panic!("{ex}: no {what}"))
        };
        let (commit, prmt, wait) = (
            at("nvvm.wgmma.commit.group"),
            at("llvm.nvvm.prmt"),
            at("nvvm.wgmma.wait.group"),
        );
        assert!(commit < prmt && prmt < wait, "{ex}: {commit} {prmt} {wait}");
        // Every stage holds the K and the V tile, plus one transposed V tile.
        assert!(
            l.dynamic_shared_bytes >= l.mma.stages * stage + stage / 2,
            "{ex}: {} for {} stages",
            l.dynamic_shared_bytes,
            l.mma.stages
        );
    }
    // A GEMM has no later dot: nothing rides its ring.
    let l = lower_sm90a(&example("dsl_examples/gemm_bf16.tsr"), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(!l.mma.operand_a.contains("N-major"), "{}", l.mma.operand_a);
    assert!(!l.mlir.contains("llvm.nvvm.prmt"));
}

#[test]
fn a_later_dot_whose_b_start_is_not_known_ahead_stages_it_from_registers() {
    // The V rows start at a position loaded inside the loop: the ring cannot prefetch that tile,
    // so nothing rides and P·V stages V from registers as before.
    let src = r#"
kernel attn_gather(q: bf16[BH, S, HD], k: bf16[BH, S, HD], v: bf16[BH, S, HD], idx: i32[S],
                   o: out f32[BH, S, HD])
    tiles(BM = 64, BN = 64, HD = 64)
    grid(cdiv(S, BM), BH)
{
    let bh = program_id(1);
    let m0 = program_id(0) * BM;
    let tq = load(q[bh, m0 .. +BM, 0 .. +HD]);
    var acc = zeros<f32>[BM, HD];
    for n0 in 0..S step BN {
        let tk = load(k[bh, n0 .. +BN, 0 .. +HD]);
        let s = dot(tq, transpose(tk));
        let p = cast<bf16>(s);
        let v0 = load(idx[n0]);
        let tv = load(v[bh, v0 .. +BN, 0 .. +HD]);
        acc = acc + dot(p, tv);
    }
    store(o[bh, m0 .. +BM, 0 .. +HD], acc);
}
"#;
    let k = piped_src("attn_gather.tsr", src);
    let opts = LoweringOptions::default();
    let l = lower_sm90a(&k, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.mma.operand_a.contains("ring"), "{}", l.mma.operand_a);
    assert!(!l.mma.operand_a.contains("N-major"), "{}", l.mma.operand_a);
    assert!(!l.mlir.contains("llvm.nvvm.prmt"));
}
