//! Fuzzing the front end with proptest: token soup and mutations of the real example programs must
//! never make parse + check panic. Bounded: PROPTEST_CASES (default 2000 per property). Inputs that
//! ever failed live in tests/data/fuzz_regressions/ and are replayed first.

use proptest::prelude::*;
use std::path::Path;

fn examples() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dsl_examples");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v.into_iter()
        .filter(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "tsr"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

const TOKENS: &[&str] = &[
    "kernel",
    "out",
    "tiles",
    "grid",
    "in",
    "let",
    "var",
    "for",
    "step",
    "if",
    "else",
    "None",
    "inf",
    "zeros",
    "full",
    "cast",
    "dequant",
    "quantize",
    "load",
    "store",
    "dot",
    "transpose",
    "exp2",
    "reduce_max",
    "where",
    "atomic_add",
    "program_id",
    "arange",
    "mx",
    "nv",
    "scaled",
    "f32",
    "bf16",
    "f8e4m3",
    "f4e2m1",
    "e8m0",
    "i32",
    "M",
    "K",
    "BM",
    "x",
    "a",
    "0",
    "1",
    "32",
    "128",
    "99999999999999999999",
    "1.5",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    ",",
    ";",
    ":",
    "..",
    "+",
    "-",
    "*",
    "/",
    "%",
    "=",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "!",
    "@",
    "global",
    "block",
    "axis",
    "$",
    "\u{e9}",
    "//",
    "\n",
];

fn check_no_panic(bytes: &[u8]) {
    let (module, diags) = tessera_check::check_source("fuzz.tsr", bytes);
    // Rendering must not panic either, and errors and a module are exclusive.
    let _ = tessera_check::render_diagnostics("fuzz.tsr", bytes, &diags, false, false);
    let _ = tessera_check::render_diagnostics("fuzz.tsr", bytes, &diags, true, false);
    assert_eq!(module.is_some(), !diags.iter().any(|d| d.is_error()));
    // Whatever the checker accepts, the IR verifier accepts too.
    if let Some(m) = module
        && let Err(e) = tessera_ir::verify_module(&m)
    {
        panic!(
            "accepted program does not verify: {e}\n--- source ---\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz_regressions");
    let mut n = 0;
    for e in std::fs::read_dir(dir)
        .expect("regression folder exists")
        .flatten()
    {
        if let Ok(b) = std::fs::read(e.path()) {
            check_no_panic(&b);
            n += 1;
        }
    }
    assert!(n > 0, "regression corpus is not empty");
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(TOKENS), 0..120)) {
        let src = toks.join(" ");
        check_no_panic(src.as_bytes());
    }

    #[test]
    fn mutated_examples_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8, prop::sample::select(TOKENS), any::<u8>()), 1..6),
    ) {
        let ex = examples();
        prop_assume!(!ex.is_empty());
        let mut b = ex[which.index(ex.len())].clone();
        for (at, kind, tok, byte) in edits {
            let i = if b.is_empty() { 0 } else { at.index(b.len()) };
            match kind {
                0 => { b.splice(i..i, tok.bytes()); }
                1 => { let end = (i + 1 + usize::from(byte % 16)).min(b.len()); b.drain(i..end); }
                2 => { if i < b.len() { b[i] = byte; } }
                3 => { let end = (i + usize::from(byte)).min(b.len()); let dup: Vec<u8> = b[i..end].to_vec(); b.splice(i..i, dup); }
                // Replace a whole word by another word: usually still parses, so the checker's
                // name, type, shape and scale rules get exercised rather than only the parser.
                _ => {
                    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                    if i < b.len() && word(b[i]) && tok.bytes().all(word) {
                        let mut lo = i;
                        while lo > 0 && word(b[lo - 1]) { lo -= 1; }
                        let mut hi = i;
                        while hi < b.len() && word(b[hi]) { hi += 1; }
                        b.splice(lo..hi, tok.bytes());
                    }
                }
            }
        }
        check_no_panic(&b);
    }
}
