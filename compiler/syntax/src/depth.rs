//! The nesting-depth limit (E0008), measured on the token stream before parsing, so that no deep
//! tree is ever built: the checker, the AST's drop and every later walker recurse over the tree,
//! and a program nested thousands deep would overflow their stack.
//!
//! The depth at a token is the sum, over the enclosing `(`, `[` and `{` (and the file level), of
//! one plus the number of operators (`+ - * / % == != < <= > >= && || !`), indexings `[..]` and
//! `if`s seen so far in the same expression or statement there (a `,` or `;` ends one). So
//! `f(g(x))` is 3 deep, `a + b + c` is 3 deep (a left-leaning chain of two `+`), `- - x` is 3 deep,
//! a nested `if c { .. }` adds two (the `if` and its block) and each `else if` of a chain adds one.
//! It bounds the depth of the syntax tree the parser builds. Blocks have their own, lower limit
//! ([`MAX_BLOCK_DEPTH`]), since every block becomes a nested region of the tile IR.

use crate::lexer::{Spanned, Tok};
use tessera_diag::{Diagnostic, Span, codes};

/// The deepest nesting a program may have (docs/LANGUAGE.md, "Limits").
pub const MAX_NESTING_DEPTH: usize = 256;

/// The deepest nesting of blocks (`{ }` of `for`, `if`, `else`, plus one per `else if` of a chain,
/// which nests an `if` in the `else` block): every region becomes a nested region of the tile IR,
/// which the verifier, the passes, the interpreter and lowering walk recursively.
pub const MAX_BLOCK_DEPTH: usize = 64;

/// One enclosing delimiter (the file level first).
struct Frame {
    /// Operators seen in its current segment (reset by `,` and `;`).
    ops: usize,
    /// `else if`s seen in its current segment.
    elifs: usize,
    brace: bool,
}

fn too_deep(what: &str, limit: usize, depth: usize, lo: usize, tok: Tok<'_>, hi: usize) -> Diagnostic {
    let note = if what == "blocks" {
        "each enclosing `{` counts one level, and so does each `else if` of an enclosing chain"
    } else {
        "each enclosing `(`, `[` or `{` counts one level, and so does each operator, unary `-`/`!`, \
         indexing and `if` before it in the same expression of each enclosing level (`a + b + c` is \
         3 deep)"
    };
    Diagnostic::error(
        codes::TOO_DEEP,
        format!("the program nests {what} more than {limit} deep here"),
        Span::new(lo as u32, hi as u32),
        format!("{what} nesting depth {depth} at this `{tok}`"),
    )
    .with_note(note)
    .with_help("split the expression with `let` bindings, or flatten the nested blocks")
}

/// End the current expression or statement of the innermost frame.
fn end_segment(frames: &mut [Frame], depth: &mut usize, blocks: &mut usize) {
    if let Some(f) = frames.last_mut() {
        *depth -= f.ops;
        f.ops = 0;
        if f.brace {
            *blocks -= f.elifs;
        }
        f.elifs = 0;
    }
}

/// The first token at which the nesting depth of `toks` (balanced by `delims::balance`) exceeds
/// `limit`, or the block depth exceeds `block_limit`, as an E0008 diagnostic; `None` when the
/// program is within both.
pub fn check(toks: &[Spanned<'_>], limit: usize, block_limit: usize) -> Option<Diagnostic> {
    let mut frames = vec![Frame {
        ops: 0,
        elifs: 0,
        brace: false,
    }];
    // Sum over `frames` of (1 + ops), and over the braces of (1 + elifs), kept incrementally so
    // each token costs O(1).
    let mut depth: usize = 1;
    let mut blocks: usize = 0;
    let mut prev: Option<Tok<'_>> = None;
    for (i, &(lo, tok, hi)) in toks.iter().enumerate() {
        let top = frames.len() - 1;
        match tok {
            Tok::LParen | Tok::LBrace => {
                let brace = tok == Tok::LBrace;
                frames.push(Frame {
                    ops: 0,
                    elifs: 0,
                    brace,
                });
                depth += 1;
                blocks += usize::from(brace);
            }
            // An index is also a postfix operator of its level (`x[i][j]` chains).
            Tok::LBracket => {
                frames[top].ops += 1;
                frames.push(Frame {
                    ops: 0,
                    elifs: 0,
                    brace: false,
                });
                depth += 2;
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace if frames.len() > 1 => {
                let f = &frames[top];
                depth -= 1 + f.ops;
                let brace = f.brace;
                if brace {
                    blocks -= 1 + f.elifs;
                }
                frames.pop();
                // A block not followed by `else` ends its statement (`if`/`for` take no `;`).
                if brace && !matches!(toks.get(i + 1), Some((_, Tok::Else, _))) {
                    end_segment(&mut frames, &mut depth, &mut blocks);
                }
            }
            Tok::Comma | Tok::Semi => end_segment(&mut frames, &mut depth, &mut blocks),
            Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::EqEq
            | Tok::Ne
            | Tok::Lt
            | Tok::Le
            | Tok::Gt
            | Tok::Ge
            | Tok::AndAnd
            | Tok::OrOr
            | Tok::Bang
            | Tok::If => {
                frames[top].ops += 1;
                depth += 1;
                if tok == Tok::If && prev == Some(Tok::Else) {
                    frames[top].elifs += 1;
                    if frames[top].brace {
                        blocks += 1;
                    }
                }
            }
            _ => {}
        }
        prev = Some(tok);
        if depth > limit {
            return Some(too_deep("expressions", limit, depth, lo, tok, hi));
        }
        if blocks > block_limit {
            return Some(too_deep("blocks", block_limit, blocks, lo, tok, hi));
        }
    }
    None
}
