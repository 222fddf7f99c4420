//! The IR the checker produces follows the contract: loop-carried vars, if-merges, folded tile
//! params, explicit broadcasts, sub-view bounds, gathers, scale specs, FP4 packing, NV globals.

use tessera_ir::{Bound, DType, Dim, Index, Kernel, OpKind, ParamKind, ScaleLayout, Type};

fn kernel(src: &str) -> Kernel {
    let (m, d) = tessera_check::check_source("t.tsr", src.as_bytes());
    assert!(
        d.is_empty(),
        "{}",
        tessera_check::render_diagnostics("t.tsr", src.as_bytes(), &d, false, false)
    );
    let m = m.expect("module");
    tessera_ir::verify_module(&m).expect("verifies");
    m.kernels.into_iter().next().expect("a kernel")
}

fn all_ops(k: &Kernel) -> Vec<&OpKind> {
    fn walk<'a>(b: &'a tessera_ir::Block, out: &mut Vec<&'a OpKind>) {
        for op in &b.ops {
            out.push(&op.kind);
            for inner in op.kind.blocks() {
                walk(inner, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(&k.body, &mut v);
    v
}

#[test]
fn loop_carried_vars_become_for_results() {
    let k = kernel(
        "kernel s(x: f32[N], y: out f32[N]) tiles(B = 64) { var acc = zeros<f32>[B]; var n = 0; \
         for i in 0..N step B { acc = acc + load(x[i .. +B]); n = n + 1; } store(y[0 .. +B], acc / cast<f32>(n)); }",
    );
    let f = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::For { .. }))
        .expect("a for");
    let OpKind::For { inits, body, .. } = &f.kind else {
        unreachable!()
    };
    assert_eq!(inits.len(), 2);
    assert_eq!(f.results.len(), 2);
    assert_eq!(body.args.len(), 3, "iv + 2 carried");
    assert!(matches!(body.ops.last().map(|o| &o.kind), Some(OpKind::Yield { values }) if values.len() == 2));
}

#[test]
fn if_merges_vars_assigned_on_both_paths() {
    let k = kernel(
        "kernel s(x: f32[N], y: out f32[N], f: i32) tiles(B = 64) { var t; \
         if f > 0 { t = load(x[0 .. +B]); } else { t = zeros<f32>[B]; } store(y[0 .. +B], t); }",
    );
    let op = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::If { .. }))
        .expect("an if");
    assert_eq!(op.results.len(), 1);
    assert_eq!(
        k.ty(op.results[0]),
        &Type::Tile(tessera_ir::TileType::plain(DType::F32, vec![64]))
    );
}

#[test]
fn tile_params_fold_and_scalars_broadcast_explicitly() {
    let k = kernel(
        "kernel s(y: out f32[N], a: f32) tiles(B = 32 in [32, 64]) grid(cdiv(N, B)) { store(y[program_id(0) * B .. +B], zeros<f32>[B] + a); }",
    );
    assert_eq!(k.tiles[0].value, 32);
    assert_eq!(k.tiles[0].candidates, vec![32, 64]);
    assert!(
        all_ops(&k)
            .iter()
            .any(|o| matches!(o, OpKind::ConstInt { value: 32 }))
    );
    assert!(all_ops(&k).iter().any(|o| matches!(o, OpKind::Broadcast { .. })));
    assert_eq!(k.grid.len(), 1);
}

#[test]
fn sub_views_bound_and_gathers_index() {
    let k = kernel(
        "kernel g(x: f32[T, 64], ids: i32[P], y: out f32[T, 64]) tiles(BM = 16) { let lo = 2; let hi = 9; \
         let v = ids[lo .. hi]; let rows = load(v[0 .. +BM], other = -1); store(y[rows, :], load(x[rows, :])); }",
    );
    let loads: Vec<_> = all_ops(&k)
        .into_iter()
        .filter_map(|o| {
            if let OpKind::Load { access, other } = o {
                Some((access, *other))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(loads[0].1, -1.0);
    assert!(matches!(
        loads[0].0.bounds[0],
        Bound {
            lo: Some(_),
            hi: Some(_)
        }
    ));
    assert!(matches!(loads[1].0.index[0], Index::Gather(_)));
    assert!(matches!(loads[1].0.index[1], Index::Range { size: 64, .. }));
}

#[test]
fn scaled_types_record_their_contract() {
    let k = kernel(
        "kernel q(a: mx<f4e2m1>[N, K], b: nv<f4e2m1, global = gb>[N, K], gb: f32, c: scaled<f8e4m3, f32, block = [1, 128]>[M, K], \
         d: mx<f6e2m3, axis = 0>[K, N], q: f4e2m1<packed = 0>[K, N], s: e8m0[N, K / 32]) { }",
    );
    let ty = |i: usize| match &k.params[i].kind {
        ParamKind::Tensor { ty, .. } => ty.clone(),
        ParamKind::Scalar(_) => panic!("tensor expected"),
    };
    let a = ty(0);
    let sa = a.scale.expect("scaled");
    assert_eq!(
        (sa.scale_dtype, sa.block.clone(), sa.global, sa.layout),
        (DType::E8M0, vec![1, 32], false, ScaleLayout::Linear)
    );
    assert_eq!(a.packed_axis, Some(1));
    let b = ty(1).scale.expect("scaled");
    assert_eq!(
        (b.scale_dtype, b.block, b.global),
        (DType::UE4M3, vec![1, 16], true)
    );
    assert_eq!(k.attr("global_scale.b"), Some("gb"));
    let c = ty(3);
    assert_eq!(
        (c.scale.expect("scaled").block, c.packed_axis),
        (vec![1, 128], None)
    );
    assert_eq!(ty(4).scale.expect("scaled").block, vec![32, 1]);
    assert_eq!(ty(5).packed_axis, Some(0));
    assert_eq!(
        ty(6).dims,
        vec![Dim::Sym("N".into()), Dim::CeilDiv("K".into(), 32)]
    );
}

#[test]
fn reductions_drop_the_axis_and_scalar_loads_are_scalars() {
    let k = kernel(
        "kernel r(x: f32[8, 16], o: i32[E], y: out f32[8]) { let n = load(o[0]); let s = reduce_max(load(x[:, :]), axis = 1); store(y[:], s + cast<f32>(n)); }",
    );
    let red = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Reduce { .. }))
        .expect("reduce");
    assert_eq!(
        k.ty(red.results[0]),
        &Type::Tile(tessera_ir::TileType::plain(DType::F32, vec![8]))
    );
    let ty_of_first_load = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Load { .. }))
        .map(|o| k.ty(o.results[0]).clone());
    assert_eq!(ty_of_first_load, Some(Type::Scalar(DType::I32)));
}

#[test]
fn every_op_has_a_span_inside_the_source() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dsl_examples/attention_fp8.tsr"
    ))
    .expect("example");
    let k = kernel(&src);
    fn walk(b: &tessera_ir::Block, len: usize) {
        for op in &b.ops {
            assert!(op.span.hi as usize <= len && op.span.lo < op.span.hi, "{op:?}");
            for inner in op.kind.blocks() {
                walk(inner, len);
            }
        }
    }
    walk(&k.body, src.len());
}

#[test]
fn nested_loops_and_branches_carry_and_merge() {
    let k = kernel(
        "kernel n(x: f32[N], y: out f32[N], mode: i32) tiles(B = 64) {
            var acc = zeros<f32>[B];
            var best = -inf;
            for i in 0..N step B {
                let t = load(x[i .. +B]);
                if mode == 0 {
                    acc = acc + t;
                } else if mode == 1 {
                    acc = max(acc, t);
                } else {
                    for j in 0..4 { acc = acc * 0.5; }
                }
                best = max(best, reduce_max(t, axis = 0));
            }
            store(y[0 .. +B], acc + best);
        }",
    );
    let f = k
        .body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::For { .. }))
        .expect("for");
    assert_eq!(f.results.len(), 2, "acc and best are carried");
    let OpKind::For { body, .. } = &f.kind else {
        unreachable!()
    };
    let iff = body
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::If { .. }))
        .expect("if");
    assert_eq!(iff.results.len(), 1, "acc merges");
}

/// Finding F16: every dot operand pair the checker accepts is one the IR verifier accepts (the
/// interpreter runs what verifies), over plain tensors of every dtype and scaled tensors of every
/// contract, on either side.
#[test]
fn every_dot_the_checker_accepts_verifies() {
    let plain = [
        "bf16",
        "f16",
        "f32",
        "i8",
        "i32",
        "f8e4m3",
        "f8e4m3fnuz",
        "f8e5m2",
        "f6e2m3",
        "f6e3m2",
        "f4e2m1",
    ];
    let mut types: Vec<String> = plain.iter().map(|s| s.to_string()).collect();
    for e in ["f8e4m3", "f6e2m3", "f4e2m1"] {
        types.push(format!("mx<{e}>"));
    }
    types.push("nv<f4e2m1, global = g>".to_string());
    let (mut accepted, mut mixed_int) = (0, 0);
    for ta in &types {
        for tb in &types {
            let src = format!(
                "kernel k(a: {ta}[M, K], b: {tb}[N, K], g: f32) tiles(BM = 64, BN = 64, BK = 64) grid(1) {{\n    \
                 let t = dot(load(a[0 .. +BM, 0 .. +BK]), transpose(load(b[0 .. +BN, 0 .. +BK])));\n}}\n"
            );
            let (m, d) = tessera_check::check_source("t.tsr", src.as_bytes());
            if let Some(m) = m {
                accepted += 1;
                tessera_ir::verify_module(&m).unwrap_or_else(|e| panic!("{ta} x {tb}: {e}"));
                assert!((ta == "i8") == (tb == "i8"), "{ta} x {tb} accepted");
            } else if (ta == "i8") != (tb == "i8") && ta != "i32" && tb != "i32" {
                mixed_int += 1;
                assert!(d.iter().any(|d| d.code == "E0110"), "{ta} x {tb}: {d:?}");
            }
        }
    }
    assert!(accepted >= 20, "only {accepted} pairs accepted");
    assert_eq!(mixed_int, 2 * (types.len() - 2));
}
