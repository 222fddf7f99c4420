//! docs/LANGUAGE.md stays true: every ```tessera block checks clean, and every
//! ```tessera,fails=E0xxx block fails with that code.

use std::path::Path;

#[test]
fn every_tessera_block_in_the_language_reference_checks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/LANGUAGE.md");
    let doc = std::fs::read_to_string(path).expect("docs/LANGUAGE.md exists");
    assert!(
        doc.split_whitespace().count() < 6000,
        "the reference stays under 6000 words"
    );
    let mut blocks: Vec<(usize, String, String)> = Vec::new();
    let mut cur: Option<(usize, String, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        match &mut cur {
            None => {
                if let Some(info) = line.strip_prefix("```")
                    && info.starts_with("tessera")
                {
                    cur = Some((i + 1, info.to_string(), String::new()));
                }
            }
            Some((_, _, body)) => {
                if line.starts_with("```") {
                    blocks.push(cur.take().expect("inside a block"));
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    assert!(cur.is_none(), "unterminated code block");
    assert!(
        blocks.len() >= 10,
        "expected the reference's examples, found {}",
        blocks.len()
    );
    let mut problems = String::new();
    for (line, info, body) in &blocks {
        let (module, diags) = tessera_check::check_source("LANGUAGE.md", body.as_bytes());
        match info.strip_prefix("tessera,fails=") {
            Some(code) => {
                if !diags.iter().any(|d| d.code == code) {
                    problems.push_str(&format!(
                        "block at line {line} should fail with {code}, got {:?}\n",
                        diags.iter().map(|d| d.code).collect::<Vec<_>>()
                    ));
                }
            }
            None => {
                assert_eq!(info, "tessera", "unknown info string at line {line}");
                if let Some(Err(e)) = module.as_ref().map(tessera_ir::verify_module) {
                    problems.push_str(&format!("block at line {line}: IR does not verify: {e}\n"));
                }
                if module.is_none() || !diags.is_empty() {
                    problems.push_str(&format!(
                        "block at line {line} does not check clean:\n{}\n",
                        tessera_check::render_diagnostics(
                            "LANGUAGE.md",
                            body.as_bytes(),
                            &diags,
                            false,
                            false
                        )
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}
