//! The `tessera run`, `validate` and `demo` commands as a user calls them: exit codes, printed
//! seeds and metrics, `.npy` in and out, coded errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tessera_ir::DType;
use tessera_numerics::{InputGen, read_npy, write_npy};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tessera(args: &[&str]) -> (i32, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("spawn tessera");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name)
}

#[test]
fn run_random_writes_npy_and_prints_the_seed() {
    let c = tmp("c_random.npy");
    let cs = c.to_str().expect("utf8 path");
    let (code, text) = tessera(&[
        "run",
        "dsl_examples/gemm_bf16.tsr",
        "--backend",
        "interp",
        "--random",
        "--seed",
        "3",
        "--dim",
        "M=100",
        "--dim",
        "N=64",
        "--dim",
        "K=64",
        "--out",
        &format!("c={cs}"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("seed: 3"), "{text}");
    let buf = read_npy(&c, DType::BF16, Some(&[100, 64]), None).expect("output npy");
    assert_eq!(buf.shape, vec![100, 64]);
}

#[test]
fn run_binds_dims_from_npy_inputs() {
    let mut g = InputGen::new(5);
    let a = g.plain(DType::BF16, &[40, 96], None).expect("a");
    let b = g.plain(DType::BF16, &[24, 96], None).expect("b");
    let (pa, pb, pc) = (tmp("a.npy"), tmp("b.npy"), tmp("c.npy"));
    write_npy(&pa, &a).expect("write a");
    write_npy(&pb, &b).expect("write b");
    let s = |p: &PathBuf| p.to_str().expect("utf8").to_string();
    let (code, text) = tessera(&[
        "run",
        "dsl_examples/gemm_bf16.tsr",
        "--arg",
        &format!("a={}", s(&pa)),
        "--arg",
        &format!("b={}", s(&pb)),
        "--out",
        &format!("c={}", s(&pc)),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("M=40") && text.contains("K=96") && text.contains("N=24"),
        "{text}"
    );
    let c = read_npy(&pc, DType::BF16, Some(&[40, 24]), None).expect("c");
    assert_eq!(c.shape, vec![40, 24]);
    // A file of the wrong dtype is a coded error, exit 2.
    let (code, text) = tessera(&[
        "run",
        "dsl_examples/gemm_fp8.tsr",
        "--arg",
        &format!("a={}", s(&pa)),
        "--arg",
        "b=x.npy",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("E0501"), "{text}");
    // Inputs that disagree on a dim are a coded error, not a crash.
    let b48 = g.plain(DType::BF16, &[24, 48], None).expect("b48");
    let pb48 = tmp("b48.npy");
    write_npy(&pb48, &b48).expect("write b48");
    let (code, text) = tessera(&[
        "run",
        "dsl_examples/gemm_bf16.tsr",
        "--arg",
        &format!("a={}", s(&pa)),
        "--arg",
        &format!("b={}", s(&pb48)),
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("E0502") && !text.contains("panicked"), "{text}");
    // So is a --dim too large for any host buffer (the element count would overflow).
    let (code, text) = tessera(&[
        "run",
        "dsl_examples/gemm_bf16.tsr",
        "--random",
        "--seed",
        "1",
        "--dim",
        "M=9223372036854775807",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("too many elements") && !text.contains("panicked"),
        "{text}"
    );
}

#[test]
fn validate_reports_metrics_and_fails_with_codes() {
    let (code, text) = tessera(&[
        "validate",
        "dsl_examples/gemm_mxfp8.tsr",
        "--backend",
        "interp",
        "--seed",
        "4",
    ]);
    assert_eq!(code, 0, "{text}");
    for want in [
        "seed: 4",
        "M=100",
        "N=704",
        "K=320",
        "max_rel",
        "rel_l2",
        "cosine",
        "poisoned 0",
        "PASS",
    ] {
        assert!(text.contains(want), "`{want}` missing in:\n{text}");
    }
    // DeepSeek 1x128 blocks: the default dims are whole blocks (K = 384), and a given K = 320 is
    // not a whole number of blocks.
    let (code, text) = tessera(&["validate", "dsl_examples/gemm_fp8_blockscale.tsr", "--seed", "4"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("K=384") && text.contains("PASS"), "{text}");
    let (code, text) = tessera(&[
        "validate",
        "dsl_examples/gemm_fp8_blockscale.tsr",
        "--dim",
        "K=320",
        "--seed",
        "4",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("E0607") && text.contains("E0804"), "{text}");
    let (code, text) = tessera(&[
        "validate",
        "dsl_examples/gemm_fp8_blockscale.tsr",
        "--dim",
        "K=384",
        "--seed",
        "4",
    ]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = tessera(&["validate", "dsl_examples/gemm_bf16.tsr", "--dim", "Q=3"]);
    assert_eq!(code, 2, "{text}");
}

/// The README's main job: interpreter vs reference, an in-process sm_90a build with its summary,
/// the built IR re-checked, then the GPU step (validated when a CUDA GPU is present, else one line
/// saying so and still exit 0), and the summary table.
#[test]
fn demo_builds_validates_and_summarises() {
    let (code, text) = tessera(&["demo"]);
    assert_eq!(code, 0, "{text}");
    let summary = text
        .split("\nsummary\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary:\n{text}"));
    let row = |step: &str| {
        summary
            .lines()
            .find(|l| l.trim_start().starts_with(step))
            .unwrap_or_else(|| panic!("no `{step}` row:\n{text}"))
            .to_string()
    };
    for step in [
        "interp M=100,N=704,K=320",
        "interp M=512,N=512,K=512",
        "interp sm_90a IR M=100,N=704,K=320",
    ] {
        assert!(row(step).contains("PASS"), "{text}");
    }
    // The build line names the MMA family, TMA, registers and how MX dequant was handled.
    assert!(row("build sm_90a").contains(" ok "), "{text}");
    let built = text
        .lines()
        .find(|l| l.contains("built `gemm_mxfp8`"))
        .unwrap_or_else(|| panic!("no build line:\n{text}"));
    for part in ["mma wgmma", "TMA: ", "registers", "dequant: fused"] {
        assert!(built.contains(part), "`{part}` missing: {built}");
    }
    let gpu = row("GPU validate");
    if tessera_cuda::device_available() {
        assert!(gpu.contains("PASS"), "{text}");
    } else {
        assert!(
            gpu.contains("skipped") && text.contains("no CUDA GPU here"),
            "{text}"
        );
    }
}

#[test]
fn demo_of_a_missing_file_is_a_usage_error() {
    let (code, text) = tessera(&["demo", "--file", "dsl_examples/no_such.tsr"]);
    assert_eq!(code, 2, "{text}");
}

/// NVFP4 inputs from files without their per-tensor scale must be refused: a made-up global scale
/// would silently rescale the user's data.
#[test]
fn run_refuses_nvfp4_files_without_their_global_scale() {
    use tessera_ir::{DType as D, ScaleLayout, ScaleSpec, TensorType};
    let mut g = InputGen::new(11);
    let spec = ScaleSpec {
        scale_dtype: D::UE4M3,
        block: vec![1, 16],
        global: true,
        layout: ScaleLayout::Linear,
    };
    let dims = vec![tessera_ir::Dim::Sym("R".into()), tessera_ir::Dim::Sym("K".into())];
    let ty = TensorType {
        dtype: D::F4E2M1,
        dims,
        scale: Some(spec),
        packed_axis: Some(1),
    };
    let s = |p: &PathBuf| p.to_str().expect("utf8").to_string();
    let mut files = Vec::new();
    for (name, rows) in [("a", 40usize), ("b", 24)] {
        let t = g.tensor_arg(&ty, &[rows, 64]).expect("nvfp4 tensor");
        let (pd, ps) = (tmp(&format!("nv_{name}.npy")), tmp(&format!("nv_{name}_s.npy")));
        write_npy(&pd, &t.data).expect("write data");
        write_npy(&ps, t.scale.as_ref().expect("scales")).expect("write scales");
        files.push(format!("{name}={}", s(&pd)));
        files.push(format!("{name}.scale={}", s(&ps)));
    }
    let mut args = vec!["run", "dsl_examples/gemm_nvfp4.tsr"];
    for f in &files {
        args.extend(["--arg", f.as_str()]);
    }
    let (code, text) = tessera(&args);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("E0508") && text.contains("--arg ga="), "{text}");
    // With both global scales given, the same files run.
    args.extend(["--arg", "ga=0.5", "--arg", "gb=2"]);
    let (code, text) = tessera(&args);
    assert_eq!(code, 0, "{text}");
}

const EW: &str =
    "kernel ew(x: f32[M, N], y: out f32[M, N]) tiles(BM = 32, BN = 32) grid(cdiv(M, BM), cdiv(N, BN)) {
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    store(y[m0 .. +BM, n0 .. +BN], load(x[m0 .. +BM, n0 .. +BN]) * 2.0);
}
";

/// F11 (issue 12): nothing given on the command line is silently ignored, on every backend.
#[test]
fn run_refuses_args_that_do_not_fit_the_signature() {
    let src = tmp("ew.tsr");
    std::fs::write(&src, EW).expect("write ew.tsr");
    let x = InputGen::new(1).plain(DType::F32, &[64, 64], None).expect("x");
    let px = tmp("ew_x.npy");
    write_npy(&px, &x).expect("write x");
    let (s, xs) = (src.to_str().expect("utf8"), px.to_str().expect("utf8"));
    let gemm_a = InputGen::new(2).plain(DType::F8E4M3, &[64, 64], None).expect("a");
    let pa = tmp("f8_a.npy");
    write_npy(&pa, &gemm_a).expect("write a");
    let pas = pa.to_str().expect("utf8");
    for backend in ["interp", "cuda"] {
        let cases: Vec<(Vec<String>, &str)> = vec![
            (vec![format!("x={xs}"), format!("y={xs}")], "error[E0511]"),
            (
                vec![format!("x={xs}"), "x=/nonexistent.npy".into()],
                "error[E0511]",
            ),
            (
                vec![format!("x={xs}"), "x.scale=/nonexistent.npy".into()],
                "error[E0508]",
            ),
            (vec![format!("x={xs}"), "z=1".into()], "error[E0511]"),
        ];
        for (args, code) in cases {
            let mut cmd = vec!["run", s, "--backend", backend];
            for a in &args {
                cmd.extend(["--arg", a]);
            }
            let (rc, text) = tessera(&cmd);
            assert_eq!(rc, 2, "{backend} {args:?}: {text}");
            assert!(text.contains(code), "{backend} {args:?}: want {code} in {text}");
        }
    }
    // A missing f32 scalar is never defaulted on real data (it used to be a seeded value).
    let (rc, text) = tessera(&[
        "run",
        "dsl_examples/gemm_fp8.tsr",
        "--arg",
        &format!("a={pas}"),
        "--arg",
        &format!("b={pas}"),
    ]);
    assert_eq!(rc, 2, "{text}");
    assert!(
        text.contains("error[E0511]") && text.contains("scale_a"),
        "{text}"
    );
    // --out of an input
    let (rc, text) = tessera(&["run", s, "--arg", &format!("x={xs}"), "--out", &format!("x={xs}")]);
    assert_eq!(rc, 2, "{text}");
    assert!(text.contains("error[E0511]"), "{text}");
}

/// `--backend cuda --arg x=FILE.npy` is accepted (it used to be refused): here, without a GPU, the
/// run gets as far as the device and exits 3; with a GPU it runs on the file's data.
#[test]
fn run_cuda_takes_npy_inputs() {
    let src = tmp("ew_gpu.tsr");
    std::fs::write(&src, EW).expect("write");
    let x = InputGen::new(1).plain(DType::F32, &[40, 72], None).expect("x");
    let px = tmp("ew_gpu_x.npy");
    write_npy(&px, &x).expect("write x");
    let py = tmp("ew_gpu_y.npy");
    let (rc, text) = tessera(&[
        "run",
        src.to_str().expect("utf8"),
        "--backend",
        "cuda",
        "--arg",
        &format!("x={}", px.display()),
        "--out",
        &format!("y={}", py.display()),
    ]);
    if tessera_cuda::device_available() {
        assert_eq!(rc, 0, "{text}");
        let y = read_npy(&py, DType::F32, Some(&[40, 72]), None).expect("y");
        let (xv, yv) = (
            tessera_numerics::decode_buf(&x).expect("x"),
            tessera_numerics::decode_buf(&y).expect("y"),
        );
        assert!(
            xv.iter().zip(&yv).all(|(a, b)| (a * 2.0 - b).abs() <= 1e-6),
            "{text}"
        );
    } else {
        eprintln!("skipped the launch: no CUDA device here");
        assert_eq!(rc, 3, "{text}");
        assert!(text.contains("no CUDA device"), "{text}");
    }
}

/// `validate` says what its reference assumed: a causal attention written with `where` and no
/// `causal` parameter fails against the non-causal reference with a hint to declare it, and passes
/// once `@reference(attention, causal = true)` says so. A quantization kernel (no reference)
/// is refused on the interpreter backend with the reason.
#[test]
fn validate_names_its_reference_assumptions_and_hints_at_causal_masks() {
    let src = |declared: bool| {
        format!(
            "@reference(attention{})
kernel attn(q: f32[S, 64], k: f32[S, 64], v: f32[S, 64], o: out f32[S, 64]) tiles(BM = 16) grid(cdiv(S, BM)) {{
    let m0 = program_id(0) * BM;
    let s = dot(load(q[m0 .. +BM, 0 .. +64]), transpose(load(k[0 .. +128, 0 .. +64]))) * 0.125;
    let rows = m0 + arange(BM);
    let s = where(arange(128)[None, :] > rows[:, None], -inf, s);
    let p = exp(s - reduce_max(s, axis = 1)[:, None]);
    let p = p / reduce_sum(p, axis = 1)[:, None];
    store(o[m0 .. +BM, 0 .. +64], dot(p, load(v[0 .. +128, 0 .. +64])));
}}
",
            if declared { ", causal = true" } else { "" }
        )
    };
    for declared in [false, true] {
        let f = tmp(&format!("causal_{declared}.tsr"));
        std::fs::write(&f, src(declared)).expect("write kernel");
        let (code, text) = tessera(&["validate", f.to_str().unwrap(), "--dim", "S=128", "--seed", "3"]);
        if declared {
            assert_eq!(code, 0, "{text}");
            assert!(text.contains("causal (declared `causal = true`)"), "{text}");
        } else {
            assert_eq!(code, 1, "{text}");
            assert!(text.contains("non-causal (no `causal` option"), "{text}");
            assert!(text.contains("hint:") && text.contains("causal = true"), "{text}");
        }
    }
    let (code, text) = tessera(&["validate", "tests/conformance/lang_quant_mx.tsr", "--seed", "3"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("compares with the interpreter only"), "{text}");
}
