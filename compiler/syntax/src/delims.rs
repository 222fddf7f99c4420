//! Delimiter balancing before parsing: unclosed `{ ( [` get E0005 (pointing at the opener) and a
//! synthetic closer; unmatched closers get E0006 and are dropped. The parser then always sees balanced
//! delimiters, which keeps its statement-level error recovery local.

use crate::lexer::{Spanned, Tok};
use tessera_diag::{Diagnostic, Span, codes};

fn closer_of(t: Tok<'_>) -> Option<Tok<'static>> {
    match t {
        Tok::LParen => Some(Tok::RParen),
        Tok::LBracket => Some(Tok::RBracket),
        Tok::LBrace => Some(Tok::RBrace),
        _ => None,
    }
}

fn is_closer(t: Tok<'_>) -> bool {
    matches!(t, Tok::RParen | Tok::RBracket | Tok::RBrace)
}

fn unclosed(open: &Spanned<'_>, at: usize, why: &str) -> Diagnostic {
    let closer = closer_of(open.1).map(|c| c.to_string()).unwrap_or_default();
    Diagnostic::error(
        codes::UNCLOSED_DELIMITER,
        format!("unclosed `{}`", open.1),
        Span::new(open.0 as u32, open.2 as u32),
        format!("this `{}` is never closed", open.1),
    )
    .with_label(Span::new(at as u32, at as u32), why.to_string())
    .with_help(format!("add the matching `{closer}`"))
}

/// Indentation (in characters) of the line holding byte `at`, and whether `at` is the first
/// non-blank character of that line.
fn indent_at(src: &str, at: usize) -> (usize, bool) {
    let at = at.min(src.len());
    let start = src[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = &src[start..];
    let indent = line.chars().take_while(|c| *c == ' ' || *c == '\t').count();
    (indent, src[start..at].chars().all(|c| c == ' ' || c == '\t'))
}

/// Balance `toks` (see module doc) of source `src`.
pub fn balance<'a>(toks: Vec<Spanned<'a>>, src: &str) -> (Vec<Spanned<'a>>, Vec<Diagnostic>) {
    let eof = src.len();
    // The last closer whose indentation differs from its opener's line: when something is left
    // unclosed at the end, that opener is the likely culprit (its closer was taken by an outer one).
    let mut suspicious: Option<(Spanned<'a>, Spanned<'a>)> = None;
    let mut out = Vec::with_capacity(toks.len());
    let mut diags = Vec::new();
    let mut stack: Vec<Spanned<'a>> = Vec::new();
    for t in toks {
        if closer_of(t.1).is_some() {
            stack.push(t);
            out.push(t);
        } else if is_closer(t.1) {
            match stack.iter().rposition(|o| closer_of(o.1) == Some(t.1)) {
                Some(pos) => {
                    // Everything opened above the match is unclosed: close it here.
                    while stack.len() > pos + 1 {
                        let Some(open) = stack.pop() else { break };
                        diags.push(unclosed(&open, t.0, &format!("`{}` found here first", t.1)));
                        if let Some(c) = closer_of(open.1) {
                            out.push((t.0, c, t.0));
                        }
                    }
                    if let Some(open) = stack.pop() {
                        let (oi, _) = indent_at(src, open.0);
                        let (ci, first) = indent_at(src, t.0);
                        if first && oi != ci {
                            suspicious = Some((open, t));
                        }
                    }
                    out.push(t);
                }
                None => diags.push(
                    Diagnostic::error(
                        codes::UNMATCHED_CLOSER,
                        format!("unmatched `{}`", t.1),
                        Span::new(t.0 as u32, t.2 as u32),
                        "no opening delimiter for this",
                    )
                    .with_help("remove it, or add the missing opener before it"),
                ),
            }
        } else {
            out.push(t);
        }
    }
    while let Some(open) = stack.pop() {
        let mut d = unclosed(&open, eof, "the file ends here");
        if let Some((o, c)) = suspicious.take() {
            d = d
                .with_label(
                    Span::new(o.0 as u32, o.2 as u32),
                    format!("perhaps this `{}` is the one left open", o.1),
                )
                .with_label(
                    Span::new(c.0 as u32, c.2 as u32),
                    "its indentation suggests this closes an outer block",
                );
        }
        diags.push(d);
        if let Some(c) = closer_of(open.1) {
            out.push((eof, c, eof));
        }
    }
    (out, diags)
}
