//! Front-end checker: AST to typed tile IR with coded, spanned user diagnostics.
//!
//! [`check_source`] is the one entry point every subcommand uses: file bytes in, the tile-IR
//! [`Module`] (only when there is no error) and every diagnostic out. The checker establishes the IR
//! rules (see `tessera_ir::ops`): elementwise operands of identical type (it inserts `Broadcast`),
//! loop-carried `var`s as `For` inits / body args / `Yield` / results, `if` merges as `If` results,
//! tile parameters folded to constants, a span on every op.

mod builtins;
mod consts;
mod cx;
mod expr;
mod kernel;
mod names;
mod shapes;
mod sig;
mod stmt;
mod types;
mod view;

use tessera_diag::Diagnostic;
use tessera_ir::Module;
use tessera_syntax::{Ast, Item};

pub use tessera_diag as diag;

/// Parse and check one source file given as bytes (what the CLI reads). Returns the module when no
/// error was found, and all diagnostics (errors and warnings) in source order of discovery.
pub fn check_source(name: &str, bytes: &[u8]) -> (Option<Module>, Vec<Diagnostic>) {
    let (ast, mut diags) = tessera_syntax::parse_bytes(bytes);
    if diags.iter().any(Diagnostic::is_error) {
        // Checking a partially parsed file would mostly report consequences of the parse errors.
        return (None, diags);
    }
    let (module, check_diags) = check_ast(name, &ast);
    diags.extend(check_diags);
    if diags.iter().any(Diagnostic::is_error) {
        (None, diags)
    } else {
        (Some(module), diags)
    }
}

/// Check a parsed AST. The module is complete only when no error diagnostic is returned.
pub fn check_ast(name: &str, ast: &Ast) -> (Module, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut module = Module {
        source_name: name.to_string(),
        kernels: Vec::new(),
    };
    let mut seen: Vec<&tessera_syntax::Ident> = Vec::new();
    for item in &ast.items {
        let Item::Kernel(k) = item else { continue };
        if let Some(prev) = seen.iter().find(|p| p.name == k.name.name) {
            diags.push(
                Diagnostic::error(
                    tessera_diag::codes::DUPLICATE_NAME,
                    format!("kernel `{}` is defined twice", k.name.name),
                    k.name.span,
                    "second definition",
                )
                .with_label(prev.span, "first defined here")
                .with_help("rename one of the kernels"),
            );
        }
        seen.push(&k.name);
        let (kernel, kd) = kernel::check_kernel(k);
        diags.extend(kd);
        module.kernels.push(kernel);
    }
    (module, diags)
}

/// Render diagnostics of a file for people (`json = false`; `color` for a tty) or agents (JSON
/// lines). `bytes` is the file as read; non-UTF-8 input is shown lossily.
pub fn render_diagnostics(name: &str, bytes: &[u8], diags: &[Diagnostic], json: bool, color: bool) -> String {
    let src = String::from_utf8_lossy(bytes);
    if json {
        tessera_diag::render_json(name, &src, diags)
    } else {
        tessera_diag::render_human(name, &src, diags, color)
    }
}
