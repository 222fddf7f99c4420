//! A bad kernel in Rust source fails `cargo build` with the Tessera code at the right line: builds
//! the fixture crate tests/fixture-bad (which depends on tessera-macros only) with the real cargo.
//! It compiles the front end's dependencies into its own target directory (target/fixture-bad):
//! about a minute on two cores the first time, seconds after. The expansion itself (the error's
//! code and span) is also unit-tested in src/expand.rs.

use std::path::Path;
use std::process::Command;

#[test]
fn a_bad_kernel_fails_cargo_build_with_its_code_at_the_line() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = here.join("tests/fixture-bad");
    let target = here.join("../../target/fixture-bad");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_BUILD_JOBS", "1")
        .output()
        .expect("run cargo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the bad kernel built:\n{err}");
    assert!(err.contains("error[E0"), "no Tessera code in:\n{err}");
    assert!(err.contains("src/lib.rs:7:"), "not at line 7:\n{err}");
}
