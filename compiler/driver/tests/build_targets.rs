//! `tessera build` for every dsl_example on every target, as a user runs it: the expected matrix
//! (kept in sync with docs/TARGETS.md) says which builds succeed with which instruction family and
//! which fail with which coded diagnostic. A success must leave a bundle whose device code the
//! assembler accepted (a cubin from ptxas for NVIDIA; an HSACO that `llvm-objdump --mcpu=gfx950`
//! disassembles to the scaled MFMA) and whose kernel.tir is the post-pipeline IR. Also: the pass
//! flags, `--list-targets`, unknown targets, and `run`/`validate --backend cuda|hip` without a GPU.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tessera(args: &[&str]) -> (i32, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn tessera: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-build-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const TARGETS: [&str; 5] = ["sm_90a", "sm_100a", "sm_120a", "sm_121a", "gfx950"];

/// What one example does on one target.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Builds; the target's instruction family is in the device code.
    Ok,
    /// Fails with this diagnostic code (exit 1, rendered against the source).
    Err(&'static str),
}
use Expect::{Err as E, Ok as B};

/// The matrix, one row per dsl_example, columns in [`TARGETS`] order. docs/TARGETS.md shows the
/// same table. sm_90a lowers every example per op; E0711/E0704 not
/// GEMM-shaped; E0712/E0703 operand contract not lowered natively; E0701 NVFP4 on gfx950 (no
/// ue4m3 scale path).
const MATRIX: &[(&str, [Expect; 5])] = &[
    (
        "attention_fp8",
        [B, E("E0711"), E("E0711"), E("E0711"), E("E0704")],
    ),
    ("gemm_bf16", [B, E("E0712"), E("E0712"), E("E0712"), E("E0703")]),
    (
        "gemm_dequant_explicit",
        [B, E("E0711"), E("E0711"), E("E0711"), E("E0704")],
    ),
    ("gemm_fp8", [B, B, B, B, B]),
    (
        "gemm_fp8_blockscale",
        [B, E("E0712"), E("E0712"), E("E0712"), E("E0703")],
    ),
    (
        "gemm_mxfp4_bf16",
        [B, E("E0712"), E("E0712"), E("E0712"), E("E0703")],
    ),
    ("gemm_mxfp4_fp8", [B, E("E0712"), E("E0712"), E("E0712"), B]),
    ("gemm_mxfp8", [B, B, B, B, B]),
    ("gemm_nvfp4", [B, B, B, B, E("E0701")]),
    ("moe_mxfp8", [B, E("E0711"), E("E0711"), E("E0711"), E("E0704")]),
];

/// The LLVM tools directory the gfx950 backend uses (same default as tessera-target-amd).
fn llvm_bin() -> PathBuf {
    std::env::var_os("TESSERA_LLVM_BIN").map_or_else(|| PathBuf::from("/usr/lib/llvm-22/bin"), PathBuf::from)
}

/// Why a target's builds cannot be checked on this machine, if they cannot.
fn missing_tool(target: &str) -> Option<String> {
    if target == "gfx950" {
        ["ld.lld", "llvm-objdump"]
            .iter()
            .find(|t| !llvm_bin().join(t).exists())
            .map(|t| format!("{} not found in {}", t, llvm_bin().display()))
    } else {
        tessera_target_nvidia::locate_ptxas().err()
    }
}

/// Check one built bundle: files, the instruction family, the assembler's acceptance.
fn check_bundle(example: &str, target: &str, dir: &Path, stderr: &str) -> Result<(), String> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{f}: {e}"));
    let meta: serde_json::Value =
        serde_json::from_str(&read("meta.json")?).map_err(|e| format!("meta.json: {e}"))?;
    if meta["target"] != target {
        return Err(format!("meta.json target {}", meta["target"]));
    }
    let tir = read("kernel.tir")?;
    let module = tessera_ir::parse_module(&tir).map_err(|e| format!("kernel.tir: {e:?}"))?;
    tessera_ir::verify_module(&module).map_err(|e| format!("kernel.tir does not verify: {e:?}"))?;
    let report = read("report.txt")?;
    if !report.contains("pipeline: canonicalize -> fuse-dequant -> assign-scale-layout") {
        return Err(format!("report has no pipeline line:\n{report}"));
    }
    // A scaled example's dot must be reported fused by the pipeline.
    if example.contains("mx") || example.contains("nvfp4") || example.contains("blockscale") {
        if !report.contains("dequant: fused") {
            return Err(format!("no `dequant: fused` line:\n{report}"));
        }
        // ...and kernel.tir carries the scale layout the pass assigned for this target.
        let layout = match target {
            "sm_90a" => "layout = hopper_reg",
            "gfx950" => "layout = amd_lane16x16x128",
            _ => "layout = nv128x4",
        };
        if !example.contains("blockscale") && !tir.contains(layout) {
            return Err(format!("kernel.tir lacks `{layout}`"));
        }
    }
    if target == "gfx950" {
        if !dir.join("kernel.hsaco").exists() {
            return Err("no kernel.hsaco".into());
        }
        if !report.contains("mfma: v_mfma_scale_f32_16x16x128_f8f6f4") {
            return Err(format!("report audit lacks v_mfma_scale:\n{report}"));
        }
        // Independently of the backend's own audit: the disassembler accepts it for gfx950.
        let out = Command::new(llvm_bin().join("llvm-objdump"))
            .args(["-d", "--mcpu=gfx950"])
            .arg(dir.join("kernel.hsaco"))
            .output()
            .map_err(|e| format!("llvm-objdump: {e}"))?;
        let dis = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !dis.contains("v_mfma_scale_f32_16x16x128_f8f6f4") {
            return Err(format!(
                "llvm-objdump --mcpu=gfx950 rejected the HSACO or it lacks v_mfma_scale: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        return Ok(());
    }
    let ptx = read("kernel.ptx")?;
    let family_ok = match target {
        // The per-op lowering (wgmma from staged shared memory), for every kernel.
        "sm_90a" => {
            ptx.contains("wgmma.mma_async") && report.contains("per-op lowering from the distributed level")
        }
        "sm_100a" => {
            ptx.contains("tcgen05.mma.cta_group::1.kind::")
                && ptx.contains(".block_scale")
                && report.contains("(present x")
        }
        _ => {
            ptx.contains("mma.sync.aligned.m16n8k")
                && ptx.contains(".block_scale")
                && !ptx.contains("tcgen05")
                && report.contains("(present x")
        }
    };
    if !family_ok {
        return Err(format!(
            "{target}: expected instruction family missing; report:\n{report}"
        ));
    }
    // The cubin exists only when the pinned ptxas accepted the PTX for this arch.
    if !dir.join("kernel.cubin").exists() {
        return Err(format!("no kernel.cubin (ptxas was found): {stderr}"));
    }
    if !(report.contains(" registers, ") && report.contains("spills ")) {
        return Err(format!("no register/spill figures:\n{report}"));
    }
    Ok(())
}

/// Run one cell of the matrix; `Ok(None)` = checked, `Ok(Some(reason))` = skipped.
fn cell(example: &str, target: &str, want: Expect, out: &Path) -> Result<Option<String>, String> {
    let file = format!("dsl_examples/{example}.tsr");
    let dir = out.join(format!("{example}.{target}"));
    let dir_s = dir.display().to_string();
    let (code, _, err) = tessera(&["build", &file, "--target", target, "-o", &dir_s]);
    match want {
        Expect::Ok => {
            if let Some(why) = missing_tool(target) {
                return Ok(Some(why));
            }
            if code != 0 {
                return Err(format!("exit {code}, expected a build:\n{err}"));
            }
            check_bundle(example, target, &dir, &err).map(|()| None)
        }
        Expect::Err(c) => {
            let head = format!("error[{c}]");
            if code != 1
                || !err.contains(&head)
                || !err.contains(target)
                || !err.contains(&format!("{example}.tsr:"))
            {
                return Err(format!(
                    "expected exit 1 with {head} naming {target} at a source span, got exit {code}:\n{err}"
                ));
            }
            if dir.exists() {
                return Err("a failed build left a bundle".into());
            }
            Ok(None)
        }
    }
}

#[test]
fn every_example_on_every_target_matches_the_matrix() {
    let out = scratch("matrix");
    let examples: Vec<String> = std::fs::read_dir(root().join("dsl_examples"))
        .unwrap_or_else(|e| panic!("dsl_examples: {e}"))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".tsr"))
                .map(str::to_string)
        })
        .collect();
    // Every example is in the table and every table row is an example: the matrix cannot go stale.
    for e in &examples {
        assert!(
            MATRIX.iter().any(|(n, _)| n == e),
            "dsl_examples/{e}.tsr is not in MATRIX"
        );
    }
    for (n, _) in MATRIX {
        assert!(
            examples.iter().any(|e| e == n),
            "MATRIX row {n} has no dsl_example"
        );
    }
    let cells: Vec<(&str, &str, Expect)> = MATRIX
        .iter()
        .flat_map(|(n, row)| TARGETS.iter().zip(row).map(move |(t, w)| (*n, *t, *w)))
        .collect();
    // A few builds at a time: each is its own process (LLVM codegen), the machine is shared.
    let results: Vec<(String, Result<Option<String>, String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[(&str, &str, Expect)]> = cells.chunks(cells.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let out = &out;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(n, t, w)| (format!("{n} on {t}"), cell(n, t, *w, out)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| panic!("a matrix thread panicked")))
            .collect()
    });
    let mut failures = Vec::new();
    for (what, r) in &results {
        match r {
            Ok(None) => {}
            Ok(Some(why)) => println!("skipped: {what}: {why}"),
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn list_targets_prints_each_target_with_capabilities() {
    let (code, out, err) = tessera(&["build", "--list-targets"]);
    assert_eq!(code, 0, "{err}");
    for t in TARGETS {
        assert!(out.lines().any(|l| l.starts_with(t)), "{t} missing:\n{out}");
    }
    for cap in [
        "wgmma",
        "tcgen05.mma",
        "mma.sync",
        "v_mfma_scale",
        "E0701",
        "pass pipeline: canonicalize",
    ] {
        assert!(out.contains(cap), "{cap} missing:\n{out}");
    }
}

#[test]
fn unknown_target_is_a_coded_error_listing_the_valid_ones() {
    let (code, _, err) = tessera(&[
        "build",
        "dsl_examples/gemm_fp8.tsr",
        "--target",
        "sm_80",
        "-o",
        "/nonexistent",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0902]: unknown target `sm_80`"), "{err}");
    for t in TARGETS {
        assert!(err.contains(t), "{t} not listed: {err}");
    }
}

#[test]
fn nvfp4_on_gfx950_names_the_target_and_the_reason_at_the_dot() {
    let (code, _, err) = tessera(&[
        "build",
        "dsl_examples/gemm_nvfp4.tsr",
        "--target",
        "gfx950",
        "--report",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error[E0701]: target gfx950"), "{err}");
    assert!(err.contains("ue4m3"), "{err}");
    assert!(
        err.contains("dot(ta, transpose(tb), acc)") && err.contains("^^^"),
        "{err}"
    );
}

#[test]
fn pipeline_flags_print_and_check_the_passes() {
    let (code, out, err) = tessera(&[
        "build",
        "dsl_examples/gemm_mxfp8.tsr",
        "--target",
        "sm_120a",
        "--no-ptxas",
        "--report",
        "--print-pipeline",
        "--print-after=assign-scale-layout",
        "--verify-each",
        "--diff-interp",
        "--seed=5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("pipeline for sm_120a: canonicalize -> fuse-dequant -> assign-scale-layout"),
        "{err}"
    );
    assert!(err.contains("IR after assign-scale-layout"), "{err}");
    assert!(
        !err.contains("IR after fuse-dequant"),
        "printed more than asked:\n{err}"
    );
    assert!(err.contains("layout = nv128x4"), "{err}");
    assert!(
        out.contains("diff-interp: ") && out.contains("pass results matched"),
        "{out}"
    );
    assert!(out.contains("dequant: fused (native block-scaled MMA"), "{out}");
    assert!(out.contains("mma.sync.aligned.m16n8k32"), "{out}");

    let (code, out, err) = tessera(&[
        "build",
        "dsl_examples/gemm_fp8.tsr",
        "--target",
        "gfx950",
        "--print-after-all",
        "--report",
    ]);
    assert_eq!(code, 0, "{err}");
    for p in ["canonicalize", "fuse-dequant", "assign-scale-layout"] {
        assert!(err.contains(&format!("IR after {p} ")), "{p}: {err}");
    }
    assert!(out.contains("vgprs: ") && out.contains("vgpr spills: 0"), "{out}");

    let (code, _, err) = tessera(&[
        "build",
        "dsl_examples/gemm_fp8.tsr",
        "--print-after=nope",
        "--report",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("E0901"), "{err}");
}

#[test]
fn emit_prints_the_requested_stage() {
    let (code, out, err) = tessera(&[
        "build",
        "dsl_examples/gemm_mxfp8.tsr",
        "--target",
        "sm_100a",
        "--emit=ptx",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(".target sm_100a") && out.contains("tcgen05.mma"),
        "{out}"
    );
    let (code, _, err) = tessera(&[
        "build",
        "dsl_examples/gemm_mxfp8.tsr",
        "--target",
        "gfx950",
        "--emit=ptx",
    ]);
    assert_eq!(code, 2, "{err}");
}

/// Either there is no GPU runtime here (exit 3 with the runtime's message) or there is one and
/// the command succeeded; nothing else is acceptable.
fn no_gpu_or_pass(code: i32, text: &str, no_gpu: &str) {
    assert!(
        (code == 3 && text.contains(no_gpu)) || (code == 0 && !text.contains("FAIL")),
        "exit {code}:\n{text}"
    );
}

#[test]
fn run_and_validate_on_cuda_build_in_process_and_fail_cleanly_without_a_gpu() {
    let (code, out, err) = tessera(&[
        "validate",
        "dsl_examples/gemm_bf16.tsr",
        "--backend",
        "cuda",
        "--seed",
        "3",
    ]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no CUDA device found");
    let (code, out, err) = tessera(&[
        "run",
        "dsl_examples/gemm_fp8.tsr",
        "--backend",
        "cuda",
        "--seed",
        "3",
    ]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no CUDA device found");
    // The FP8 attention is lowered per op on sm_90a and gets as far as the device.
    let (code, out, err) = tessera(&["validate", "dsl_examples/attention_fp8.tsr", "--backend", "cuda"]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no CUDA device found");
    // The grouped MoE is lowered per op on sm_90a and gets as far as the device too.
    let (code, out, err) = tessera(&["validate", "dsl_examples/moe_mxfp8.tsr", "--backend", "cuda"]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no CUDA device found");
    // A kernel with an op the target cannot express yet fails at the build, with its diagnostic,
    // before any GPU.
    let dir = std::env::temp_dir().join(format!("tessera-build-test-{}-quant", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("pack_col.tsr");
    std::fs::write(
        &src,
        "kernel pack_col(x: f32[N, K], y: out f4e2m1[N, K]) tiles(B = 64) grid(cdiv(N, B), K) {\n    let n0 = program_id(0) * B;\n    let k = program_id(1);\n    store(y[n0 .. +B, k], cast<f4e2m1>(load(x[n0 .. +B, k])));\n}\n",
    )
    .unwrap();
    let (code, _, err) = tessera(&["validate", src.to_str().unwrap(), "--backend", "cuda"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error[L0001]"), "{err}");
}

#[test]
fn hip_backend_builds_for_gfx950_and_fails_cleanly_without_an_amd_gpu() {
    if let Some(why) = missing_tool("gfx950") {
        println!("skipped: {why}");
        return;
    }
    let (code, out, err) = tessera(&[
        "validate",
        "dsl_examples/gemm_fp8.tsr",
        "--backend",
        "hip",
        "--seed",
        "3",
    ]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no HIP runtime / no AMD GPU");
    // An MX kernel: gfx950 assigns `amd_lane16x16x128` scales, so loading must prepack them for
    // the device (not fail generating inputs) before the runtime is even looked for.
    let (code, out, err) = tessera(&[
        "validate",
        "dsl_examples/gemm_mxfp8.tsr",
        "--backend",
        "hip",
        "--seed",
        "3",
    ]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no HIP runtime / no AMD GPU");
    let (code, out, err) = tessera(&["run", "dsl_examples/gemm_mxfp8.tsr", "--backend", "hip"]);
    no_gpu_or_pass(code, &format!("{out}{err}"), "no HIP runtime / no AMD GPU");
    let (code, _, err) = tessera(&["run", "dsl_examples/gemm_nvfp4.tsr", "--backend", "hip"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error[E0701]"), "{err}");
}

/// Corpus kernels (tests/conformance, dsl_examples) whose source contains every one of `needles`.
fn corpus_with(needles: &[&str]) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in ["tests/conformance", "dsl_examples"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let src = std::fs::read_to_string(&p).unwrap_or_default();
            if p.extension().is_some_and(|x| x == "tsr") && needles.iter().all(|n| src.contains(n)) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Build each of `files` per op with `flags` (ptxas on) and return the build reports.
fn per_op_reports(files: &[std::path::PathBuf], flags: &[&str], tag: &str) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            let out = scratch(&format!("{tag}-{}", f.file_stem().unwrap().to_string_lossy()));
            let mut args = vec!["build", f.to_str().unwrap(), "--report"];
            args.extend(flags);
            args.extend(["-o", out.to_str().unwrap()]);
            let (code, _, err) = tessera(&args);
            assert_eq!(code, 0, "{}: {err}", f.display());
            assert!(
                out.join("kernel.cubin").exists(),
                "{}: ptxas gave no cubin",
                f.display()
            );
            let report = std::fs::read_to_string(out.join("report.txt")).unwrap();
            let _ = std::fs::remove_dir_all(&out);
            report
        })
        .collect()
}

#[test]
fn async_copies_build_every_corpus_dot_and_ptxas_accepts_them() {
    // Async copies (the default) change how per-op dots fetch their operands; every corpus
    // kernel whose dot reads `load`/`transpose(load)` operands builds with them, per op, and
    // ptxas accepts the result. The H200 validates it (scripts/gpu-dots.sh).
    if let Some(why) = missing_tool("sm_90a") {
        eprintln!("skipped: {why}");
        return;
    }
    let files = corpus_with(&["transpose(load("]);
    assert!(files.len() >= 10, "{files:?}");
    let reports = per_op_reports(&files, &[], "async");
    let rings = reports.iter().filter(|r| r.contains(" ring of ")).count();
    assert!(
        rings >= 5,
        "only {rings} kernels streamed their operands through a ring"
    );
    // Rings whose tiles TMA can copy as the stage holds them are filled by TMA (with the
    // cp.async path kept for launches TMA cannot describe).
    let tma = reports.iter().filter(|r| r.contains("TMA ring of")).count();
    assert!(tma >= 5, "only {tma} kernels filled their rings with TMA");
}

#[test]
fn nvfp4_wgmma_builds_every_nvfp4_dot_and_ptxas_accepts_them() {
    // NVFP4 dots per op on bf16 wgmma (the default since session 7; `--no-nvfp4-wgmma` turns it
    // off): every corpus kernel with an NVFP4 dot builds so, per op, and ptxas accepts the result;
    // the H200 validated them (docs/GPU-TESTING.md).
    if let Some(why) = missing_tool("sm_90a") {
        eprintln!("skipped: {why}");
        return;
    }
    let files = corpus_with(&["nv<", "dot("]);
    assert!(files.len() >= 2, "{files:?}");
    for (f, r) in files.iter().zip(per_op_reports(&files, &[], "nvfp4")) {
        assert!(r.contains("f32.bf16.bf16"), "{}: {r}", f.display());
    }
}

#[test]
fn async_scaled_copies_build_every_mx_dot_and_ptxas_accepts_them() {
    // MXFP8 code operands copied by the dot (the default since session 7;
    // `--no-async-scaled-copies` turns it off): every corpus kernel with an MX dot builds so, per
    // op, and ptxas accepts the result; the H200 validated them (docs/GPU-TESTING.md).
    if let Some(why) = missing_tool("sm_90a") {
        eprintln!("skipped: {why}");
        return;
    }
    let files = corpus_with(&["mx<", "dot("]);
    assert!(files.len() >= 5, "{files:?}");
    let reports = per_op_reports(&files, &[], "mxasync");
    assert!(
        reports.iter().any(|r| r.contains("cp.async ring of")),
        "no MX dot streams through a ring"
    );
    // gemm_mxfp8 per op spills 164 bytes with one warpgroup: the build lays it out again for two
    // (`SPILL_RETRY_BYTES`) and keeps that, since it spills nothing.
    let (_, r) = files
        .iter()
        .zip(&reports)
        .find(|(f, _)| f.ends_with("dsl_examples/gemm_mxfp8.tsr"))
        .expect("gemm_mxfp8 in the corpus");
    assert!(r.contains("launch: 256 threads"), "{r}");
    assert!(r.contains("with 4 warps; rebuilt with 8 warps (0 bytes)"), "{r}");
}

#[test]
fn every_strategy_flag_builds_the_corpus_dots_it_concerns_and_ptxas_accepts_them() {
    // Each `--no-…` strategy flag switches the per-op dot to a slower path (operands through
    // registers, cp.async instead of TMA, codes one per register, f32 FMAs); none refuses a
    // kernel the default build takes. The GEMM mainloop these flags once fell back to is gone, so
    // this is what a user turning one off gets.
    if let Some(why) = missing_tool("sm_90a") {
        eprintln!("skipped: {why}");
        return;
    }
    let cases: [(&str, &[&str], usize); 5] = [
        ("--no-async-copies", &["dot("], 25),
        ("--no-tma-rings", &["transpose(load("], 10),
        ("--no-async-scaled-copies", &["mx<", "dot("], 5),
        ("--no-packed-fp4-staging", &["f4", "dot("], 4),
        ("--no-nvfp4-wgmma", &["nv<", "dot("], 2),
    ];
    for (flag, needles, at_least) in cases {
        let files = corpus_with(needles);
        assert!(files.len() >= at_least, "{flag}: {files:?}");
        let reports = per_op_reports(&files, &[flag], flag.trim_start_matches("--"));
        for (f, r) in files.iter().zip(&reports) {
            assert!(r.contains("per-op lowering"), "{flag} {}: {r}", f.display());
        }
    }
}

#[test]
fn no_schedules_is_ignored_with_a_warning_and_changes_nothing() {
    // The FA attention schedule it turned off is deleted: the flag is accepted for old scripts,
    // says so, and the kernel builds exactly as without it.
    let (with, without) = (scratch("no-schedules-on"), scratch("no-schedules-off"));
    let build = |dir: &PathBuf, extra: &[&str]| {
        let mut args = vec![
            "build",
            "dsl_examples/attention_fp8.tsr",
            "--no-ptxas",
            "-o",
            dir.to_str().unwrap(),
        ];
        args.extend(extra);
        tessera(&args)
    };
    let (code, _, err) = build(&with, &["--no-schedules"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: --no-schedules has no effect"), "{err}");
    let (code, _, err) = build(&without, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("--no-schedules"), "{err}");
    let ptx = |d: &PathBuf| std::fs::read_to_string(d.join("kernel.ptx")).unwrap();
    assert_eq!(ptx(&with), ptx(&without));
    let _ = std::fs::remove_dir_all(&with);
    let _ = std::fs::remove_dir_all(&without);
}
