//! `tessera explain` covers every code the project can emit. The sources are grepped for code
//! literals (`"E0701"`, `error[E0920]`, `"E0901: ..."`) so that a new code without a registry entry
//! fails here; later-stage entries whose WRONG example is a `.tsr` plus a `tessera` command are
//! run through the real binary and must reproduce their code; their RIGHT example must succeed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use tessera_diag::codes::{self, CODES, Check, Example, NpyFile, STAGE_CODES};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Directories that hold no emitting code: build output, VCS data, test-only code.
fn skipped_dir(name: &str) -> bool {
    matches!(name, "target" | ".git" | "tests" | "benches" | "node_modules") || name.starts_with('.')
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !skipped_dir(&name) {
                rust_sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Every `[EWL]dddd` token in `src` that is not part of a longer word.
fn code_tokens(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut found = Vec::new();
    for i in 0..b.len().saturating_sub(4) {
        if matches!(b[i], b'E' | b'W' | b'L')
            && b[i + 1..i + 5].iter().all(u8::is_ascii_digit)
            && (i == 0 || !word(b[i - 1]))
            && b.get(i + 5).is_none_or(|&c| !word(c))
        {
            found.push(src[i..i + 5].to_string());
        }
    }
    found
}

/// Code tokens in non-test Rust sources, with one file that uses each. Unit-test modules
/// (`#[cfg(test)]` to the end of the file, the convention here) and the registry itself are left out.
fn emitted_codes() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    rust_sources(&root(), &mut files);
    let registry = root().join("compiler/diag/src/codes");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for f in files {
        if f.starts_with(&registry) {
            continue;
        }
        let src = std::fs::read_to_string(&f).unwrap_or_default();
        let code_part = src.split("#[cfg(test)]").next().unwrap_or_default();
        for c in code_tokens(code_part) {
            if seen.insert(c.clone()) {
                out.push((c, f.clone()));
            }
        }
    }
    out
}

fn example_problems(code: &str, which: &str, e: &Example) -> String {
    let mut p = String::new();
    if e.command.trim().is_empty() || e.note.trim().is_empty() {
        p.push_str(&format!("{code}: {which} example needs a command and a note\n"));
    }
    if !e.source.is_empty() {
        // The code comes from a later stage, so the example's source must pass the front end.
        let (module, diags) = tessera_check::check_source("x.tsr", e.source.as_bytes());
        if module.is_none() || !diags.is_empty() {
            p.push_str(&format!(
                "{code}: {which} example's x.tsr does not check clean:\n{}\n",
                tessera_check::render_diagnostics("x.tsr", e.source.as_bytes(), &diags, false, false)
            ));
        }
    }
    p
}

#[test]
fn every_code_in_the_sources_is_explained() {
    let emitted = emitted_codes();
    let mut problems = String::new();
    for (code, file) in &emitted {
        let where_ = file.strip_prefix(root()).unwrap_or(file).display();
        if let Some(c) = codes::lookup(code) {
            if c.wrong.is_empty() || c.right.trim().is_empty() {
                problems.push_str(&format!("{code} ({where_}): empty WRONG/RIGHT example\n"));
            }
        } else if let Some(c) = codes::lookup_stage(code) {
            if c.title.is_empty() || c.explanation.len() < 80 || c.stage.is_empty() {
                problems.push_str(&format!("{code} ({where_}): title, stage and explanation\n"));
            }
            problems.push_str(&example_problems(code, "WRONG", &c.wrong));
            problems.push_str(&example_problems(code, "RIGHT", &c.right));
        } else {
            problems.push_str(&format!(
                "{code} ({where_}) has no `tessera explain` entry: add it to compiler/diag/src/codes/stage_table.rs\n"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems}");
    // The walk found the stages it must (a broken walker would pass the loop above vacuously).
    let set: BTreeSet<&str> = emitted.iter().map(|(c, _)| c.as_str()).collect();
    for must in [
        "E0501", "E0601", "E0701", "E0711", "E0801", "E0901", "E0910", "E0920", "L0001",
    ] {
        assert!(set.contains(must), "{must} not found in the sources: {set:?}");
    }
    // No stale entries: every documented later-stage code is still emitted somewhere.
    for c in STAGE_CODES {
        assert!(
            set.contains(c.code),
            "{} is documented but no source emits it",
            c.code
        );
    }
}

#[test]
fn stage_entries_are_sorted_unique_and_apart_from_the_front_end() {
    let rank = |c: &str| (c.starts_with('L'), c.to_string());
    for w in STAGE_CODES.windows(2) {
        assert!(
            rank(w[0].code) < rank(w[1].code),
            "{} before {}",
            w[0].code,
            w[1].code
        );
    }
    for c in STAGE_CODES {
        assert!(codes::lookup(c.code).is_none(), "{} is in both tables", c.code);
        let text = codes::explain(&c.code.to_ascii_lowercase()).expect("looked up case-insensitively");
        assert!(text.contains("WRONG:") && text.contains("RIGHT:"), "{text}");
        for e in [&c.wrong, &c.right] {
            assert!(
                text.contains(e.command),
                "{}: `{}` not shown:\n{text}",
                c.code,
                e.command
            );
        }
        if c.check == Check::Run {
            for e in [&c.wrong, &c.right] {
                assert!(
                    e.command.starts_with("tessera "),
                    "{}: runnable example `{}`",
                    c.code,
                    e.command
                );
            }
        }
    }
    assert_eq!(codes::titles().count(), CODES.len() + STAGE_CODES.len());
}

/// A version 1.0 `.npy` with `f`'s header and zero data (zero is a valid code of every dtype).
fn npy_bytes(f: &NpyFile) -> Vec<u8> {
    let dims: Vec<String> = f.shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if f.fortran { "True" } else { "False" };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': {fortran}, 'shape': {shape}, }}",
        f.descr
    );
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let item: usize = f.descr[2..].parse().expect("descr like <f4");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(header.len()).expect("short header").to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + item * f.shape.iter().product::<usize>(), 0);
    out
}

/// Run `command` (a `tessera ...` line) in a scratch directory holding `source` as x.tsr and the
/// example's `.npy` files.
fn run_example(code: &str, which: &str, e: &Example) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("tessera-explain-{}-{code}-{which}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    if !e.source.is_empty() {
        std::fs::write(dir.join("x.tsr"), e.source).expect("write x.tsr");
    }
    for f in e.files {
        std::fs::write(dir.join(f.name), npy_bytes(f)).expect("write .npy");
    }
    let args: Vec<&str> = e.command.split_whitespace().skip(1).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(&args)
        .current_dir(&dir)
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn runnable_examples_reproduce_their_code() {
    let mut problems = String::new();
    let mut ran = 0;
    for c in STAGE_CODES.iter().filter(|c| c.check == Check::Run) {
        ran += 1;
        let (status, out) = run_example(c.code, "wrong", &c.wrong);
        if status == 0 || !out.contains(c.code) {
            problems.push_str(&format!(
                "{}: WRONG `{}` exited {status} without the code:\n{out}\n",
                c.code, c.wrong.command
            ));
        }
        let (status, out) = run_example(c.code, "right", &c.right);
        if status != 0 || out.contains(c.code) {
            problems.push_str(&format!(
                "{}: RIGHT `{}` exited {status} and still reports it:\n{out}\n",
                c.code, c.right.command
            ));
        }
    }
    assert!(problems.is_empty(), "{problems}");
    assert!(ran >= 10, "only {ran} runnable entries");
}
