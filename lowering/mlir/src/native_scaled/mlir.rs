//! A minimal LLVM-dialect MLIR text builder: fresh SSA names, i32 constants and [`Ix`] emission.
//! Generators write the surrounding structure (functions, blocks, target ops) as text lines; this
//! keeps the integer plumbing (where lane maps become address arithmetic) in one checked place.

use super::Ix;
use std::fmt::Write;

#[derive(Debug, Default)]
pub struct MlirText {
    text: String,
    next: usize,
    prefix: String,
}

impl MlirText {
    pub fn new() -> MlirText {
        MlirText::default()
    }

    /// A builder whose SSA names all start with `prefix`, for generators that splice several
    /// builders' text into one function (names stay unique).
    pub fn with_prefix(prefix: &str) -> MlirText {
        MlirText {
            prefix: prefix.to_string(),
            ..MlirText::default()
        }
    }

    /// A fresh SSA name with a readable hint (`%a_word3_12`).
    pub fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("%{}{hint}_{}", self.prefix, self.next)
    }

    /// Append one line of MLIR (indentation is the caller's).
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
        self.text.push('\n');
    }

    /// `llvm.mlir.constant` of type `ty` (i1/i8/i16/i32/i64), returning its SSA name.
    pub fn const_int(&mut self, v: i64, ty: &str) -> String {
        let n = self.fresh("c");
        let _ = writeln!(self.text, "    {n} = llvm.mlir.constant({v} : {ty}) : {ty}");
        n
    }

    pub fn i32(&mut self, v: i64) -> String {
        self.const_int(v, "i32")
    }

    /// Emit `ix` as i32 arithmetic. `lane` is the SSA name of the lane id; `var` maps variable
    /// names to SSA i32 values. Errors name the unbound variable.
    pub fn emit_ix(
        &mut self,
        ix: &Ix,
        lane: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        Ok(match ix {
            Ix::Lane => lane.to_string(),
            Ix::Var(v) => var(v).ok_or_else(|| format!("lane map uses unbound kernel variable `{v}`"))?,
            Ix::Const(c) => self.i32(*c),
            Ix::Add(a, b) => self.bin("add", a, b, lane, var)?,
            Ix::Mul(a, b) => self.bin("mul", a, b, lane, var)?,
            Ix::Div(a, d) => self.bin_const("udiv", a, *d, lane, var)?,
            Ix::Rem(a, d) => self.bin_const("urem", a, *d, lane, var)?,
            Ix::Xor(a, m) => self.bin_const("xor", a, *m, lane, var)?,
        })
    }

    fn bin(
        &mut self,
        op: &str,
        a: &Ix,
        b: &Ix,
        lane: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        let x = self.emit_ix(a, lane, var)?;
        let y = self.emit_ix(b, lane, var)?;
        Ok(self.op2(op, &x, &y))
    }

    fn bin_const(
        &mut self,
        op: &str,
        a: &Ix,
        c: i64,
        lane: &str,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        if matches!(op, "udiv" | "urem") && c <= 0 {
            return Err(format!("lane map divides by {c}"));
        }
        let x = self.emit_ix(a, lane, var)?;
        let y = self.i32(c);
        Ok(self.op2(op, &x, &y))
    }

    /// `%r = llvm.<op> %x, %y : i32`.
    pub fn op2(&mut self, op: &str, x: &str, y: &str) -> String {
        let r = self.fresh(op);
        let _ = writeln!(self.text, "    {r} = llvm.{op} {x}, {y} : i32");
        r
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Rem;

    #[test]
    fn emits_each_node_once_in_order() {
        let mut m = MlirText::new();
        let e = Ix::lane().rem(16) * 4 + Ix::var("base");
        let r = m
            .emit_ix(&e, "%lane", &|v| (v == "base").then(|| "%base".to_string()))
            .unwrap();
        let t = m.finish();
        assert!(t.contains("llvm.urem %lane"), "{t}");
        assert!(t.contains(&format!("{r} = llvm.add")), "{t}");
        assert!(t.contains(", %base : i32"), "{t}");
        let mut m = MlirText::new();
        assert!(
            m.emit_ix(&Ix::var("nope"), "%l", &|_| None)
                .unwrap_err()
                .contains("nope")
        );
    }
}
