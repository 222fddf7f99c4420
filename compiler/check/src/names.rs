//! Name resolution in expressions (block scopes, then parameters, tile parameters and symbolic dims)
//! and "did you mean" suggestions for unknown names.

use crate::cx::{Binding, Cx, Ev, Lit, ParamRef, ViewRef};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{Bound, DType, OpKind, Type};

/// Edit distance with adjacent transpositions (optimal string alignment): `alpah` → `alpha` is 1.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate within a small edit distance.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    // One edit per three characters; very short names get no guess (every 1-letter name is one
    // edit from every other).
    let limit = name.chars().count() / 3;
    if limit == 0 {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

pub fn unknown_name(cx: &mut Cx, name: &str, span: Span) {
    let visible = cx.visible_names();
    let mut d = Diagnostic::error(
        codes::UNKNOWN_NAME,
        format!("unknown name `{name}`"),
        span,
        "not found in this scope",
    );
    if let Some(s) = suggest(name, visible.iter().map(String::as_str)) {
        d = d.with_help(format!("did you mean `{s}`?"));
    }
    cx.err(d);
}

/// Resolve a name used as a value.
pub fn resolve(cx: &mut Cx, name: &str, span: Span) -> Ev {
    if let Some(b) = cx.binding(name).cloned() {
        return match b {
            Binding::Let { ev, .. } => ev,
            Binding::Var { value: Some(v), .. } => Ev::Val(v),
            Binding::Var {
                value: None, decl, ..
            } => {
                cx.err(
                    Diagnostic::error(
                        codes::VAR_UNASSIGNED,
                        format!("`{name}` is used before it is assigned"),
                        span,
                        "read here",
                    )
                    .with_label(decl, "declared here without a value")
                    .with_help(format!("assign `{name}` on every path before this use (e.g. an `else` branch), or give it an initial value: `var {name} = ...;`")),
                );
                Ev::Err
            }
        };
    }
    if let Some(p) = cx.params.get(name).cloned() {
        return match p {
            ParamRef::Scalar { value, .. } => Ev::Val(value),
            ParamRef::Tensor(t) => {
                let bounds = vec![Bound::default(); t.ty.dims.len()];
                Ev::Tensor(ViewRef { t, bounds })
            }
        };
    }
    if let Some(t) = cx.tiles.get(name) {
        return Ev::Lit(Lit::Int(t.value));
    }
    if let Some(s) = cx.syms.get(name).copied() {
        let v = cx.emit1(OpKind::SymDim { sym: s }, Type::Scalar(DType::I32), span);
        return Ev::Val(v);
    }
    unknown_name(cx, name, span);
    Ev::Err
}
