//! A small builder for MLIR text: fresh SSA names, indentation of nested regions, and constants
//! hoisted to the function entry (so every use is dominated, wherever in the body it appears).

use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Default)]
pub(crate) struct Body {
    lines: Vec<String>,
    depth: usize,
    next: u32,
    consts: BTreeMap<(String, String), String>,
    const_lines: Vec<String>,
}

impl Body {
    /// A fresh SSA name `%<hint><n>`.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("%{hint}{}", self.next)
    }

    /// Emit `%x = <rhs>` and return `%x`.
    pub fn op(&mut self, hint: &str, rhs: impl AsRef<str>) -> String {
        let v = self.fresh(hint);
        self.line(format!("{v} = {}", rhs.as_ref()));
        v
    }

    /// Emit a statement (an op with no results, or one whose results are named by the caller).
    pub fn line(&mut self, s: impl AsRef<str>) {
        let mut l = String::new();
        for _ in 0..self.depth + 2 {
            l.push_str("  ");
        }
        l.push_str(s.as_ref());
        self.lines.push(l);
    }

    /// Open a region: emit `header {` and indent.
    pub fn open(&mut self, header: impl AsRef<str>) {
        self.line(format!("{} {{", header.as_ref()));
        self.depth += 1;
    }

    /// Close a region with `}` plus an optional suffix (e.g. a type list).
    pub fn close(&mut self, suffix: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.line(format!("}}{suffix}"));
    }

    /// An `arith.constant` of `ty` hoisted to the entry block and shared by all users.
    pub fn cst(&mut self, value: impl ToString, ty: &str) -> String {
        let value = value.to_string();
        let key = (ty.to_string(), value.clone());
        if let Some(v) = self.consts.get(&key) {
            return v.clone();
        }
        self.next += 1;
        let name = format!("%c{}", self.next);
        self.const_lines
            .push(format!("    {name} = arith.constant {value} : {ty}"));
        self.consts.insert(key, name.clone());
        name
    }

    pub fn i32(&mut self, v: i64) -> String {
        self.cst(v, "i32")
    }

    pub fn i64(&mut self, v: i64) -> String {
        self.cst(v, "i64")
    }

    /// Render the function body: hoisted constants first, then the statements.
    pub fn finish(self, out: &mut String) {
        for l in self.const_lines.iter().chain(&self.lines) {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{l}");
        }
    }
}

/// The MLIR literal of an f32 constant as its exact bit pattern: hex literals parse for every value
/// (decimal spellings need a '.', and inf/NaN have none), so constants are never re-rounded.
pub(crate) fn f32_literal(v: f64) -> String {
    format!("0x{:08X}", (v as f32).to_bits())
}
