//! `tessera build dsl_examples/attention_fp8.tsr --target sm_90a` writes a bundle whose launch plan
//! the runner resolves without a GPU (what scripts/gpu.sh checks before a device run): grid
//! (cdiv(S, BM), BH), the four tensor pointers (the kernel is lowered per op; its K/V ring is filled
//! by `cp.async`, so it takes no tensor map), the five scalars (causal given with `--scalar`) and
//! the two dims, for a partial sequence length.

use std::path::PathBuf;
use std::process::Command;
use tessera_runner::Common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_attention_bundle_plans_for_partial_sequences_and_both_mask_modes() {
    let out = std::env::temp_dir().join(format!("tessera-attn-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(root())
        .args([
            "build",
            "dsl_examples/attention_fp8.tsr",
            "--target",
            "sm_90a",
            "-o",
        ])
        .arg(&out)
        .arg("--report")
        .output()
        .unwrap_or_else(|e| panic!("spawn tessera: {e}"));
    let err = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}{err}");
    assert!(
        stdout.contains("mma: wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3")
            && stdout.contains("mma: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3"),
        "{stdout}"
    );
    for causal in ["0", "1"] {
        let common = Common {
            bundle_dir: out.clone(),
            dims: vec!["BH=3".into(), "S=200".into()],
            scalars: vec![format!("causal={causal}")],
            seed: 7,
            backend: None,
            ..Common::default()
        };
        let lines = tessera_runner::plan_bundle(&common).unwrap_or_else(|e| panic!("plan: {e}"));
        let text = lines.join("\n");
        for want in [
            "grid [2, 3, 1] block [256, 1, 1]".to_string(),
            // f8e4m3 [3, 200, 128].
            "slot 0: pointer to `q` Data (76800 bytes)".into(),
            "slot 1: pointer to `k` Data (76800 bytes)".into(),
            "slot 2: pointer to `v` Data (76800 bytes)".into(),
            // bf16 [3, 200, 128].
            "slot 3: pointer to `o` Data (153600 bytes)".into(),
            format!("slot 8: i32 {causal}"),
            "slot 9: i32 3".into(),
            "slot 10: i32 200".into(),
        ] {
            assert!(text.contains(&want), "missing `{want}` in:\n{text}");
        }
        assert!(!text.contains("tensor map"), "a tensor map slot in:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
