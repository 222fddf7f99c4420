//! Every kernel in dsl_examples/ checks clean (no diagnostics at all) and produces IR that the
//! IR verifier accepts.

use std::path::Path;

#[test]
fn dsl_examples_check_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples");
    let mut n = 0;
    let mut failures = String::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("dsl_examples/ exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("tsr") {
            continue;
        }
        n += 1;
        let bytes = std::fs::read(&path).expect("readable example");
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let (module, diags) = tessera_check::check_source(&name, &bytes);
        if !diags.is_empty() || module.is_none() {
            failures.push_str(&tessera_check::render_diagnostics(
                &name, &bytes, &diags, false, false,
            ));
            continue;
        }
        let module = module.expect("module present when clean");
        if let Err(e) = tessera_ir::verify_module(&module) {
            failures.push_str(&format!("{name}: IR does not verify: {e}\n"));
            continue;
        }
        assert_eq!(module.kernels.len(), 1, "{name}: one kernel per example");
        let k = &module.kernels[0];
        assert!(
            k.attr("reference").is_some(),
            "{name}: every example names its reference family"
        );
        assert!(!k.body.ops.is_empty(), "{name}: body has ops");
    }
    assert!(failures.is_empty(), "examples with diagnostics:\n{failures}");
    assert!(n >= 10, "expected the 10 example kernels, found {n}");
}
