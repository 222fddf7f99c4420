//! `import tessera` without a GPU and without torch: the extension this crate builds is staged
//! with the Python package, a bundle is compiled, and tests/test_module.py checks the signature,
//! `bind` (dims, grid) and the coded errors. Skips (and says so) without python3.

use std::path::Path;
use std::process::Command;

#[test]
fn python_module_imports_and_reports_coded_errors() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: no python3 here");
        return;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The cdylib of this package, built next to the test binary's deps.
    let exe = std::env::current_exe().expect("test exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let so = profile_dir.join("lib_tessera.so");
    if !so.is_file() {
        eprintln!(
            "skipped: {} not built (cargo build -p tessera-python)",
            so.display()
        );
        return;
    }
    let stage = std::env::temp_dir().join(format!("tessera-py-{}", std::process::id()));
    let pkg = stage.join("tessera");
    std::fs::create_dir_all(&pkg).expect("stage");
    std::fs::copy(here.join("tessera/__init__.py"), pkg.join("__init__.py")).expect("copy py");
    std::fs::copy(&so, pkg.join("_tessera.abi3.so")).expect("copy so");
    let src = std::fs::read_to_string(here.join("../examples/kernels/scale_add.tsr")).expect("kernel");
    let opts = tessera::Options {
        no_cache: true,
        ptxas: false,
        ..tessera::Options::default()
    };
    let k = tessera::compile(&src, None, "sm_90a", &opts).unwrap_or_else(|e| panic!("{e}"));
    k.write_bundle(stage.join("bundle")).expect("bundle");
    let out = Command::new("python3")
        .arg(here.join("tests/test_module.py"))
        .arg(stage.join("bundle"))
        .env("PYTHONPATH", &stage)
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&stage);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("python module: ok"), "{text}");
}
