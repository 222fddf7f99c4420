//! Tests of the pass manager: pipelines from target data, the print options, verify-each turning a
//! broken pass into an internal compiler error with a replayable reproducer, and diff-interp
//! naming a pass that changes results (a deliberately broken one), while the real pipelines pass.

mod common;

use common::{Form, dequant_gemm, mxfp8_gemm};
use std::path::{Path, PathBuf};
use tessera_ir::{DType, Kernel, Module, OpKind, samples};
use tessera_passes::diff::DiffError;
use tessera_passes::{
    Changed, DiffOptions, Pass, PassError, PassInfo, PipelineError, PipelineOptions, TargetCaps, registry,
    run_passes, run_pipeline,
};

fn module(k: Kernel) -> Module {
    Module {
        source_name: "test.tsr".into(),
        kernels: vec![k],
    }
}

fn sm90() -> &'static TargetCaps {
    TargetCaps::lookup("sm_90a").unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-passes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

use tessera_passes::testing::SWAP_DOT_OPERANDS as SWAP;

/// Drops the per-tensor scale multiply of the GEMM epilogue (`acc * scale0` becomes `acc`), the
/// XLA #48543 bug class: the IR stays valid, only the numbers change.
struct DropScale;
impl Pass for DropScale {
    fn name(&self) -> &'static str {
        "drop-scale"
    }
    fn run(&self, k: &mut Kernel, _: &TargetCaps) -> Result<Changed, PassError> {
        let mut changed = false;
        for op in &mut k.body.ops {
            if let OpKind::Binary {
                op: tessera_ir::BinOp::Mul,
                lhs,
                rhs,
            } = op.kind
                && k.values[lhs.0 as usize].ty.as_tile().is_some()
                && k.values[lhs.0 as usize].ty.dtype() == DType::F32
            {
                op.kind = OpKind::Binary {
                    op: tessera_ir::BinOp::Max,
                    lhs,
                    rhs: lhs,
                };
                let _ = rhs;
                changed = true;
            }
        }
        Ok(Changed::from_bool(changed))
    }
}
const DROP: PassInfo = PassInfo {
    name: "drop-scale",
    summary: "broken on purpose",
    make: || Box::new(DropScale),
};

fn block_spec(block: Vec<u32>) -> tessera_ir::ScaleSpec {
    tessera_ir::ScaleSpec {
        scale_dtype: DType::F32,
        block,
        global: false,
        layout: tessera_ir::ScaleLayout::Linear,
    }
}

/// `c = a · b^T` with both operands under `spec` (DeepSeek: `b` gets 128x128 blocks).
fn scaled_gemm(a_dt: DType, b_dt: DType, spec: tessera_ir::ScaleSpec) -> Kernel {
    let operand = |dt: DType, dims: &[&str], spec: tessera_ir::ScaleSpec| {
        let mut t = samples::tensor(dt, dims);
        t.packed_axis = (dt == DType::F4E2M1).then_some(1);
        t.scale = Some(spec);
        t
    };
    let b_spec = if spec.scale_dtype == DType::F32 {
        block_spec(vec![128, 128])
    } else {
        spec.clone()
    };
    let bk = if spec.scale_dtype == DType::F32 { 128 } else { 64 };
    samples::gemm(
        operand(a_dt, &["M", "K"], spec),
        operand(b_dt, &["N", "K"], b_spec),
        DType::BF16,
        (32, 32, bk),
        0,
    )
}

fn bf16_gemm(tiles: (u32, u32, u32), scalars: usize) -> Kernel {
    samples::gemm(
        samples::tensor(DType::BF16, &["M", "K"]),
        samples::tensor(DType::BF16, &["N", "K"]),
        DType::F32,
        tiles,
        scalars,
    )
}

#[test]
fn print_pipeline_and_print_after() {
    let mut m = module(mxfp8_gemm());
    let opts = PipelineOptions {
        print_pipeline: true,
        print_after: vec!["fuse-dequant".into()],
        ..Default::default()
    };
    let mut log = Vec::new();
    let r = run_pipeline(&mut m, sm90(), &opts, &mut log).unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(
        log.starts_with(
            "pipeline for sm_90a: canonicalize -> fuse-dequant -> assign-scale-layout -> assign-layouts-mma\n"
        ),
        "{log}"
    );
    assert_eq!(log.matches("// ----- IR after").count(), 1, "{log}");
    assert!(log.contains("// ----- IR after fuse-dequant (kernel @gemm, target sm_90a) -----"));
    assert!(
        log.contains("fuse.dot@"),
        "the strategy attribute is in the printed IR"
    );
    assert_eq!(
        r.passes,
        [
            "canonicalize",
            "fuse-dequant",
            "assign-scale-layout",
            "assign-layouts-mma"
        ]
    );
    assert_eq!(r.runs.len(), 4);
    assert_eq!(r.dequant.len(), 1);
    assert_eq!(r.dequant[0].0, "gemm");
    assert!(
        r.dequant[0].2.starts_with("dequant: fused (MMA on raw codes"),
        "{:?}",
        r.dequant
    );

    let mut log = Vec::new();
    let opts = PipelineOptions {
        print_after_all: true,
        ..Default::default()
    };
    run_pipeline(&mut module(mxfp8_gemm()), sm90(), &opts, &mut log).unwrap();
    assert_eq!(
        String::from_utf8(log)
            .unwrap()
            .matches("// ----- IR after")
            .count(),
        4
    );

    let opts = PipelineOptions {
        print_after: vec!["nope".into()],
        ..Default::default()
    };
    let e = run_pipeline(&mut module(mxfp8_gemm()), sm90(), &opts, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().starts_with("E0901: unknown pass `nope`"), "{e}");
}

#[test]
fn explicit_pass_list() {
    let opts = PipelineOptions {
        passes: Some("assign-scale-layout".into()),
        ..Default::default()
    };
    let r = run_pipeline(
        &mut module(mxfp8_gemm()),
        TargetCaps::lookup("sm_100a").unwrap(),
        &opts,
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(
        r.runs,
        [("gemm".to_string(), "assign-scale-layout", Changed::Yes)]
    );
}

#[test]
fn verify_each_turns_bad_ir_into_an_ice_with_a_reproducer() {
    let dir = scratch("ice");
    let opts = PipelineOptions {
        verify_each: true,
        repro_dir: Some(dir.clone()),
        ..Default::default()
    };
    let canon = *registry::lookup("canonicalize").unwrap();
    // 32x64 by 64x32 tiles: swapped operands no longer line up.
    let err = run_passes(
        &mut module(bf16_gemm((32, 32, 64), 0)),
        sm90(),
        &[canon, SWAP],
        &opts,
        &mut Vec::new(),
    )
    .unwrap_err();
    let PipelineError::VerifyFailed {
        pass, repro, replay, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*pass, "swap-dot-operands");
    let msg = err.to_string();
    assert!(
        msg.starts_with("internal compiler error: the IR does not verify after pass `swap-dot-operands`"),
        "{msg}"
    );
    assert!(msg.contains("dot"), "{msg}");
    assert_eq!(
        *replay,
        format!("tessera opt {repro} --target=sm_90a --passes=swap-dot-operands --verify-each")
    );
    // The reproducer is the IR before the pass: it parses, verifies, and replaying the pass on it
    // fails the same way.
    let text = std::fs::read_to_string(Path::new(repro)).unwrap();
    let mut again = tessera_ir::parse_module(&text).unwrap();
    tessera_ir::verify_module(&again).unwrap();
    let replayed = run_passes(&mut again, sm90(), &[SWAP], &opts, &mut Vec::new()).unwrap_err();
    assert!(matches!(
        replayed,
        PipelineError::VerifyFailed {
            pass: "swap-dot-operands",
            ..
        }
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn verify_each_rejects_invalid_input_before_any_pass() {
    let mut k = bf16_gemm((32, 32, 32), 0);
    let store = k.body.ops.pop().unwrap();
    k.body.ops.insert(0, store); // the store now uses values before their definition
    let opts = PipelineOptions {
        verify_each: true,
        ..Default::default()
    };
    let e = run_pipeline(&mut module(k), sm90(), &opts, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, PipelineError::InputInvalid(_)), "{e}");
}

fn diff_opts(dir: &Path) -> PipelineOptions {
    PipelineOptions {
        verify_each: true,
        diff_interp: Some(DiffOptions::default()),
        repro_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

#[test]
fn diff_interp_names_a_pass_that_swaps_dot_operands() {
    let dir = scratch("swap");
    let canon = *registry::lookup("canonicalize").unwrap();
    // Square tiles: the swapped IR verifies, only the numbers are wrong.
    let err = run_passes(
        &mut module(bf16_gemm((32, 32, 32), 0)),
        sm90(),
        &[canon, SWAP],
        &diff_opts(&dir),
        &mut Vec::new(),
    )
    .unwrap_err();
    let PipelineError::Diff {
        pass, error, replay, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*pass, "swap-dot-operands");
    let DiffError::Mismatch(m) = error.as_ref() else {
        panic!("{error}")
    };
    assert_eq!((m.pass.as_str(), m.output.as_str()), ("swap-dot-operands", "c"));
    assert_eq!(m.index.len(), 2);
    assert!((m.before - m.after).abs() as f64 > m.tolerance);
    assert!(replay.contains("--diff-interp --seed="), "{replay}");
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        msg.contains("pass `swap-dot-operands` changed the results of kernel `gemm`: output `c` (written by store at loc(0:0)) element ["),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn diff_interp_names_a_pass_that_drops_a_scale() {
    let dir = scratch("drop");
    let err = run_passes(
        &mut module(bf16_gemm((32, 32, 32), 1)),
        sm90(),
        &[DROP],
        &diff_opts(&dir),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            PipelineError::Diff {
                pass: "drop-scale",
                ..
            }
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn real_pipelines_pass_diff_interp_on_hopper() {
    let dir = scratch("real");
    // (kernel, whether some pass changes it): unchanged kernels are not re-interpreted.
    let cases = [
        (mxfp8_gemm(), true),
        (dequant_gemm(Form::ScaledTile), true),
        (dequant_gemm(Form::ExplicitScale), true),
        (bf16_gemm((32, 32, 32), 1), false),
        (
            scaled_gemm(DType::F8E4M3, DType::F4E2M1, samples::mx_spec(1)),
            true,
        ),
        (
            scaled_gemm(DType::F4E2M1, DType::F4E2M1, samples::nv_spec(1)),
            true,
        ),
        (
            scaled_gemm(DType::F8E4M3, DType::F8E4M3, block_spec(vec![1, 128])),
            true,
        ),
    ];
    for (k, changes) in cases {
        let name = format!(
            "{:?}",
            k.params.iter().map(|p| p.name.clone()).collect::<Vec<_>>()
        );
        let r = run_pipeline(&mut module(k), sm90(), &diff_opts(&dir), &mut Vec::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // assign-layouts always changes the kernel (it is checked by diff-interp every time);
        // the scale passes change exactly the kernels with low-precision operands.
        let scale_passes_changed = r
            .runs
            .iter()
            .any(|(_, p, c)| !p.starts_with("assign-layouts") && *c == tessera_passes::Changed::Yes);
        assert_eq!(scale_passes_changed, changes, "{name}: {r:?}");
        assert!(r.diff_checks > 0, "{name}: every changing pass is diff-checked");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// On targets with swizzled scale layouts the interpreter reads the prepacked buffers through the
/// layout the type names, so assign-scale-layout is checked like any other pass.
#[test]
fn swizzled_layouts_pass_diff_interp() {
    let dir = scratch("swizzled");
    for target in ["sm_100a", "sm_120a", "gfx950"] {
        let caps = TargetCaps::lookup(target).unwrap();
        for k in [
            mxfp8_gemm(),
            scaled_gemm(DType::F4E2M1, DType::F4E2M1, samples::nv_spec(1)),
        ] {
            let r = run_pipeline(&mut module(k), caps, &diff_opts(&dir), &mut Vec::new())
                .unwrap_or_else(|e| panic!("{target}: {e}"));
            assert!(
                r.runs
                    .iter()
                    .any(|(_, p, c)| *p == "assign-scale-layout" && *c == Changed::Yes)
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn registry_names_are_used_everywhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("../../docs/dev/passes.md")).unwrap();
    for p in registry::REGISTRY {
        let module = root
            .join("src/passes")
            .join(format!("{}.rs", p.name.replace('-', "_")));
        assert!(module.is_file(), "{}: no module {}", p.name, module.display());
        let tests = root.join("tests").join(p.name).join("main.rs");
        assert!(tests.is_file(), "{}: no test folder {}", p.name, tests.display());
        assert!(
            docs.lines().any(|l| l == format!("## {}", p.name)),
            "{}: no `## {}` in docs/dev/passes.md",
            p.name,
            p.name
        );
    }
}

#[test]
fn opt_parses_runs_and_prints_and_rejects_bad_text() {
    let m = module(mxfp8_gemm());
    let text = tessera_ir::print_module(&m);
    let opts = PipelineOptions {
        passes: Some("assign-scale-layout".into()),
        verify_each: true,
        ..Default::default()
    };
    let sm100 = TargetCaps::lookup("sm_100a").unwrap();
    let out = tessera_passes::opt(&text, sm100, &opts, &mut Vec::new()).unwrap();
    assert!(
        out.contains("layout = nv128x4") && out.contains("scale_pad.a"),
        "{out}"
    );
    // The output is IR text again: running the pass once more changes nothing.
    assert_eq!(
        tessera_passes::opt(&out, sm100, &opts, &mut Vec::new()).unwrap(),
        out
    );

    let e = tessera_passes::opt("not ir", sm100, &opts, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, PipelineError::Parse(_)), "{e}");
    // Parses, but a store comes before the values it uses: verified before any pass runs, even
    // without --verify-each.
    let mut bad = mxfp8_gemm();
    let store = bad.body.ops.pop().unwrap();
    bad.body.ops.insert(0, store);
    let text = tessera_ir::print_module(&module(bad));
    let e = tessera_passes::opt(&text, sm100, &PipelineOptions::default(), &mut Vec::new()).unwrap_err();
    assert!(matches!(e, PipelineError::InputInvalid(_)), "{e}");
}
