//! Name resolution in expressions (block scopes, then parameters, tile parameters and symbolic dims)
//! and "did you mean" suggestions for unknown names.

use crate::cx::{Binding, Cx, Ev, Lit, ParamRef, ViewRef};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{Bound, DType, OpKind, Type};

/// Levenshtein distance (names are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a small edit distance.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
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
    let mut d =
        Diagnostic::error(codes::UNKNOWN_NAME, format!("unknown name `{name}`"), span, "not found in this scope");
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
            Binding::Var { value: None, decl, .. } => {
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
