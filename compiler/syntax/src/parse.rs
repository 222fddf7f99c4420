//! Parsing entry points: bytes → text (E0001), lex (E0003), balance delimiters (E0005/E0006),
//! the nesting-depth limit (E0008), parse with recovery (E0004), and the empty-file check (E0002).

use crate::LexError;
use crate::ast::{Ast, Item};
use crate::lexer::{Tok, lex};
use lalrpop_util::ParseError;
use tessera_diag::{Diagnostic, Span, codes};

/// Parse raw file bytes. Non-UTF-8 input yields E0001 at the first bad byte and an empty AST.
pub fn parse_bytes(bytes: &[u8]) -> (Ast, Vec<Diagnostic>) {
    match std::str::from_utf8(bytes) {
        Ok(src) => parse(src),
        Err(e) => {
            let at = e.valid_up_to() as u32;
            let len = e.error_len().unwrap_or(1) as u32;
            let d = Diagnostic::error(
                codes::NOT_UTF8,
                format!("source is not valid UTF-8 (invalid byte at offset {at})"),
                Span::new(at, at + len),
                "invalid UTF-8 here",
            )
            .with_help("save the file as UTF-8");
            (Ast::default(), vec![d])
        }
    }
}

/// Parse source text. Never fails: returns the AST it could build plus every diagnostic.
pub fn parse(src: &str) -> (Ast, Vec<Diagnostic>) {
    let (toks, mut diags) = lex(src);
    if toks.is_empty() && diags.is_empty() {
        let d = Diagnostic::error(
            codes::EMPTY_FILE,
            "source file contains no kernel",
            Span::new(0, 0),
            "empty file",
        )
        .with_help("define a kernel, e.g. `kernel k(x: f32[N]) { }`");
        return (Ast::default(), vec![d]);
    }
    let (toks, delim_diags) = crate::delims::balance(toks, src);
    diags.extend(delim_diags);
    // A program nested past the limit is not parsed at all: its tree would overflow the stack of
    // whatever walks it (E0008).
    if let Some(d) = crate::depth::check(
        &toks,
        crate::depth::MAX_NESTING_DEPTH,
        crate::depth::MAX_BLOCK_DEPTH,
    ) {
        diags.push(d);
        return (Ast::default(), diags);
    }
    let mut errors = Vec::new();
    let result =
        crate::grammar::FileParser::new().parse(&mut errors, toks.into_iter().map(Ok::<_, LexError>));
    let mut parse_diags: Vec<Diagnostic> = Vec::new();
    for e in errors {
        parse_diags.push(parse_error(e.error, src.len()));
    }
    // A parse error on the line of an invalid character is almost always its consequence: keep
    // the E0003 (which says what to remove) and drop those. One line index for the whole file, and
    // a set of lines: a file with tens of thousands of errors stays linear.
    let lines = tessera_diag::LineIndex::new(src);
    let line_of = |at: u32| lines.line(at);
    let bad_lines: std::collections::HashSet<usize> = diags
        .iter()
        .filter(|d| d.code == codes::INVALID_TOKEN)
        .filter_map(|d| d.primary_span())
        .map(|s| line_of(s.lo))
        .collect();
    let keep = |d: &Diagnostic| {
        d.code != codes::UNEXPECTED_TOKEN
            || d.primary_span()
                .is_none_or(|s| !bad_lines.contains(&line_of(s.lo)))
    };
    let ast = match result {
        Ok(ast) => ast,
        Err(e) => {
            parse_diags.push(parse_error(e, src.len()));
            Ast::default()
        }
    };
    diags.extend(parse_diags.into_iter().filter(|d| keep(d)));
    if diags.is_empty() && !ast.items.iter().any(|i| matches!(i, Item::Kernel(_))) {
        let d = Diagnostic::error(
            codes::EMPTY_FILE,
            "source file contains no kernel",
            Span::new(0, src.len() as u32),
            "no `kernel` in this file",
        )
        .with_help("define a kernel, e.g. `kernel k(x: f32[N]) { }`");
        diags.push(d);
    }
    (ast, diags)
}

/// Turn lalrpop's expected-token names (`"\"(\""`, `IDENT`) into a readable list: "an expression"
/// when an operand may start here, closing punctuation first (usually the real fix), at most 6.
fn expected_list(expected: &[String]) -> String {
    let raw: Vec<&str> = expected.iter().map(|e| e.trim_matches('"')).collect();
    let mut names: Vec<String> = Vec::new();
    if raw.contains(&"IDENT") && raw.contains(&"INT") && raw.contains(&"(") {
        names.push("an expression".to_string());
    }
    let operand_start = [
        "IDENT", "INT", "FLOAT", "(", "-", "!", "inf", "true", "false", "zeros", "full", "cast", "dequant",
        "quantize",
    ];
    let first = [";", ")", "]", "}", ",", "{", "=", ".."];
    for f in first {
        if raw.contains(&f) {
            names.push(format!("`{f}`"));
        }
    }
    for r in &raw {
        if first.contains(r)
            || (!names.is_empty() && names[0] == "an expression" && operand_start.contains(r))
        {
            continue;
        }
        names.push(match *r {
            "IDENT" => "a name".to_string(),
            "INT" => "an integer".to_string(),
            "FLOAT" => "a float".to_string(),
            s => format!("`{s}`"),
        });
    }
    names.dedup();
    const MAX: usize = 6;
    if names.len() > MAX {
        names.truncate(MAX);
        names.push("...".to_string());
    }
    names.join(", ")
}

fn parse_error(e: ParseError<usize, Tok<'_>, LexError>, eof: usize) -> Diagnostic {
    match e {
        ParseError::UnrecognizedToken {
            token: (lo, tok, hi),
            expected,
        } => {
            if matches!(tok, Tok::Out) {
                // `out` marks output parameters; users reach for it as a name (`out: f32[N]`).
                return Diagnostic::error(
                    codes::UNEXPECTED_TOKEN,
                    "`out` is a keyword and cannot be used as a name",
                    Span::new(lo as u32, hi as u32),
                    "keyword `out` (it marks an output parameter: `y: out f32[N]`)",
                )
                .with_help("rename it, e.g. `y`, `o` or `out_`");
            }
            let mut d = Diagnostic::error(
                codes::UNEXPECTED_TOKEN,
                format!("unexpected `{tok}`"),
                Span::new(lo as u32, hi as u32),
                "unexpected here",
            );
            if !expected.is_empty() {
                d = d.with_help(format!("expected {}", expected_list(&expected)));
            }
            d
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let at = location.min(eof) as u32;
            let mut d = Diagnostic::error(
                codes::UNEXPECTED_TOKEN,
                "unexpected end of file",
                Span::new(at, at),
                "file ends here",
            );
            if !expected.is_empty() {
                d = d.with_help(format!("expected {}", expected_list(&expected)));
            }
            d
        }
        ParseError::ExtraToken { token: (lo, tok, hi) } => Diagnostic::error(
            codes::UNEXPECTED_TOKEN,
            format!("unexpected `{tok}`"),
            Span::new(lo as u32, hi as u32),
            "extra token",
        ),
        ParseError::InvalidToken { location } => Diagnostic::error(
            codes::INVALID_TOKEN,
            "invalid token",
            Span::new(location as u32, location as u32 + 1),
            "not a Tessera token",
        ),
        ParseError::User { error } => match error {},
    }
}
