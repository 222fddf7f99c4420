//! Tokens of the .tsr language (logos). Lexing never fails: invalid characters become E0003
//! diagnostics and are dropped, so the parser sees a clean token stream.

use logos::Logos;
use std::fmt;
use tessera_diag::{Diagnostic, Span, codes};

#[derive(Logos, Clone, Copy, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Tok<'a> {
    #[token("kernel")]
    Kernel,
    #[token("out")]
    Out,
    #[token("tiles")]
    Tiles,
    #[token("grid")]
    Grid,
    #[token("in")]
    In,
    #[token("let")]
    Let,
    #[token("var")]
    Var,
    #[token("for")]
    For,
    #[token("step")]
    Step,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("None")]
    NoneKw,
    #[token("inf")]
    Inf,
    #[token("true")]
    True,
    #[token("false")]
    False,
    // Builtins that take type arguments are keywords so `cast<T>(x)` never reads as a comparison.
    #[token("zeros")]
    Zeros,
    #[token("full")]
    Full,
    #[token("cast")]
    Cast,
    #[token("dequant")]
    Dequant,
    #[token("quantize")]
    Quantize,
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice())]
    Ident(&'a str),
    #[regex(r"[0-9]+", |lex| lex.slice())]
    Int(&'a str),
    #[regex(r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+", |lex| lex.slice())]
    Float(&'a str),
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("..")]
    DotDot,
    #[token("@")]
    At,
    #[token("=")]
    Assign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Ident(s) | Tok::Int(s) | Tok::Float(s) => s,
            Tok::Kernel => "kernel",
            Tok::Out => "out",
            Tok::Tiles => "tiles",
            Tok::Grid => "grid",
            Tok::In => "in",
            Tok::Let => "let",
            Tok::Var => "var",
            Tok::For => "for",
            Tok::Step => "step",
            Tok::If => "if",
            Tok::Else => "else",
            Tok::NoneKw => "None",
            Tok::Inf => "inf",
            Tok::True => "true",
            Tok::False => "false",
            Tok::Zeros => "zeros",
            Tok::Full => "full",
            Tok::Cast => "cast",
            Tok::Dequant => "dequant",
            Tok::Quantize => "quantize",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::DotDot => "..",
            Tok::At => "@",
            Tok::Assign => "=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
        };
        f.write_str(s)
    }
}

/// A token with its byte range.
pub type Spanned<'a> = (usize, Tok<'a>, usize);

/// Lex `src` into tokens; characters that start no token are reported (one diagnostic per run of
/// consecutive bad characters) and skipped.
pub fn lex(src: &str) -> (Vec<Spanned<'_>>, Vec<Diagnostic>) {
    let mut toks = Vec::new();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut lexer = Tok::lexer(src);
    let mut last_bad: Option<usize> = None;
    while let Some(res) = lexer.next() {
        let r = lexer.span();
        match res {
            Ok(t) => {
                toks.push((r.start, t, r.end));
                last_bad = None;
            }
            Err(()) => {
                // Merge adjacent bad characters into one diagnostic.
                if let (Some(end), Some(d)) = (last_bad, diags.last_mut())
                    && end == r.start
                {
                    d.labels[0].span.hi = r.end as u32;
                    let text = &src[d.labels[0].span.lo as usize..r.end];
                    d.message = format!("invalid characters `{}`", text.escape_debug());
                } else {
                    let text = &src[r.clone()];
                    diags.push(
                        Diagnostic::error(
                            codes::INVALID_TOKEN,
                            format!("invalid character `{}`", text.escape_debug()),
                            Span::new(r.start as u32, r.end as u32),
                            "not a Tessera token",
                        )
                        .with_help("remove it; operators are + - * / % < <= > >= == != && || ! and `..`"),
                    );
                }
                last_bad = Some(r.end);
            }
        }
    }
    (toks, diags)
}
