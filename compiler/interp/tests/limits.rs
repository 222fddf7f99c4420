//! Limits of the interpreter (findings F01, F05, F17): a huge grid is iterated, not materialized;
//! IR with a tile over `MAX_TILE_ELEMENTS` is refused (E0611) before anything is allocated; a work
//! budget stops long runs with E0612 and the progress callback sees them.

use std::sync::Mutex;
use tessera_interp::{ProgramSet, Progress, RunOptions, run, run_with};
use tessera_ir::{Kernel, ParamKind};
use tessera_numerics::{ArgValue, Bindings, InputGen, TensorArg, poison_buf};

fn kernel(src: &str) -> Kernel {
    let (m, d) = tessera_check::check_source("k.tsr", src.as_bytes());
    assert!(d.is_empty(), "{d:?}");
    m.expect("module").kernels.remove(0)
}

/// Random inputs of `n` elements for every 1-d tensor param, poisoned outputs, `scalar` for scalars.
fn bindings(k: &Kernel, n: usize, scalar: f64) -> Bindings {
    let mut g = InputGen::new(1);
    let args = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Scalar(_) => ArgValue::Scalar(scalar),
            ParamKind::Tensor { ty, is_out: true } => ArgValue::Tensor(TensorArg {
                data: poison_buf(ty.dtype, &[n], None),
                scale: None,
                global_scale: None,
            }),
            ParamKind::Tensor { ty, .. } => ArgValue::Tensor(g.tensor_arg(ty, &[n]).expect("inputs")),
        })
        .collect();
    Bindings {
        args,
        syms: Vec::new(),
    }
}

#[test]
fn a_huge_grid_is_a_long_run_stopped_by_the_budget_not_an_allocation() {
    // F01: 2^31-1 x 2^31-1 x 65535 programs used to panic with 'capacity overflow'.
    let k = kernel(
        "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(2147483647, 2147483647, 65535) {\n    \
         let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
    );
    let mut b = bindings(&k, 64, 0.0);
    let seen = Mutex::new(Vec::<Progress>::new());
    let record = |p: Progress| seen.lock().expect("lock").push(p);
    let opts = RunOptions {
        max_work: Some(1_000_000),
        progress: Some(&record),
    };
    let e = run_with(&k, &mut b, ProgramSet::All, &opts).expect_err("budget");
    assert_eq!(e.code(), "E0612", "{e}");
    let seen = seen.into_inner().expect("lock");
    let last = seen.last().expect("progress was reported");
    assert_eq!(last.programs_total, u64::MAX, "2^62 x 65535 programs saturate");
    assert!(last.programs_done > 0 && last.work_done > 0, "{last:?}");
    // The first programs' writes were applied in order (program 0 stored x[0..64]).
    let ArgValue::Tensor(y) = &b.args[1] else { panic!() };
    let ArgValue::Tensor(x) = &b.args[0] else { panic!() };
    assert_eq!(y.data.bytes, x.data.bytes);
}

#[test]
fn a_long_loop_is_stopped_by_the_budget() {
    // F17 (s1906): 2^33 iterations of a 32-element add.
    let k = kernel(
        "kernel nest(x: f32[N], y: out f32[N], n: i32) tiles(B = 32) grid(cdiv(N, B)) {\n    \
         let i = program_id(0) * B;\n    var acc = load(x[i .. +B]);\n    for j0 in 0..n {\n        \
         for j2 in 0..2147483647 {\n            acc = acc + 1.0;\n        }\n    }\n    store(y[i .. +B], acc);\n}\n",
    );
    let mut b = bindings(&k, 2, 2.0);
    let opts = RunOptions {
        max_work: Some(10_000_000),
        progress: None,
    };
    let e = run_with(&k, &mut b, ProgramSet::All, &opts).expect_err("budget");
    assert_eq!(e.code(), "E0612", "{e}");
    assert!(e.to_string().contains("work budget of 10000000"), "{e}");
    // Without a budget a short run of the same kernel completes.
    let mut b = bindings(&k, 2, 0.0);
    run(&k, &mut b, ProgramSet::All).expect("n = 0 runs");
}

#[test]
fn ir_with_a_tile_over_the_limit_is_refused_before_allocating() {
    // F05: the checker refuses such tiles (E0143), but IR also comes from .tir files.
    let k = kernel(
        "kernel k(y: out f32[N]) tiles(B = 1024) grid(1) {\n    let z = zeros<f32>[B, B];\n    \
         store(y[0 .. +B], reduce_sum(z, axis = 1));\n}\n",
    );
    let module = tessera_ir::Module {
        source_name: "k.tsr".into(),
        kernels: vec![k],
    };
    let text = tessera_ir::print_module(&module).replace("1024", "1048576");
    let m = tessera_ir::parse_module(&text).expect("parses");
    let big = m.kernels.into_iter().next().expect("kernel");
    tessera_ir::verify_kernel(&big).expect("verifies");
    let mut b = bindings(&big, 16, 0.0);
    let e = run(&big, &mut b, ProgramSet::All).expect_err("refused");
    assert_eq!(e.code(), "E0611", "{e}");
    assert!(e.to_string().contains("1048576"), "{e}");
}
