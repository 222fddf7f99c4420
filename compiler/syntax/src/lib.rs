//! Lexer (logos), grammar (lalrpop) and AST of the .tsr language; parsing never fails
