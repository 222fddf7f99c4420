//! The code registry is complete and honest: every code the front end can emit has an entry, every
//! entry's WRONG example produces exactly its code, and every RIGHT example checks clean.

use std::path::Path;
use tessera_diag::codes::{CODES, lookup};

#[test]
fn wrong_examples_produce_their_code_and_right_ones_are_clean() {
    let mut problems = String::new();
    for c in CODES {
        assert!(
            !c.title.is_empty() && c.explanation.len() > 40,
            "{}: title and explanation",
            c.code
        );
        let (_, diags) = tessera_check::check_source("wrong.tsr", c.wrong);
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        if !codes.contains(&c.code) {
            problems.push_str(&format!("{}: WRONG example gives {codes:?}\n", c.code));
        }
        let (module, diags) = tessera_check::check_source("right.tsr", c.right.as_bytes());
        if module.is_none() || !diags.is_empty() {
            problems.push_str(&format!(
                "{}: RIGHT example is not clean:\n{}\n",
                c.code,
                tessera_check::render_diagnostics("right.tsr", c.right.as_bytes(), &diags, false, false)
            ));
        }
        if let Some(Err(e)) = module.as_ref().map(tessera_ir::verify_module) {
            problems.push_str(&format!("{}: RIGHT example's IR does not verify: {e}\n", c.code));
        }
        let text = c.long_text();
        assert!(
            text.contains("WRONG:") && text.contains("RIGHT:"),
            "{}: long text has both examples",
            c.code
        );
    }
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn codes_are_unique_sorted_and_looked_up_case_insensitively() {
    for w in CODES.windows(2) {
        assert!(
            w[0].code < w[1].code || w[0].code.starts_with('E') && w[1].code.starts_with('W'),
            "{} before {}",
            w[0].code,
            w[1].code
        );
    }
    assert_eq!(lookup("e0100").map(|c| c.code), Some("E0100"));
    assert!(lookup("E9999").is_none());
}

/// Every `codes::NAME` constant used in the front-end sources is registered (so no code can be
/// emitted without an explanation).
#[test]
fn every_emitted_code_is_registered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../diag/src/codes.rs");
    let src = std::fs::read_to_string(root).expect("codes.rs readable");
    let mut n = 0;
    for line in src.lines() {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let Some(q) = rest.split('"').nth(1) else { continue };
        n += 1;
        assert!(lookup(q).is_some(), "code {q} ({rest}) has no explanation");
    }
    assert_eq!(
        n,
        CODES.len(),
        "every registry entry has a constant and vice versa"
    );
}
