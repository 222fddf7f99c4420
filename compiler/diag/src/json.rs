//! JSON output for agents: one object per diagnostic, one per line.

use crate::{Diagnostic, LineIndex};
use serde_json::{Value, json};

/// The JSON object of one diagnostic: code, severity, message, file, line, column (1-based, of the
/// primary span), span {lo, hi} in bytes, labels [{message, line, column, span, primary}], help, notes.
pub fn to_json(file_name: &str, src: &str, d: &Diagnostic) -> Value {
    let idx = LineIndex::new(src);
    let primary = d.primary_span().unwrap_or_default();
    let (line, column) = idx.line_col(primary.lo);
    let labels: Vec<Value> = d
        .labels
        .iter()
        .map(|l| {
            let (line, column) = idx.line_col(l.span.lo);
            json!({
                "message": l.message,
                "line": line,
                "column": column,
                "span": {"lo": l.span.lo, "hi": l.span.hi},
                "primary": l.primary,
            })
        })
        .collect();
    json!({
        "code": d.code,
        "severity": d.severity.name(),
        "message": d.message,
        "file": file_name,
        "line": line,
        "column": column,
        "span": {"lo": primary.lo, "hi": primary.hi},
        "labels": labels,
        "help": d.help,
        "notes": d.notes,
    })
}

/// All diagnostics as JSON lines (each ends with a newline).
pub fn render_json(file_name: &str, src: &str, diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("{}\n", to_json(file_name, src, d)))
        .collect()
}
