//! Issue 10, item 6: every kernel of the conformance corpus (tests/conformance), every dsl_example
//! and the fidelity kernels (tests/fidelity) builds for sm_90a through the front end, the sm_90a
//! pass pipeline (ending at the distributed level) and the lowering, and ptxas accepts the PTX
//! (when the pinned ptxas is installed, which `./dev.sh test` does). A build error here is a
//! kernel the checker accepts and the compiler cannot compile. The H200 run of
//! scripts/gpu-conformance.sh validates the same bundles (docs/GPU-TESTING.md).

use std::path::{Path, PathBuf};
use tessera_passes::{PipelineOptions, registry, run_pipeline};
use tessera_target_nvidia::{BuildOptions, LoweringOptions, PtxasMode, SM90A, compile};

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in ["tests/conformance", "dsl_examples", "tests/fidelity"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "tsr") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_conformance_kernel_builds_for_sm90a() {
    let files = sources();
    assert!(files.len() >= 40, "corpus too small: {}", files.len());
    let caps = registry::target("sm_90a").unwrap();
    let opts = BuildOptions {
        target: SM90A,
        lowering: LoweringOptions::default(),
        ptxas: PtxasMode::Auto,
    };
    let mut failures = Vec::new();
    let mut assembled = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (m, d) = tessera_check::check_source(&name, &std::fs::read(f).unwrap());
        let Some(mut m) = m else {
            failures.push(format!("{name}: does not check: {d:?}"));
            continue;
        };
        if let Err(e) = run_pipeline(&mut m, caps, &PipelineOptions::default(), &mut std::io::sink()) {
            failures.push(format!("{name}: pipeline: {e}"));
            continue;
        }
        for k in &m.kernels {
            match compile(k, &opts) {
                Ok(a) => assembled += usize::from(a.cubin.is_some()),
                Err(e) => failures.push(format!("{name} ({}): {e}", k.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} do not build:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!(
        "{} kernels built for sm_90a, {assembled} assembled by ptxas",
        files.len()
    );
}
