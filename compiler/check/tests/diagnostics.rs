//! Snapshot tests of rendered diagnostics (human text and JSON) for every file in
//! tests/data/diagnostics. A file named `E0123_what.tsr` must produce code E0123 (checked here, so a
//! snapshot can never bless a missing diagnostic). Bless with `INSTA_UPDATE=always cargo test`.

use std::path::Path;

fn cases() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diagnostics");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("tests/data/diagnostics exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("tsr"))
        .map(|p| {
            let name = p.file_name().and_then(|s| s.to_str()).unwrap_or("?").to_string();
            (name, std::fs::read(&p).expect("readable"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_case_reports_its_code_and_matches_its_snapshot() {
    let cases = cases();
    assert!(
        cases.len() >= 16,
        "expected the diagnostic cases, found {}",
        cases.len()
    );
    for (name, bytes) in cases {
        let want = &name[..5];
        let (module, diags) = tessera_check::check_source(&name, &bytes);
        assert!(module.is_none(), "{name}: a file with errors yields no module");
        assert!(
            diags.iter().any(|d| d.code == want),
            "{name}: expected {want}, got {:?}",
            diags.iter().map(|d| d.code).collect::<Vec<_>>()
        );
        // Each error has a primary label inside the file.
        for d in &diags {
            let p = d.primary_span().expect("every diagnostic has a label");
            assert!(
                p.hi as usize <= bytes.len() && p.lo <= p.hi,
                "{name}: span {p:?} outside the file"
            );
        }
        let human = tessera_check::render_diagnostics(&name, &bytes, &diags, false, false);
        let json = tessera_check::render_diagnostics(&name, &bytes, &diags, true, false);
        for line in json.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("each JSON line parses");
            for key in [
                "code", "severity", "message", "file", "line", "column", "span", "labels", "help",
            ] {
                assert!(v.get(key).is_some(), "{name}: JSON lacks `{key}`");
            }
        }
        let stem = name.trim_end_matches(".tsr").to_string();
        insta::assert_snapshot!(format!("{stem}.human"), human);
        insta::assert_snapshot!(format!("{stem}.json"), json);
    }
}

#[test]
fn parse_errors_recover_and_report_several() {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diagnostics/E0004_stray_tokens.tsr"),
    )
    .expect("readable");
    let (_, diags) = tessera_check::check_source("stray.tsr", &bytes);
    let n = diags.iter().filter(|d| d.code == "E0004").count();
    assert!(
        n >= 3,
        "expected several parse errors in one run, got {n}: {diags:?}"
    );
}
