//! Tests of the `pipeline-loads` pass: a GEMM loop's operand loads become loop-carried and the
//! next iteration's loads come first in the body; loads that must not move (a tensor the kernel
//! writes, coordinates read from another load, a division that could fail, loop-invariant ones)
//! stay; the interpreter's results are unchanged (diff-interp, verify-each), including a loop that
//! runs zero times and a ragged last tile.

use tessera_ir::{Kernel, Module, OpKind, parse_module, print_module, verify_module};
use tessera_passes::{Changed, DiffOptions, PipelineOptions, TargetCaps, lookup, run_passes};

fn checked(src: &str) -> Module {
    let (m, diags) = tessera_check::check_source("t.tsr", src.as_bytes());
    m.unwrap_or_else(|| panic!("does not check: {diags:?}"))
}

/// `pipeline-loads` (then `assign-layouts`, so the distributed level checks it too) with
/// verify-each and diff-interp on; returns the module and whether the pass changed it.
fn pipelined(src: &str) -> (Module, bool) {
    let mut m = checked(src);
    let opts = PipelineOptions {
        verify_each: true,
        diff_interp: Some(DiffOptions::default()),
        ..Default::default()
    };
    let passes = [
        *lookup("pipeline-loads").unwrap(),
        *lookup("assign-layouts").unwrap(),
    ];
    let report = run_passes(
        &mut m,
        TargetCaps::lookup("sm_90a").unwrap(),
        &passes,
        &opts,
        &mut Vec::new(),
    )
    .unwrap_or_else(|e| panic!("pipeline: {e}"));
    verify_module(&m).unwrap();
    let changed = report
        .runs
        .iter()
        .any(|(_, p, c)| *p == "pipeline-loads" && *c == Changed::Yes);
    (m, changed)
}

/// The top-level ops of the first `for` body.
fn loop_body(k: &Kernel) -> &tessera_ir::Block {
    k.body
        .ops
        .iter()
        .find_map(|op| match &op.kind {
            OpKind::For { body, .. } => Some(body),
            _ => None,
        })
        .expect("a for loop")
}

const GEMM: &str = r#"
kernel g(a: bf16[M, K], b: bf16[N, K], c: out f32[M, N]) tiles(BM = 64, BN = 64, BK = 32) grid(cdiv(M, BM), cdiv(N, BN)) {
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
fn gemm_operand_loads_are_issued_one_iteration_early() {
    let (m, changed) = pipelined(GEMM);
    assert!(changed);
    let k = &m.kernels[0];
    let body = loop_body(k);
    // iv + step, then both next loads, before the dot.
    let kinds: Vec<&str> = body.ops.iter().map(|o| o.kind.mnemonic()).collect();
    let first_dot = kinds.iter().position(|k| *k == "dot").unwrap();
    assert_eq!(kinds.iter().filter(|k| **k == "load").count(), 2, "{kinds:?}");
    assert!(
        kinds[..first_dot].iter().filter(|k| **k == "load").count() == 2,
        "{kinds:?}"
    );
    // acc plus the two prefetched tiles are carried; the first tiles are loaded before the loop.
    assert_eq!(body.args.len(), 1 + 3);
    let before: usize = k.body.ops.iter().filter(|o| o.kind.mnemonic() == "load").count();
    assert_eq!(before, 2);
    // The text form round-trips.
    let text = print_module(&m);
    let back = parse_module(&text).unwrap();
    assert_eq!(print_module(&back), text);
}

#[test]
fn a_ragged_last_tile_and_an_empty_loop_keep_their_meaning() {
    // diff-interp runs the kernel before and after on random inputs at the checker's default
    // dims; a K that is not a multiple of BK and a loop starting past its end are both covered.
    let src = r#"
kernel g(a: f32[M, K], y: out f32[M]) tiles(BM = 16, BK = 32) grid(cdiv(M, BM)) {
    let m0 = program_id(0) * BM;
    var s = zeros<f32>[BM];
    for k0 in 0..K - 3 step BK {
        s = s + reduce_sum(load(a[m0 .. +BM, k0 + 3 .. +BK]), axis = 1);
    }
    for k1 in K..0 step BK {
        s = s + reduce_sum(load(a[m0 .. +BM, k1 .. +BK]), axis = 1);
    }
    store(y[m0 .. +BM], s);
}
"#;
    let (_, changed) = pipelined(src);
    assert!(changed);
}

#[test]
fn loads_that_must_stay_are_left_alone() {
    // `x` is written (after the loop), the gather reads coordinates from another load, and
    // `w[0 .. +B]` does not move with k0.
    let src = r#"
kernel g(x: out f32[N], w: f32[N], ix: i32[N], d: i32[N], y: out f32[N]) tiles(B = 32) grid(1) {
    var s = zeros<f32>[B];
    for k0 in 0..N step B {
        let t = load(x[k0 .. +B]);
        let i = load(ix[k0 .. +B]);
        let g = load(w[i]);
        let q = load(w[0 .. +B]);
        s = s + t + g + q;
    }
    store(y[0 .. +B], s);
    store(x[0 .. +B], s);
}
"#;
    let (m, _) = pipelined(src);
    let body = loop_body(&m.kernels[0]);
    // Only `ix[k0 .. +B]` moves (read-only, follows k0); the gather through it, the written `x`
    // and the loop-invariant `w[0 .. +B]` stay in the body.
    assert_eq!(body.args.len(), 1 + 1 + 1, "s and the prefetched ix tile");
    let loads = body.ops.iter().filter(|o| o.kind.mnemonic() == "load").count();
    assert_eq!(loads, 4, "x, next ix, the gather and w stay as loads in the body");
}

#[test]
fn a_division_that_could_fail_is_not_replayed() {
    let src = r#"
kernel g(a: f32[N], y: out f32[B]) tiles(B = 32) grid(1) {
    var s = zeros<f32>[B];
    for k0 in 0..N step B {
        let j = 64 / (N - k0);
        s = s + load(a[j .. +B]);
    }
    store(y[0 .. +B], s);
}
"#;
    let (_, changed) = pipelined(src);
    assert!(!changed, "N - k0 may be zero at the extra iteration");
}
