//! Front-end checker: AST to typed tile IR with coded, spanned user diagnostics
