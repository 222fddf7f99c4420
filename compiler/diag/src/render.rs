//! Human-readable rendering through codespan-reporting (colored only when asked, e.g. on a tty).

use crate::{Diagnostic, Severity};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use codespan_reporting::term::termcolor::{Buffer, WriteColor};

fn to_codespan(d: &Diagnostic, src: &str) -> cs::Diagnostic<()> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    // Clamp spans into the text and snap them to char boundaries, so a label at end-of-file or on
    // a byte that was not UTF-8 (shown lossily) renders instead of failing.
    let clamp = |x: u32, up: bool| {
        let mut i = (x as usize).min(src.len());
        while !src.is_char_boundary(i) {
            if up { i += 1 } else { i -= 1 }
        }
        i
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let style = if l.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            let lo = clamp(l.span.lo, false);
            cs::Label::new(style, (), lo..clamp(l.span.hi, true).max(lo)).with_message(l.message.clone())
        })
        .collect();
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// Render `diags` for a person. `color` selects ANSI colors (the CLI passes "stdout is a tty").
pub fn render_human(file_name: &str, src: &str, diags: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, src);
    let config = term::Config::default();
    let mut buf = if color { Buffer::ansi() } else { Buffer::no_color() };
    for d in diags {
        let cd = to_codespan(d, src);
        if term::emit_to_write_style(&mut buf, &config, &file, &cd).is_err() {
            // Rendering only fails on spans outside the file, which `to_codespan` clamps away; keep
            // the information anyway.
            let _ = buf.reset();
            buf.clear();
            return diags
                .iter()
                .map(|d| format!("{}[{}]: {}\n", d.severity.name(), d.code, d.message))
                .collect();
        }
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}
