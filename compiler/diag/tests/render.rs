//! Rendering: plain text without colors when asked, JSON lines with 1-based line/column of the
//! primary label (columns count characters), labels and help; the registry lookup.

use tessera_diag::{Diagnostic, LineIndex, Span, codes, lookup, render_human, render_json};

fn sample() -> (String, Diagnostic) {
    let src = "kernel k() {\n    let é = zz;\n}\n".to_string();
    let at = src.find("zz").expect("present") as u32;
    let d = Diagnostic::error(
        codes::UNKNOWN_NAME,
        "unknown name `zz`",
        Span::new(at, at + 2),
        "not found",
    )
    .with_label(Span::new(0, 6), "in this kernel")
    .with_help("did you mean `z`?");
    (src, d)
}

#[test]
fn human_rendering_is_plain_and_complete() {
    let (src, d) = sample();
    let out = render_human("f.tsr", &src, &[d], false);
    assert!(!out.contains('\u{1b}'), "no ANSI escapes: {out}");
    assert!(out.contains("error[E0100]: unknown name `zz`"), "{out}");
    assert!(out.contains("f.tsr:2:13"), "{out}");
    assert!(out.contains("help: did you mean `z`?"), "{out}");
    let colored = render_human("f.tsr", &src, &[sample().1], true);
    assert!(colored.contains('\u{1b}'));
}

#[test]
fn json_lines_carry_positions_labels_and_help() {
    let (src, d) = sample();
    let out = render_json("f.tsr", &src, &[d.clone(), d]);
    assert_eq!(out.lines().count(), 2);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().expect("a line")).expect("json");
    assert_eq!(v["code"], "E0100");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["file"], "f.tsr");
    assert_eq!((v["line"].as_u64(), v["column"].as_u64()), (Some(2), Some(13)));
    assert_eq!(v["labels"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["labels"][1]["primary"], false);
    assert_eq!(v["help"], "did you mean `z`?");
}

#[test]
fn line_index_clamps_and_snaps_to_char_boundaries() {
    let idx = LineIndex::new("ab\né\n");
    assert_eq!(idx.line_col(0), (1, 1));
    assert_eq!(idx.line_col(3), (2, 1));
    assert_eq!(idx.line_col(4), (2, 1)); // inside `é`: snapped back
    assert_eq!(idx.line_col(999), (3, 1));
}

#[test]
fn out_of_range_spans_render_without_panicking() {
    let d = Diagnostic::error(codes::EMPTY_FILE, "x", Span::new(50, 70), "here");
    assert!(render_human("e.tsr", "", &[d], false).contains("E0002"));
}

#[test]
fn registry_lookup() {
    let c = lookup("E0131").expect("registered");
    assert!(c.long_text().contains("NVFP4"));
    assert!(lookup("E4242").is_none());
}

#[test]
fn spans_inside_a_character_render() {
    let src = "ab\u{fffd}cd\n"; // a lossily shown invalid byte: 3 bytes in the text, 1 in the file
    let d = Diagnostic::error(codes::NOT_UTF8, "x", Span::new(2, 3), "here");
    assert!(render_human("u.tsr", src, &[d], false).contains("u.tsr:1:3"));
}

#[test]
fn line_is_the_line_of_line_col() {
    let src = "ab\né\n\nxyz";
    let idx = LineIndex::new(src);
    for at in 0..=src.len() as u32 + 3 {
        assert_eq!(idx.line(at), idx.line_col(at).0, "at {at}");
    }
}

/// Rendering many diagnostics of one file uses one line index (`to_json_indexed`), with the same
/// output as indexing per diagnostic.
#[test]
fn json_lines_of_many_diagnostics_match_one_by_one() {
    let src = "let a = 1;\nlet b = 2;\nlet c = 3;\n".repeat(50);
    let diags: Vec<Diagnostic> = (0..300)
        .map(|i| Diagnostic::error(codes::UNKNOWN_NAME, "x", Span::new(i * 5, i * 5 + 1), "here"))
        .collect();
    let idx = LineIndex::new(&src);
    let one_by_one: String = diags
        .iter()
        .map(|d| {
            assert_eq!(
                tessera_diag::to_json_indexed("f.tsr", &idx, d),
                tessera_diag::to_json("f.tsr", &src, d)
            );
            format!("{}\n", tessera_diag::to_json("f.tsr", &src, d))
        })
        .collect();
    assert_eq!(tessera_diag::render_json("f.tsr", &src, &diags), one_by_one);
}
