//! Regression tests of the reliability findings owned by the driver (issue 12,
//! ../shared/findings/reliability-2026-12/): F03 `build -o` never overwrites what the user owns,
//! F08 ptxas rejections are coded and `--no-ptxas` says when the PTX cannot be assembled, F09 a
//! constant dim of 2^31 or more is refused instead of wrapping, F18 usage, kernel-choice and
//! `tessera opt` errors are coded.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tessera(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("spawn tessera");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-rel-driver-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

/// `tessera build gemm_fp8 --target T --no-ptxas -o dir [extra]`.
fn build_into(dir: &Path, target: &str, extra: &[&str]) -> (i32, String) {
    let d = dir.display().to_string();
    let mut args = vec![
        "build",
        "dsl_examples/gemm_fp8.tsr",
        "--target",
        target,
        "--no-ptxas",
        "-o",
        &d,
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = tessera(&args);
    (code, err)
}

fn user_files(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("report.txt"), "my notes").unwrap();
    std::fs::write(dir.join("meta.json"), "{\"mine\":1}").unwrap();
    std::fs::write(dir.join("kernel.ptx"), "// hand-tuned").unwrap();
}

fn assert_user_files_intact(dir: &Path) {
    assert_eq!(
        std::fs::read_to_string(dir.join("report.txt")).unwrap(),
        "my notes"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("meta.json")).unwrap(),
        "{\"mine\":1}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("kernel.ptx")).unwrap(),
        "// hand-tuned"
    );
}

#[test]
fn f03_build_refuses_a_directory_it_did_not_write() {
    let s = scratch("f03-foreign");
    let mine = s.join("mydir");
    user_files(&mine);
    let (code, err) = build_into(&mine, "sm_90a", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0911]") && err.contains("--force"), "{err}");
    assert_user_files_intact(&mine);
}

#[test]
fn f03_build_refuses_a_symlink_and_a_file() {
    let s = scratch("f03-link");
    let mine = s.join("mydir");
    user_files(&mine);
    let link = s.join("link");
    std::os::unix::fs::symlink(&mine, &link).unwrap();
    let (code, err) = build_into(&link, "sm_90a", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[E0911]") && err.contains("symbolic link"),
        "{err}"
    );
    assert_user_files_intact(&mine);
    // --force replaces the link, never what it points to.
    let (code, err) = build_into(&link, "sm_90a", &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(!std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(link.join("meta.json").is_file());
    assert_user_files_intact(&mine);

    let file = s.join("afile");
    std::fs::write(&file, "keep").unwrap();
    let (code, err) = build_into(&file, "sm_90a", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0911]"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");

    let (code, _, err) = tessera(&[
        "build",
        "dsl_examples/gemm_fp8.tsr",
        "--no-ptxas",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0911]"), "{err}");
    let (code, _, err) = tessera(&[
        "build",
        "dsl_examples/gemm_fp8.tsr",
        "--no-ptxas",
        "--force",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(Path::new("/dev/null").exists());
}

#[test]
fn f03_rebuild_replaces_its_own_bundle_without_stale_files() {
    let s = scratch("f03-ours");
    let out = s.join("out");
    let (code, err) = build_into(&out, "sm_90a", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join(".tessera-bundle").is_file());
    assert!(out.join("kernel.ptx").is_file());
    // Another target into the same directory: replaced whole, no kernel.ptx of sm_90a stays.
    let (code, err) = build_into(&out, "gfx950", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("kernel.hsaco").is_file(), "{err}");
    assert!(!out.join("kernel.ptx").exists(), "stale sm_90a PTX left behind");
    let meta = std::fs::read_to_string(out.join("meta.json")).unwrap();
    assert!(meta.contains("gfx950"), "{meta}");
    // No temporary siblings left behind.
    let left: Vec<_> = std::fs::read_dir(&s)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["out".to_string()], "{left:?}");
}

#[test]
fn f03_empty_directory_and_force_on_a_foreign_one() {
    let s = scratch("f03-force");
    let empty = s.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, err) = build_into(&empty, "sm_90a", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(empty.join("meta.json").is_file());
    let mine = s.join("mydir");
    user_files(&mine);
    let (code, err) = build_into(&mine, "sm_90a", &["--force"]);
    assert_eq!(code, 0, "{err}");
    let meta = std::fs::read_to_string(mine.join("meta.json")).unwrap();
    assert!(meta.contains("gemm_fp8"), "{meta}");
    assert!(
        !mine.join("report.txt").is_file()
            || !std::fs::read_to_string(mine.join("report.txt"))
                .unwrap()
                .contains("my notes")
    );
}

const BIG_TILES: &str = "@reference(gemm)
kernel gemm_bf16(a: bf16[M, K], b: bf16[N, K], c: out bf16[M, N])
    tiles(BM = 256, BN = 256, BK = 64)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        let ta = load(a[m0 .. +BM, k0 .. +BK]);
        let tb = load(b[n0 .. +BN, k0 .. +BK]);
        acc = dot(ta, transpose(tb), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], cast<bf16>(acc));
}
";

#[test]
fn f08_big_tiles_assemble_and_ptxas_rejections_are_coded() {
    let s = scratch("f08");
    let src = s.join("k.tsr");
    std::fs::write(&src, BIG_TILES).unwrap();
    let src_s = src.display().to_string();
    // A 256x256 tile is lowered like any other: ptxas (when this machine has it) accepts it, and
    // the report says what it spilled.
    if tessera_target_nvidia::locate_ptxas().is_ok() {
        let out = s.join("big").display().to_string();
        let (code, _, err) = tessera(&["build", &src_s, "--target", "sm_90a", "--report", "-o", &out]);
        assert_eq!(code, 0, "{err}");
        assert!(s.join("big/kernel.cubin").is_file());
    }
    // A ptxas that rejects the PTX (here a stand-in named by $TESSERA_PTXAS, which the build
    // uses like the real one) gives a coded error naming kernel and target, with ptxas's log,
    // and writes no bundle.
    let fake = s.join("ptxas");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"ptxas error   : Entry function 'gemm_bf16' uses too much shared data\" >&2\nexit 255\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = s.join("out");
    let r = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(root())
        .env("TESSERA_PTXAS", &fake)
        .args(["build", &src_s, "--target", "sm_90a", "-o"])
        .arg(&out)
        .output()
        .expect("spawn tessera");
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[E0713]")
            && err.contains("gemm_bf16")
            && err.contains("sm_90a")
            && err.contains("uses too much shared data"),
        "{err}"
    );
    assert!(!out.exists());
}

fn huge(dim: &str) -> String {
    format!(
        "@reference(gemm)
kernel gemm_fp8(a: f8e4m3[{dim}, K], b: f8e4m3[N, K], scale_a: f32, scale_b: f32, c: out bf16[{dim}, N])
    tiles(BM = 128, BN = 128, BK = 64)
    grid(cdiv({dim}, BM), cdiv(N, BN))
{{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {{
        let ta = load(a[m0 .. +BM, k0 .. +BK]);
        let tb = load(b[n0 .. +BN, k0 .. +BK]);
        acc = dot(ta, transpose(tb), acc);
    }}
    store(c[m0 .. +BM, n0 .. +BN], cast<bf16>(acc * (scale_a * scale_b)));
}}
"
    )
}

#[test]
fn f09_constant_dims_past_i32_build_with_64_bit_offsets() {
    // Element offsets are 64-bit in the per-op lowering, so tensors past 2^31 - 1 elements by
    // their constant dims build (meta.json says `index_bits: 64`) instead of wrapping.
    let s = scratch("f09");
    let mut cases: Vec<(String, String)> = ["2147483648", "4294967296", "1099511627776"]
        .iter()
        .map(|d| (d.to_string(), huge(d)))
        .collect();
    // 65536 rows and a constant K of 65536: 2^32 elements of `a`.
    cases.push((
        "kk".into(),
        huge("65536").replace("f8e4m3[65536, K]", "f8e4m3[65536, 65536]"),
    ));
    for (name, text) in cases {
        let src = s.join(format!("k{name}.tsr"));
        std::fs::write(&src, text).unwrap();
        let out = s.join(format!("o{name}"));
        let (code, _, err) = tessera(&[
            "build",
            &src.display().to_string(),
            "--target",
            "sm_90a",
            "--no-ptxas",
            "-o",
            &out.display().to_string(),
        ]);
        assert_eq!(code, 0, "{name}: {err}");
        let meta = std::fs::read_to_string(out.join("meta.json")).unwrap();
        assert!(meta.contains("\"index_bits\": 64"), "{name}: {meta}");
    }
}

#[test]
fn f18_usage_errors_are_coded_with_exit_2() {
    for args in [
        &["build", "dsl_examples/gemm_fp8.tsr", "--targt", "sm_90a"][..],
        &["build", "dsl_examples/gemm_fp8.tsr", "--stages", "x"],
        &["bogus"],
        &[],
        &["run"],
        &["check", "--diagnostics=xml", "dsl_examples/gemm_fp8.tsr"],
        &["build", "dsl_examples/gemm_fp8.tsr", "--stages", "1", "--report"],
        &["build", "dsl_examples/gemm_fp8.tsr"],
        &["build"],
    ] {
        let (code, _, err) = tessera(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("error[E0903]"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let (code, out, _) = tessera(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage"), "{out}");
}

#[test]
fn f18_several_kernels_and_unknown_kernel_are_coded() {
    let s = scratch("f18-kernels");
    let src = s.join("two.tsr");
    std::fs::write(
        &src,
        "kernel a(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) + 1.0);\n}\nkernel b(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) * 2.0);\n}\n",
    )
    .unwrap();
    let src_s = src.display().to_string();
    let (code, _, err) = tessera(&["build", &src_s, "--report"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[E0904]") && err.contains("several kernels"),
        "{err}"
    );
    let (code, _, err) = tessera(&["build", &src_s, "--kernel", "c", "--report"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0904]"), "{err}");
}

#[test]
fn f18_opt_parse_and_verify_errors_are_coded() {
    let s = scratch("f18-opt");
    let tir = s.join("k.tir");
    let tir_s = tir.display().to_string();
    let (code, _, err) = tessera(&["opt", "dsl_examples/gemm_fp8.tsr", "--passes=", "-o", &tir_s]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&tir).unwrap();
    // A parse error: a bracket removed.
    let broken = text.replacen('(', "", 1);
    std::fs::write(&tir, &broken).unwrap();
    let (code, _, err) = tessera(&["opt", &tir_s]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error[E0930]") && err.contains("IR parse error"),
        "{err}"
    );
    // Not UTF-8.
    std::fs::write(&tir, b"\xff\xfe module").unwrap();
    let (code, _, err) = tessera(&["opt", &tir_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0930]"), "{err}");
    // An unknown pass and an unwritable output.
    let (code, _, err) = tessera(&["opt", "dsl_examples/gemm_fp8.tsr", "--passes=nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0901]"), "{err}");
    let (code, _, err) = tessera(&["opt", "dsl_examples/gemm_fp8.tsr", "-o", "/nonexistent/dir/x.tir"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0912]"), "{err}");
}

#[test]
fn f18_opt_verifier_errors_are_coded() {
    let s = scratch("f18-verify");
    let tir = s.join("k.tir");
    let tir_s = tir.display().to_string();
    let (code, _, err) = tessera(&["opt", "dsl_examples/gemm_fp8.tsr", "--passes=", "-o", &tir_s]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&tir).unwrap();
    // Mutate the IR until one mutant parses but does not verify: renumber a use to a value
    // that is never defined.
    let mut found = false;
    for (i, _) in text.match_indices('%') {
        let mut m = text.clone();
        m.insert_str(i + 1, "9999");
        std::fs::write(&tir, &m).unwrap();
        let (code, _, err) = tessera(&["opt", &tir_s]);
        assert!(!err.contains("panicked"), "{err}");
        if err.contains("error[E0931]") {
            assert_eq!(code, 1, "{err}");
            found = true;
            break;
        }
        assert!(err.contains("error[E09") || code == 0, "uncoded: {err}");
    }
    assert!(found, "no mutant reached the verifier");
}
