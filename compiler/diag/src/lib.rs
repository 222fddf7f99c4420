//! Diagnostics: codes, severities, labels; rendering through codespan-reporting and JSON for agents.
//!
//! - [`Diagnostic`], [`Label`], [`Severity`], [`Span`]: what the front end reports.
//! - [`codes`]: the registry of every stable code with a title and a long explanation
//!   (`tessera explain E0001`).
//! - [`render_human`] / [`render_json`]: the two output forms of `tessera check`.

pub mod codes;
mod diagnostic;
mod json;
mod lines;
mod render;

pub use codes::{CodeInfo, lookup};
pub use diagnostic::{Diagnostic, Label, Severity, Span};
pub use json::{render_json, to_json, to_json_indexed};
pub use lines::LineIndex;
pub use render::render_human;
