//! Lexer (logos), grammar (lalrpop) and AST of the .tsr language; parsing never fails.
//!
//! [`parse_bytes`] is the entry point of the CLI (files are bytes: non-UTF-8 input gets E0001), and
//! [`parse`] the one for text. Both return the AST they could build plus diagnostics.

pub mod ast;
mod delims;
mod depth;
pub mod lexer;
mod parse;

pub use ast::*;
pub use depth::{MAX_BLOCK_DEPTH, MAX_NESTING_DEPTH};
pub use parse::{parse, parse_bytes};

/// The parser's error type for lexer failures. Lexing never fails at parse time (bad characters are
/// reported and dropped before), so no value of it is ever built; it exists because the generated
/// parser names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexError {}

#[allow(clippy::all, unused_parens, dead_code, missing_debug_implementations)]
mod grammar {
    //! The lalrpop-generated parser.
    include!(concat!(env!("OUT_DIR"), "/grammar.rs"));
}
