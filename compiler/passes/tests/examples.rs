//! Every `dsl_examples/*.tsr` through every target's pipeline with `--verify-each` and
//! `--diff-interp` on: the passes keep the IR valid and the interpreter's results unchanged on
//! real kernels, and on sm_90a every dot that needs dequantization is fused.

use std::path::Path;
use tessera_passes::{DiffOptions, PipelineOptions, TARGETS, run_pipeline};

fn examples() -> Vec<(String, tessera_ir::Module)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "tsr") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let (m, diags) = tessera_check::check_source(&name, &std::fs::read(&path).unwrap());
            let m = m.unwrap_or_else(|| panic!("{name} does not check: {diags:?}"));
            out.push((name, m));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 5, "examples found: {}", out.len());
    out
}

#[test]
fn every_example_through_every_pipeline_with_diff_interp() {
    let repro = std::env::temp_dir().join(format!("tessera-passes-examples-{}", std::process::id()));
    let opts = PipelineOptions {
        verify_each: true,
        diff_interp: Some(DiffOptions::default()),
        repro_dir: Some(repro.clone()),
        ..Default::default()
    };
    let mut failures = Vec::new();
    for (name, module) in examples() {
        for caps in TARGETS {
            let mut m = module.clone();
            match run_pipeline(&mut m, caps, &opts, &mut Vec::new()) {
                Ok(r) => {
                    for (k, _, line) in &r.dequant {
                        println!("{name} {k} {}: {line}", caps.name);
                    }
                    if caps.name == "sm_90a"
                        && r.dequant.iter().any(|(_, _, l)| !l.starts_with("dequant: fused"))
                    {
                        failures.push(format!("{name} on sm_90a: {:?}", r.dequant));
                    }
                }
                Err(e) => failures.push(format!("{name} on {}: {e}", caps.name)),
            }
        }
    }
    let _ = std::fs::remove_dir_all(repro);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The GEMM examples with low-precision operands report a fused dot on Hopper.
#[test]
fn scaled_gemm_examples_report_fused_on_hopper() {
    let caps = tessera_passes::TargetCaps::lookup("sm_90a").unwrap();
    for (name, module) in examples() {
        let scaled = ["mxfp8", "mxfp4", "nvfp4", "blockscale", "dequant_explicit"]
            .iter()
            .any(|s| name.contains(s));
        if !scaled {
            continue;
        }
        let mut m = module.clone();
        let r = run_pipeline(&mut m, caps, &PipelineOptions::default(), &mut Vec::new()).unwrap();
        assert!(!r.dequant.is_empty(), "{name}: no dot reported");
        assert!(
            r.dequant
                .iter()
                .all(|(_, _, l)| l.starts_with("dequant: fused (")),
            "{name}: {:?}",
            r.dequant
        );
    }
}
