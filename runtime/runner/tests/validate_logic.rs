//! The runner's validation logic without a GPU: a bundle of a hand-built GEMM, the interpreter's own
//! output standing in for a correct device result, then deliberately broken results that must fail.
//! Also the binary's no-GPU exit path.

use std::path::PathBuf;
use tessera_bundle::{AbiArg, BUNDLE_FORMAT_VERSION, Bundle, BundleMeta, TensorPart};
use tessera_interp::ProgramSet;
use tessera_ir::{DType, DimExpr, samples};
use tessera_numerics::{ArgValue, Bindings};
use tessera_runner::validate::{choose_programs, validate_outputs};
use tessera_runner::{Backend, Common, Loaded, ValidateOptions, problem};

/// A bundle directory removed when the test ends.
struct TempBundle(PathBuf);

impl std::ops::Deref for TempBundle {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempBundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bundle of `k` (its source text `src`) with launch ABI `abi` and grid `grid`, written to a
/// temporary directory.
fn write_bundle(
    name: &str,
    k: &tessera_ir::Kernel,
    abi: Vec<AbiArg>,
    grid: Vec<DimExpr>,
    tiles: Vec<(String, i64)>,
) -> TempBundle {
    let module = tessera_ir::Module {
        source_name: format!("{}.tsr", k.name),
        kernels: vec![k.clone()],
    };
    let mut b = Bundle {
        meta: BundleMeta {
            format_version: BUNDLE_FORMAT_VERSION,
            kernel: k.name.clone(),
            entry: k.name.clone(),
            target: "sm_90a".into(),
            source_file: format!("{}.tsr", k.name),
            source_sha256: tessera_bundle::sha256_hex(k.name.as_bytes()),
            tiles,
            grid,
            block: [128, 1, 1],
            dynamic_shared_bytes: 0,
            abi,
            ptx: None,
            cubin: None,
            hsaco: None,
            tile_ir: String::new(),
            index_bits: 64,
        },
        ptx: None,
        cubin: None,
        hsaco: None,
        tile_ir: tessera_ir::print_module(&module),
        report_txt: None,
        report_json: None,
    };
    b.ptx = Some(tessera_bundle::ptx::stub("sm_90a", &b.meta.entry, &b.meta.abi));
    let dir = std::env::temp_dir().join(format!("tessera-runner-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    b.write(&dir).unwrap();
    TempBundle(dir)
}

fn bundle_dir(name: &str) -> TempBundle {
    let k = samples::gemm(
        samples::tensor(DType::BF16, &["M", "K"]),
        samples::tensor(DType::BF16, &["N", "K"]),
        DType::BF16,
        (32, 32, 32),
        1,
    );
    let cdiv = |s: &str| DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.into())), Box::new(DimExpr::Const(32)));
    let ptr = |param: &str| AbiArg::Ptr {
        param: param.into(),
        part: TensorPart::Data,
    };
    write_bundle(
        name,
        &k,
        vec![
            ptr("a"),
            ptr("b"),
            AbiArg::ScalarF32 {
                param: "scale0".into(),
            },
            ptr("c"),
            AbiArg::SymI32 { sym: "M".into() },
            AbiArg::SymI32 { sym: "N".into() },
            AbiArg::SymI32 { sym: "K".into() },
        ],
        vec![cdiv("M"), cdiv("N")],
        vec![("BM".into(), 32), ("BN".into(), 32), ("BK".into(), 32)],
    )
}

fn common(dir: &std::path::Path, dims: &[&str]) -> Common {
    Common {
        bundle_dir: dir.to_path_buf(),
        dims: dims.iter().map(|s| s.to_string()).collect(),
        scalars: vec![],
        seed: 7,
        backend: None,
        ..Common::default()
    }
}

/// The interpreter's full result on the loaded inputs: what a correct GPU would return.
fn interp_result(l: &Loaded) -> Bindings {
    let mut b = problem::repoison(&l.kernel, &l.bindings).unwrap();
    tessera_interp::run(&l.kernel, &mut b, ProgramSet::All).unwrap();
    b
}

fn c_bytes(b: &mut Bindings) -> &mut Vec<u8> {
    match &mut b.args[3] {
        ArgValue::Tensor(t) => &mut t.data.bytes,
        ArgValue::Scalar(_) => panic!("c is a tensor"),
    }
}

#[test]
fn loading_binds_dims_and_poisons_outputs() {
    let dir = bundle_dir("load");
    let l = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    assert_eq!(l.backend, Backend::Cuda);
    assert_eq!(l.shape_label(), "M=100 K=96 N=72");
    let c = problem::output_buf(&l.bindings, 3).unwrap();
    assert!(tessera_numerics::poisoned_mask(c).unwrap().iter().all(|p| *p));
    assert_eq!(
        problem::flops(&l.kernel, &l.syms),
        Some(2.0 * 100.0 * 72.0 * 96.0)
    );
    let e = Loaded::new(&common(&dir, &["M=100", "N=72"])).err().unwrap();
    assert!(e.message.contains("needs --dim for K"), "{e}");
    let e = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96", "Q=3"]))
        .err()
        .unwrap();
    assert!(e.message.contains("no symbolic dim Q"), "{e}");
    let e = Loaded::new(&common(&dir, &["M=100", "N=72", "K=x"]))
        .err()
        .unwrap();
    assert!(e.message.contains("not an integer"), "{e}");
}

#[test]
fn a_correct_result_passes_full_and_spot_checks() {
    let dir = bundle_dir("pass");
    let l = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    let good = interp_result(&l);
    let row = validate_outputs(&l, "test".into(), &good, &ValidateOptions::default(), 7).unwrap();
    assert!(row.pass, "{}\n{:?}", row.line(), row.detail_lines());
    assert!(row.coverage.starts_with("all 12 programs"), "{}", row.coverage);
    assert_eq!((row.unwritten, row.non_finite, row.elements), (0, 0, 7200));
    assert!(
        row.line().starts_with("validate | gemm | M=100 K=96 N=72 | PASS"),
        "{}",
        row.line()
    );
    let spot = ValidateOptions {
        spot_tiles: 5,
        full_interp_flops: 0.0,
    };
    let row = validate_outputs(&l, "test".into(), &good, &spot, 7).unwrap();
    assert!(row.pass, "{}", row.line());
    assert!(row.coverage.contains("spot check"), "{}", row.coverage);
    let interp = row.checks.iter().find(|c| c.against == "interp").unwrap();
    assert!(
        interp.compared < 7200 && interp.compared >= 32 * 32,
        "{}",
        interp.compared
    );
    // The reference ran on exactly the spot-checked elements (row/column sub-problems).
    let reference = row
        .checks
        .iter()
        .find(|c| c.against == "reference")
        .expect("reference check");
    assert_eq!(reference.compared, interp.compared);
    assert!(reference.pass, "{}", reference.reason);
}

#[test]
fn the_full_reference_agrees_and_catches_a_wrong_element() {
    let dir = bundle_dir("reference");
    let l = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    let good = interp_result(&l);
    let row = validate_outputs(&l, "test".into(), &good, &ValidateOptions::default(), 7).unwrap();
    let r = row
        .checks
        .iter()
        .find(|c| c.against == "reference")
        .expect("reference check");
    assert!(r.pass && r.compared == 7200, "{} {}", r.compared, r.reason);
    assert!(row.skipped.is_empty(), "{:?}", row.skipped);
    let mut bad = good.clone();
    c_bytes(&mut bad)[200..202].copy_from_slice(&0xC700u16.to_le_bytes());
    let row = validate_outputs(&l, "test".into(), &bad, &ValidateOptions::default(), 7).unwrap();
    // -32768 where values are O(10): the interpreter, the reference and the projection all see it.
    assert!(
        row.checks.iter().filter(|c| !c.pass).count() == 3,
        "every check must fail: {:?}",
        row.detail_lines()
    );
}

#[test]
fn gather_selects_rows_and_columns_of_any_element_width() {
    use tessera_numerics::TensorBuf;
    let buf = TensorBuf {
        dtype: DType::BF16,
        shape: vec![3, 2],
        packed_axis: None,
        bytes: (0u8..12).collect(),
    };
    let rows = tessera_runner::oracle::gather(&buf, 0, &[2, 0]).unwrap();
    assert_eq!(
        (rows.shape.clone(), rows.bytes),
        (vec![2, 2], vec![8, 9, 10, 11, 0, 1, 2, 3])
    );
    let cols = tessera_runner::oracle::gather(&buf, 1, &[1]).unwrap();
    assert_eq!(
        (cols.shape.clone(), cols.bytes),
        (vec![3, 1], vec![2, 3, 6, 7, 10, 11])
    );
    // FP4 packed along K: rows gather whole bytes; the packed axis itself cannot be gathered.
    let fp4 = TensorBuf {
        dtype: DType::F4E2M1,
        shape: vec![2, 4],
        packed_axis: Some(1),
        bytes: vec![1, 2, 3, 4],
    };
    assert_eq!(
        tessera_runner::oracle::gather(&fp4, 0, &[1]).unwrap().bytes,
        vec![3, 4]
    );
    assert!(tessera_runner::oracle::gather(&fp4, 1, &[0]).is_err());
    assert!(tessera_runner::oracle::gather(&buf, 0, &[3]).is_err());
}

#[test]
fn wrong_or_unwritten_elements_fail() {
    let dir = bundle_dir("fail");
    let l = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    let good = interp_result(&l);
    // One element off by a lot (bf16 1.0 = 0x3F80 written over the last element of the edge tile).
    let mut bad = good.clone();
    let n = c_bytes(&mut bad).len();
    c_bytes(&mut bad)[n - 2..].copy_from_slice(&0x4700u16.to_le_bytes());
    let row = validate_outputs(&l, "test".into(), &bad, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass, "{}", row.line());
    assert!(row.line().contains("| FAIL |"), "{}", row.line());
    // One element never written: still holds the poison.
    let mut hole = good.clone();
    c_bytes(&mut hole)[0..2]
        .copy_from_slice(&tessera_numerics::poison::poison_word(DType::BF16).to_le_bytes()[..2]);
    let row = validate_outputs(&l, "test".into(), &hole, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass);
    assert_eq!(row.unwritten, 1, "{}", row.line());
}

/// bf16 bit patterns of NaN, +inf and -inf.
const BF16_NAN: u16 = 0x7FC0;
const BF16_INF: u16 = 0x7F80;
const BF16_NEG_INF: u16 = 0xFF80;

#[test]
fn a_nan_or_unmatched_infinity_in_the_device_output_fails() {
    let dir = bundle_dir("nonfinite");
    let l = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    let good = interp_result(&l);
    for bits in [BF16_NAN, BF16_INF, BF16_NEG_INF] {
        for opts in [
            ValidateOptions::default(),
            ValidateOptions {
                spot_tiles: 5,
                full_interp_flops: 0.0,
            },
        ] {
            let mut bad = good.clone();
            // The first element: in the first tile, which every spot check interprets.
            c_bytes(&mut bad)[0..2].copy_from_slice(&bits.to_le_bytes());
            let row = validate_outputs(&l, "test".into(), &bad, &opts, 7).unwrap();
            assert!(!row.pass, "{bits:#x}: {}", row.line());
            assert_eq!(row.non_finite, 1, "{bits:#x}: {}", row.line());
            let interp = row.checks.iter().find(|c| c.against == "interp").unwrap();
            assert!(
                !interp.pass && interp.metrics.nan_inf_count == 1,
                "{bits:#x}: {}",
                interp.reason
            );
        }
    }
    // An all-NaN device output (F02) fails, and says so.
    let mut nan = good.clone();
    for w in c_bytes(&mut nan).chunks_mut(2) {
        w.copy_from_slice(&BF16_NAN.to_le_bytes());
    }
    let row = validate_outputs(&l, "test".into(), &nan, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass);
    assert_eq!(row.non_finite, 7200, "{}", row.line());
}

#[test]
fn infinities_the_interpreter_and_reference_also_produce_pass_but_nan_never_does() {
    let dir = bundle_dir("infscale");
    // scale0 = inf: every element of c is +inf or -inf on every side (the reference too).
    let mut c = common(&dir, &["M=100", "N=72", "K=96"]);
    c.scalars = vec!["scale0=inf".into()];
    let l = Loaded::new(&c).unwrap();
    let good = interp_result(&l);
    let vals = tessera_numerics::decode_buf(problem::output_buf(&good, 3).unwrap()).unwrap();
    assert!(
        vals.iter().all(|v| v.is_infinite()),
        "the test needs an all-inf output"
    );
    assert!(vals.iter().any(|v| *v > 0.0) && vals.iter().any(|v| *v < 0.0));
    let row = validate_outputs(&l, "test".into(), &good, &ValidateOptions::default(), 7).unwrap();
    assert!(row.pass, "{}\n{:?}", row.line(), row.detail_lines());
    assert_eq!(row.non_finite, 0);
    assert!(row.checks.iter().any(|c| c.against == "reference" && c.pass));
    // The same infinity with the wrong sign fails.
    let mut flipped = good.clone();
    let sign = c_bytes(&mut flipped)[1] ^ 0x80;
    c_bytes(&mut flipped)[1] = sign;
    let row = validate_outputs(&l, "test".into(), &flipped, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass && row.non_finite == 1, "{}", row.line());
    // scale0 = NaN: interpreter and reference are NaN too, and still nothing passes.
    let mut c = common(&dir, &["M=100", "N=72", "K=96"]);
    c.scalars = vec!["scale0=nan".into()];
    let l = Loaded::new(&c).unwrap();
    let same = interp_result(&l);
    let row = validate_outputs(&l, "test".into(), &same, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass, "{}", row.line());
    assert_eq!(row.non_finite, 7200);
    let reference = row.checks.iter().find(|c| c.against == "reference").unwrap();
    // Judged over every element, not skipped as 'not computed' (it passed over 0 elements).
    assert_eq!(reference.compared, 7200);
    assert!(!reference.pass);
    assert!(
        reference.reason.contains("reference itself is NaN"),
        "{}",
        reference.reason
    );
}

#[test]
fn spot_sets_include_edges_and_are_reproducible() {
    let opts = ValidateOptions {
        spot_tiles: 16,
        full_interp_flops: 1e9,
    };
    let g = [64, 64, 1];
    let a = choose_programs(g, Some(1e12), &opts, 3);
    assert_eq!(a, choose_programs(g, Some(1e12), &opts, 3));
    let ProgramSet::Ids(ids) = a else {
        panic!("expected a spot check")
    };
    assert!(ids.contains(&[63, 63, 0]) && ids.contains(&[0, 0, 0]) && ids.contains(&[63, 0, 0]));
    assert!(ids.len() >= 10 && ids.len() <= 16, "{}", ids.len());
    assert_eq!(choose_programs(g, Some(1e8), &opts, 3), ProgramSet::All);
}

#[test]
fn the_binary_reports_no_gpu_with_exit_status_3() {
    if tessera_cuda::driver_present() {
        eprintln!("a CUDA driver is present: the no-GPU exit path is not exercised here");
        return;
    }
    let dir = bundle_dir("bin");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-runner"))
        .args([
            "validate",
            dir.to_str().unwrap(),
            "--dim",
            "M=100",
            "--dim",
            "N=72",
            "--dim",
            "K=96",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("error: no CUDA device found"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-runner"))
        .args(["bench", "/nonexistent/bundle", "--dim", "M=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
}

#[test]
fn the_launch_plan_resolves_every_slot_without_a_gpu() {
    let dir = bundle_dir("plan");
    let mut b = Bundle::read(&dir).unwrap();
    b.meta.abi[0] = AbiArg::TensorMap {
        param: "a".into(),
        part: TensorPart::Data,
        tma: tessera_bundle::TmaSpec {
            elem: "u16".into(),
            box_dims: vec![64, 32],
            swizzle: 128,
        },
        or_null: false,
    };
    b.write(&dir).unwrap();
    let lines = tessera_runner::plan_bundle(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    let text = lines.join("\n");
    assert!(text.contains("grid [4, 3, 1] block [128, 1, 1]"), "{text}");
    assert!(
        text.contains(
            "slot 0: tensor map over `a` Data: U16 global [96, 100] strides [192] box [64, 32] swizzle 128"
        ),
        "{text}"
    );
    assert!(
        text.contains("slot 3: pointer to `c` Data (14400 bytes)"),
        "{text}"
    );
    assert!(text.contains("slot 6: i32 96"), "{text}");
    // A box wider than the swizzle span is caught here, before any GPU is involved.
    b.meta.abi[0] = AbiArg::TensorMap {
        param: "a".into(),
        part: TensorPart::Data,
        tma: tessera_bundle::TmaSpec {
            elem: "u16".into(),
            box_dims: vec![128, 32],
            swizzle: 128,
        },
        or_null: false,
    };
    b.write(&dir).unwrap();
    let e = tessera_runner::plan_bundle(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap_err();
    assert!(e.message.contains("exceeds the 128-byte swizzle span"), "{e}");
}

#[test]
fn a_wrong_tile_outside_the_spot_check_is_caught_by_the_projection() {
    let dir = bundle_dir("projection");
    let l = Loaded::new(&common(&dir, &["M=100", "N=72", "K=96"])).unwrap();
    let good = interp_result(&l);
    let spot = ValidateOptions {
        spot_tiles: 5,
        full_interp_flops: 0.0,
    };
    let row = validate_outputs(&l, "test".into(), &good, &spot, 7).unwrap();
    let p = row
        .checks
        .iter()
        .find(|c| c.against == "projection")
        .expect("projection check");
    assert!(p.pass && p.compared == 7200, "{}", p.reason);
    // A 32x32 tile the spot check does not look at, overwritten with 100.0 (bf16 0x42C8).
    let ProgramSet::Ids(ids) = choose_programs([4, 3, 1], Some(1.0), &spot, 7) else {
        panic!("spot set")
    };
    let (pm, pn) = (0..4u32)
        .flat_map(|x| (0..3u32).map(move |y| (x, y)))
        .find(|(x, y)| !ids.contains(&[*x, *y, 0]))
        .unwrap();
    let mut bad = good.clone();
    for i in (pm as usize * 32)..((pm as usize + 1) * 32).min(100) {
        for j in (pn as usize * 32)..((pn as usize + 1) * 32).min(72) {
            c_bytes(&mut bad)[(i * 72 + j) * 2..(i * 72 + j) * 2 + 2]
                .copy_from_slice(&0x42C8u16.to_le_bytes());
        }
    }
    let row = validate_outputs(&l, "test".into(), &bad, &spot, 7).unwrap();
    assert!(!row.pass, "{}", row.line());
    let failed: Vec<&str> = row
        .checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.against.as_str())
        .collect();
    assert_eq!(failed, vec!["projection"], "{:?}", row.detail_lines());
}

/// A kernel that stores a scaled output (codes and block scales): the scales are validated too —
/// a wrong or missing scale fails even when every code is right.
#[test]
fn a_scaled_output_is_judged_on_its_scales_too() {
    let src = "kernel quant_mx(x: f32[M, K], y: out mx<f8e4m3>[M, K]) tiles(BM = 32, BK = 128) grid(cdiv(M, BM), cdiv(K, BK)) {
    let m0 = program_id(0) * BM;
    let k0 = program_id(1) * BK;
    store(y[m0 .. +BM, k0 .. +BK], quantize<mx<f8e4m3>>(load(x[m0 .. +BM, k0 .. +BK])));
}";
    let (m, diags) = tessera_check::check_source("quant_mx.tsr", src.as_bytes());
    let k = m.unwrap_or_else(|| panic!("{diags:?}")).kernels.remove(0);
    let ptr = |param: &str, part| AbiArg::Ptr {
        param: param.into(),
        part,
    };
    let cdiv =
        |s: &str, t: i64| DimExpr::CeilDiv(Box::new(DimExpr::Sym(s.into())), Box::new(DimExpr::Const(t)));
    let dir = write_bundle(
        "quant",
        &k,
        vec![
            ptr("x", TensorPart::Data),
            ptr("y", TensorPart::Data),
            ptr("y", TensorPart::Scale),
            AbiArg::SymI32 { sym: "M".into() },
            AbiArg::SymI32 { sym: "K".into() },
        ],
        vec![cdiv("M", 32), cdiv("K", 128)],
        vec![("BM".into(), 32), ("BK".into(), 128)],
    );
    let l = Loaded::new(&common(&dir, &["M=40", "K=200"])).unwrap();
    let good = interp_result(&l);
    let row = validate_outputs(&l, "test".into(), &good, &ValidateOptions::default(), 7).unwrap();
    assert!(row.pass, "{}\n{:?}", row.line(), row.detail_lines());
    assert!(
        row.checks.iter().any(|c| c.output == "y.scale" && c.pass),
        "{:?}",
        row.detail_lines()
    );
    let scales = |b: &mut Bindings| match &mut b.args[1] {
        ArgValue::Tensor(t) => t.scale.as_mut().unwrap().bytes.clone(),
        ArgValue::Scalar(_) => panic!("y is a tensor"),
    };
    let set_scales = |b: &mut Bindings, v: Vec<u8>| {
        if let ArgValue::Tensor(t) = &mut b.args[1] {
            t.scale.as_mut().unwrap().bytes = v;
        }
    };
    // one block scale off by a factor of two, every code untouched
    let mut bad = good.clone();
    let mut s = scales(&mut bad);
    s[9] = s[9].wrapping_add(1);
    set_scales(&mut bad, s);
    let row = validate_outputs(&l, "test".into(), &bad, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass, "{}", row.line());
    assert!(
        row.checks.iter().any(|c| c.output == "y.scale" && !c.pass),
        "{:?}",
        row.detail_lines()
    );
    // one block scale never written (still the poison of a fresh output: e8m0's only NaN, which
    // cannot be told from a computed one, so it fails the comparison rather than being counted)
    let mut unwritten = good.clone();
    let poison = scales(&mut problem::repoison(&l.kernel, &l.bindings).unwrap());
    let mut s = scales(&mut unwritten);
    s[3] = poison[3];
    set_scales(&mut unwritten, s);
    let row = validate_outputs(&l, "test".into(), &unwritten, &ValidateOptions::default(), 7).unwrap();
    assert!(!row.pass, "{}", row.line());
    assert!(
        row.checks.iter().any(|c| c.output == "y.scale" && !c.pass),
        "{:?}",
        row.detail_lines()
    );
}

#[test]
fn a_spot_check_whose_programs_write_nothing_interprets_every_program() {
    // Program 1 alone writes the whole output (a kernel whose work sits in a few programs, like a
    // grouped scale with empty groups): a spot check that misses it would compare no element and
    // pass vacuously, so validation interprets every program instead, and still catches a wrong
    // value.
    let src = "kernel one_writer(x: f32[N], y: out f32[N]) tiles(BN = 32) grid(cdiv(N, BN)) {
    if program_id(0) == 1 {
        for n0 in 0..N step BN {
            store(y[n0 .. +BN], load(x[n0 .. +BN]) * 2.0);
        }
    }
}";
    let (m, diags) = tessera_check::check_source("one_writer.tsr", src.as_bytes());
    let k = m.unwrap_or_else(|| panic!("{diags:?}")).kernels.remove(0);
    let ptr = |param: &str| AbiArg::Ptr {
        param: param.into(),
        part: TensorPart::Data,
    };
    let dir = write_bundle(
        "one-writer",
        &k,
        vec![ptr("x"), ptr("y"), AbiArg::SymI32 { sym: "N".into() }],
        vec![DimExpr::CeilDiv(
            Box::new(DimExpr::Sym("N".into())),
            Box::new(DimExpr::Const(32)),
        )],
        vec![("BN".into(), 32)],
    );
    let l = Loaded::new(&common(&dir, &["N=32000"])).unwrap();
    let good = interp_result(&l);
    // The first, the last and a few seeded programs of 1000, not program 1 (checked below).
    let spot = ValidateOptions {
        spot_tiles: 2,
        full_interp_flops: 0.0,
    };
    let row = validate_outputs(&l, "test".into(), &good, &spot, 7).unwrap();
    assert!(row.pass, "{}\n{:?}", row.line(), row.detail_lines());
    assert!(
        row.coverage
            .starts_with("all 1000 programs (the spot-checked ones wrote no element"),
        "{}",
        row.coverage
    );
    let interp = row.checks.iter().find(|c| c.against == "interp").unwrap();
    assert_eq!(interp.compared, 32000, "{:?}", row.detail_lines());
    // A wrong value in the one written tile fails.
    let mut bad = good.clone();
    if let ArgValue::Tensor(t) = &mut bad.args[1] {
        let at = t.data.bytes.len() - 4;
        t.data.bytes[at..].copy_from_slice(&12345.0f32.to_le_bytes());
    }
    let row = validate_outputs(&l, "test".into(), &bad, &spot, 7).unwrap();
    assert!(!row.pass, "{}", row.line());
}
