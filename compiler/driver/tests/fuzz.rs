//! Grammar-aware fuzzing (issue 12, item 7): proptest generates well-formed kernels (ranged loads and
//! stores, elementwise math, casts, reductions, broadcasts `x[:, None]` / `x[None, :]`, a loop with a
//! carried tile, an `if`) and runs each through check -> interpreter at small ragged dims -> the
//! build for every target (sm_90a, sm_100a, sm_120a, sm_121a, gfx950; library calls, assemblers
//! off). No stage may panic; every refusal must be coded, and no build may fail inside the backend
//! (an uncoded or internal failure is a compiler bug).
//! Bounded for CI: a fixed number of cases and a wall-clock budget (`FUZZ_SECS`, default 5).

use proptest::prelude::*;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};
use tessera_interp::{ProgramSet, run};
use tessera_ir::ParamKind;
use tessera_numerics::{ArgValue, Bindings, InputGen};
use tessera_target_nvidia::{BuildError, BuildOptions, LoweringError, LoweringOptions, PtxasMode};

/// An f32 expression over `[BM, BN]` tiles; `leaves` are the names in scope.
fn expr(leaves: Vec<&'static str>) -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(leaves).prop_map(str::to_string);
    let leaf = prop_oneof![
        4 => leaf,
        1 => Just("full<f32>[BM, BN](1.5)".to_string()),
        1 => Just("cast<f32>(arange(BN))[None, :] + zeros<f32>[BM, BN]".to_string()),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*"])
            )
                .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("abs({a})")),
            inner.clone().prop_map(|a| format!("sqrt(abs({a}))")),
            inner.clone().prop_map(|a| format!("sigmoid({a})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            inner.clone().prop_map(|a| format!("max({a}, 0.0)")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("where({a} > 0.0, {a}, {b})")),
            (inner.clone(), prop::sample::select(vec!["bf16", "f16"]))
                .prop_map(|(a, t)| format!("cast<f32>(cast<{t}>({a}))")),
            inner
                .clone()
                .prop_map(|a| format!("({a} + reduce_sum({a}, axis = 1)[:, None])")),
            inner
                .clone()
                .prop_map(|a| format!("({a} * reduce_max({a}, axis = 0)[None, :])")),
        ]
    })
}

/// A whole kernel: a K-style loop carrying `acc`, a store per iteration, an `if`, a row reduction.
fn program() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![16u32, 32, 64]),
        prop::sample::select(vec![16u32, 32, 64]),
        expr(vec!["t", "acc"]),
        expr(vec!["t", "acc"]),
        expr(vec!["acc"]),
        prop::sample::select(vec!["m0 > 0", "program_id(0) == 0", "m0 < M"]),
        prop::sample::select(vec!["reduce_sum", "reduce_max", "reduce_min"]),
    )
        .prop_map(|(bm, bn, carried, stored, after, cond, red)| {
            format!(
                "kernel g(x: f32[M, N], y: out f32[M, N], s: out f32[M]) tiles(BM = {bm}, BN = {bn}) grid(cdiv(M, BM)) {{
    let m0 = program_id(0) * BM;
    var acc = zeros<f32>[BM, BN];
    for n0 in 0..N step BN {{
        let t = load(x[m0 .. +BM, n0 .. +BN]);
        acc = {carried};
        store(y[m0 .. +BM, n0 .. +BN], {stored});
    }}
    if {cond} {{
        acc = {after};
    }}
    store(s[m0 .. +BM], {red}(acc, axis = 1));
}}
"
            )
        })
}

/// The code the CLI prints for a build error (see compiler/driver/src/cmd/build/hopper.rs).
fn build_code(e: &BuildError) -> &'static str {
    match e {
        BuildError::Lowering(LoweringError::Unsupported { .. }) => "L0001",
        BuildError::Lowering(LoweringError::TooLarge { .. }) => "E0714",
        BuildError::Ptxas { .. } => "E0713",
        _ => "E0715",
    }
}

fn bindings(k: &tessera_ir::Kernel, syms: &[(&str, usize)], seed: u64) -> Bindings {
    let mut inputs = InputGen::new(seed);
    let sym = |s: &str| syms.iter().find(|(n, _)| *n == s).map(|(_, v)| *v);
    let args = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Tensor { ty, .. } => {
                let shape: Vec<usize> = ty
                    .dims
                    .iter()
                    .map(|d| match d {
                        tessera_ir::Dim::Const(c) => *c as usize,
                        tessera_ir::Dim::Sym(s) => sym(s).unwrap_or(1),
                        tessera_ir::Dim::CeilDiv(s, by) => sym(s).unwrap_or(1).div_ceil(*by as usize),
                    })
                    .collect();
                ArgValue::Tensor(inputs.tensor_arg(ty, &shape).expect("inputs"))
            }
            ParamKind::Scalar(_) => ArgValue::Scalar(1.0),
        })
        .collect();
    Bindings {
        args,
        syms: k
            .syms
            .iter()
            .map(|s| (s.clone(), sym(s).unwrap_or(1) as i64))
            .collect(),
    }
}

/// What went wrong with one program, if anything.
fn one(src: &str) -> Result<(), String> {
    let (module, diags) = tessera_check::check_source("g.tsr", src.as_bytes());
    let Some(module) = module else {
        // The generator writes well-formed kernels: a refusal here is a generator bug or a
        // checker regression worth seeing.
        let text = tessera_check::render_diagnostics("g.tsr", src.as_bytes(), &diags, false, false);
        return Err(format!("check refused a generated kernel:\n{text}"));
    };
    let k = &module.kernels[0];
    let mut b = bindings(k, &[("M", 37), ("N", 50)], 7);
    match catch_unwind(AssertUnwindSafe(|| run(k, &mut b, ProgramSet::All))) {
        Err(_) => return Err("the interpreter panicked".into()),
        Ok(Err(e)) if e.code().is_empty() => return Err(format!("uncoded interpreter error: {e}")),
        Ok(_) => {}
    }
    let opts = BuildOptions {
        target: tessera_target_nvidia::SM90A,
        lowering: LoweringOptions::default(),
        ptxas: PtxasMode::Off,
    };
    match catch_unwind(AssertUnwindSafe(|| tessera_target_nvidia::compile(k, &opts))) {
        Err(_) => return Err("the sm_90a build panicked".into()),
        Ok(Err(e)) if build_code(&e) == "E0715" => {
            return Err(format!("internal sm_90a build error (E0715): {e}"));
        }
        Ok(_) => {}
    }
    other_targets(src)
}

/// The build of every other target through the library's whole flow (check, that target's pass
/// pipeline, its lowering, the bundle), assemblers off: a refusal must be a coded diagnostic
/// (exit 1), never a panic or an internal error (exit 3).
fn other_targets(src: &str) -> Result<(), String> {
    for target in tessera::compiler::targets::NAMES {
        if target == "sm_90a" {
            continue;
        }
        let req = tessera::compiler::Request {
            file: std::path::Path::new("g.tsr"),
            kernel: None,
            target,
            pipeline: tessera_passes::PipelineOptions::default(),
            knobs: tessera::compiler::Knobs {
                ptxas: false,
                ..Default::default()
            },
        };
        match catch_unwind(AssertUnwindSafe(|| {
            tessera::compiler::build_source("g.tsr", src.as_bytes(), &req)
        })) {
            Err(_) => return Err(format!("the {target} build panicked")),
            Ok(Err(f)) if f.exit != 1 || !f.message.contains("error[") => {
                return Err(format!(
                    "{target}: not a coded refusal (exit {}): {}",
                    f.exit, f.message
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(secs)
}

#[test]
fn generated_kernels_check_run_and_build_without_panics() {
    let start = Instant::now();
    let limit = budget();
    let ran = Cell::new(0u32);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&program(), |src| {
        if start.elapsed() > limit {
            return Ok(());
        }
        ran.set(ran.get() + 1);
        one(&src).map_err(|e| TestCaseError::fail(format!("{e}\n--- program ---\n{src}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(ran.get() >= 3, "only {} programs ran in the budget", ran.get());
}

/// A small deterministic generator for the byte-level fuzzers (no dependence on proptest's
/// shrinking: the inputs are printed on failure).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random edit of `text`: delete, duplicate or replace a span, or swap two lines.
fn mutate(text: &str, r: &mut SplitMix) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let at = r.below(b.len());
    match r.below(5) {
        0 => {
            let n = 1 + r.below(8);
            out.drain(at..(at + n).min(b.len()));
        }
        1 => {
            let n = 1 + r.below(16);
            let piece = b[at..(at + n).min(b.len())].to_vec();
            out.splice(at..at, piece);
        }
        2 => {
            const PIECES: &[&str] = &[
                "0",
                "-1",
                "2147483648",
                "%9999",
                "f8e4m3",
                "(",
                ")",
                ",",
                "i32",
                "[",
                "]",
                " ",
                "x",
                "999999999999",
            ];
            let p = PIECES[r.below(PIECES.len())].as_bytes();
            let end = (at + 1 + r.below(3)).min(b.len());
            out.splice(at..end, p.iter().copied());
        }
        3 => {
            let mut lines: Vec<&str> = text.lines().collect();
            let (i, j) = (r.below(lines.len()), r.below(lines.len()));
            lines.swap(i, j);
            return lines.join("\n");
        }
        _ => {
            out.truncate(at);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn example_ir() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tsr"))
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let (m, _) = tessera_check::check_source("x.tsr", &bytes);
            m.map(|m| tessera_ir::print_module(&m))
        })
        .collect()
}

#[test]
fn mutated_ir_text_through_opt_never_panics() {
    let caps = tessera_passes::registry::target("sm_90a").unwrap();
    let opts = tessera_passes::PipelineOptions {
        verify_each: true,
        ..tessera_passes::PipelineOptions::default()
    };
    let seeds = example_ir();
    assert!(!seeds.is_empty());
    let start = Instant::now();
    let mut r = SplitMix(12);
    let mut n = 0;
    while start.elapsed() < budget() && n < 3000 {
        let base = &seeds[r.below(seeds.len())];
        let mut text = mutate(base, &mut r);
        if r.below(2) == 0 {
            text = mutate(&text, &mut r);
        }
        let got = catch_unwind(AssertUnwindSafe(|| {
            tessera_passes::opt(&text, caps, &opts, &mut std::io::sink())
        }));
        assert!(got.is_ok(), "opt panicked on:\n{text}");
        n += 1;
    }
    assert!(n >= 50, "only {n} mutants");
}

#[test]
fn corrupted_npy_bytes_are_refused_with_a_code() {
    use tessera_ir::DType;
    let mut r = SplitMix(34);
    let start = Instant::now();
    let cases: &[(DType, &[usize], Option<usize>)] = &[
        (DType::F32, &[3, 5], None),
        (DType::BF16, &[4, 4], None),
        (DType::F8E4M3, &[2, 8], None),
        (DType::F4E2M1, &[2, 8], Some(1)),
        (DType::F6E2M3, &[16], None),
    ];
    let mut n = 0;
    while start.elapsed() < budget() && n < 4000 {
        let (d, shape, packed) = cases[r.below(cases.len())];
        let mut g = InputGen::new(r.next());
        let ty = tessera_ir::TensorType {
            dtype: d,
            dims: shape.iter().map(|&s| tessera_ir::Dim::Const(s as u64)).collect(),
            scale: None,
            packed_axis: packed,
        };
        let arg = g.tensor_arg(&ty, shape).unwrap();
        let good = tessera_numerics::to_npy_bytes(&arg.data).unwrap();
        let mut bytes = good.clone();
        for _ in 0..1 + r.below(4) {
            match r.below(3) {
                0 if !bytes.is_empty() => {
                    let i = r.below(bytes.len());
                    bytes[i] = r.next() as u8;
                }
                1 => bytes.truncate(r.below(bytes.len() + 1)),
                _ => {
                    let i = r.below(bytes.len() + 1);
                    bytes.insert(i, r.next() as u8);
                }
            }
        }
        let got = catch_unwind(AssertUnwindSafe(|| {
            tessera_numerics::from_npy_bytes(&bytes, "x.npy", d, Some(shape), packed)
        }));
        match got {
            Err(_) => panic!("from_npy_bytes panicked on {bytes:?}"),
            Ok(Err(e)) => assert!(e.code.starts_with("E05"), "{e:?}"),
            Ok(Ok(_)) => {}
        }
        n += 1;
    }
    assert!(n >= 100);
}

#[test]
fn corrupted_bundle_meta_is_refused_with_a_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let s = std::env::temp_dir().join(format!("tessera-fuzz-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&s);
    std::fs::create_dir_all(&s).unwrap();
    let good = s.join("good");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(&root)
        .args(["build", "dsl_examples/gemm_fp8.tsr", "--no-ptxas", "-o"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta = std::fs::read_to_string(good.join("meta.json")).unwrap();
    let bad = s.join("bad");
    let _ = std::fs::remove_dir_all(&bad);
    std::fs::create_dir_all(&bad).unwrap();
    for f in std::fs::read_dir(&good).unwrap().flatten() {
        std::fs::copy(f.path(), bad.join(f.file_name())).unwrap();
    }
    let mut r = SplitMix(56);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < budget() && n < 1500 {
        let text = mutate(&meta, &mut r);
        std::fs::write(bad.join("meta.json"), &text).unwrap();
        let got = catch_unwind(AssertUnwindSafe(|| tessera_bundle::Bundle::read(&bad)));
        match got {
            Err(_) => panic!("Bundle::read panicked on meta.json:\n{text}"),
            Ok(Err(e)) => assert!(e.code().starts_with("E086"), "{e}"),
            Ok(Ok(_)) => {}
        }
        n += 1;
    }
    let _ = std::fs::remove_dir_all(&s);
    assert!(n >= 50);
}

#[test]
fn cli_misuse_is_a_coded_usage_error_never_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let f = "dsl_examples/gemm_fp8.tsr";
    let cases: &[&[&str]] = &[
        &[],
        &["--nope"],
        &["frobnicate"],
        &["check"],
        &["check", "--diagnostics"],
        &["check", "--diagnostics=yaml", f],
        &["explain"],
        &["build", f, "--stages"],
        &["build", f, "--stages", "-3"],
        &["build", f, "--stages", "99999999999999999999"],
        &["build", f, "--emit=asm"],
        &["build", f, "--emit"],
        &["build", f, "--target"],
        &["build", f, "-o"],
        &["build", f, "--stages", "0", "--report"],
        &["build", f],
        &["build", f, "--kernel"],
        &["build", "--list-targets", "--list-targets"],
        &["run"],
        &["run", f, "--backend"],
        &["run", f, "--backend", "tpu"],
        &["run", f, "--seed", "abc"],
        &["run", f, "--seed", "-1"],
        &["validate"],
        &["validate", f, "--backend", "x"],
        &["bench"],
        &["opt"],
        &["opt", f, "--seed", "x"],
        &["opt", f, "--passes"],
        &["demo", "--bogus"],
        &["build", f, "--print-after"],
        &["build", f, "--diff-interp", "--seed", "1.5"],
    ];
    for args in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .current_dir(&root)
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error[E"), "{args:?} uncoded: {err}");
    }
}
