//! `tessera check` and `tessera explain` as a user runs them: exit codes, human and JSON output.

use std::process::Command;

fn tessera(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_examples_exit_zero() {
    let (code, out, err) = tessera(&["check", "dsl_examples/gemm_fp8.tsr", "dsl_examples/moe_mxfp8.tsr"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "clean files print nothing: {out}");
}

#[test]
fn check_errors_exit_one_in_both_formats() {
    let f = "compiler/check/tests/data/diagnostics/E0120_store_not_out.tsr";
    let (code, out, _) = tessera(&["check", f]);
    assert_eq!(code, 1);
    assert!(out.contains("error[E0120]") && out.contains("help:"), "{out}");
    let (code, out, _) = tessera(&["check", "--diagnostics=json", f]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().expect("one line")).expect("json");
    assert_eq!(v["code"], "E0120");
    assert_eq!(v["line"], 3);
}

#[test]
fn unreadable_file_exits_two() {
    let (code, _, err) = tessera(&["check", "no/such/file.tsr"]);
    assert_eq!(code, 2);
    assert!(err.contains("error[E0910]: cannot read"), "{err}");
    // A directory is not a source file either; JSON consumers get the failure on stdout.
    let (code, out, _) = tessera(&["check", "--diagnostics=json", "dsl_examples"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().expect("one line")).expect("json");
    assert_eq!(v["code"], "E0910");
    assert_eq!(v["file"], "dsl_examples");
}

/// Empty and non-UTF-8 files are diagnostics with codes (exit 1), never crashes.
#[test]
fn empty_and_non_utf8_sources_are_coded() {
    let dir = std::env::temp_dir().join(format!("tessera-check-edge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let empty = dir.join("empty.tsr");
    let latin1 = dir.join("latin1.tsr");
    std::fs::write(&empty, b"").expect("write");
    std::fs::write(&latin1, b"kernel k() {}\n// caf\xe9\n").expect("write");
    for (path, want) in [(&empty, "E0002"), (&latin1, "E0001")] {
        let (code, out, err) = tessera(&["check", path.to_str().expect("utf-8 temp path")]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains(&format!("error[{want}]")), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_prints_examples_and_rejects_unknown_codes() {
    let (code, out, _) = tessera(&["explain", "E0131"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("WRONG:") && out.contains("RIGHT:") && out.contains("global = gb"),
        "{out}"
    );
    let (code, out, _) = tessera(&["explain", "--list"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        tessera_diag::codes::CODES.len() + tessera_diag::codes::STAGE_CODES.len()
    );
    assert!(out.contains("E0701  ") && out.contains("L0001  "), "{out}");
    let (code, _, err) = tessera(&["explain", "E9999"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown diagnostic code"));
    // Codes of later stages are explained too, with the command that meets them.
    let (code, out, _) = tessera(&["explain", "e0804"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("E0804: ") && out.contains("$ tessera validate x.tsr") && out.contains("RIGHT:"),
        "{out}"
    );
}
