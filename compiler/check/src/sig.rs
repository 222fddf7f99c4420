//! The kernel signature apart from parameters: attributes (and `@reference` options), tile
//! parameters and the launch grid.

use crate::cx::{Cx, ParamRef, TileConst};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::reference::{self, OptionProblem, ParamClass};
use tessera_ir::{DimExpr, TileParam};
use tessera_syntax::{Attr, AttrArg, AttrValue, BinaryOp, Expr, ExprKind, TileDef};

/// `@reference(FAMILY, key = value, ...)` → `("reference", FAMILY)` and one `("reference.key",
/// value)` per option (`tessera_ir::reference`). The structure is checked here: the family first,
/// options after it, each key once. What the options mean is checked by [`reference_options`] once
/// the parameters are known.
pub fn attrs(cx: &mut Cx, attrs: &[Attr]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut first_reference: Option<Span> = None;
    for a in attrs {
        if a.name.name != reference::ATTR {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_ATTRIBUTE,
                format!("unknown attribute `@{}`", a.name.name),
                a.name.span,
                "unknown attribute",
            );
            let has_options = a.args.iter().any(|x| matches!(x, AttrArg::Option { .. }));
            d = d.with_help(match crate::names::suggest(&a.name.name, [reference::ATTR]) {
                Some(s) => format!("did you mean `@{s}`?"),
                None if has_options => {
                    "the only attribute is `@reference(FAMILY, key = value, ...)`: options belong to it"
                        .to_string()
                }
                None => "the only attribute is `@reference(NAME)`".to_string(),
            });
            cx.err(d);
            continue;
        }
        if let Some(prev) = first_reference {
            cx.err(
                Diagnostic::error(
                    codes::BAD_REFERENCE_OPTION,
                    "a kernel has one `@reference`",
                    a.span,
                    "second `@reference`",
                )
                .with_label(prev, "first given here")
                .with_help("give the family once and put its options in the same attribute"),
            );
            continue;
        }
        first_reference = Some(a.span);
        let family = match a.args.first() {
            Some(AttrArg::Name(f)) => f,
            Some(AttrArg::Option { span, .. }) => {
                cx.err(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        "`@reference` takes the family name first",
                        *span,
                        "an option where the family name belongs",
                    )
                    .with_help("e.g. `@reference(attention, causal = true)`"),
                );
                continue;
            }
            None => {
                cx.err(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        "`@reference` takes one name, found 0",
                        a.span,
                        "expected one argument",
                    )
                    .with_help("e.g. `@reference(gemm)`"),
                );
                continue;
            }
        };
        out.push((reference::ATTR.to_string(), family.name.clone()));
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for arg in &a.args[1..] {
            match arg {
                AttrArg::Name(n) => cx.err(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        format!(
                            "`@reference` takes one name, then options: `{}` is a second name",
                            n.name
                        ),
                        n.span,
                        "a positional argument after the family",
                    )
                    .with_help(format!(
                        "write options as `key = value`, e.g. `@reference({}, causal = true)`",
                        family.name
                    )),
                ),
                AttrArg::Option { key, value, span } => {
                    if let Some((_, prev)) = seen.iter().find(|(k, _)| *k == key.name) {
                        cx.err(
                            Diagnostic::error(
                                codes::BAD_REFERENCE_OPTION,
                                format!("option `{}` is given twice", key.name),
                                *span,
                                "second value",
                            )
                            .with_label(*prev, "first given here")
                            .with_help("give each option once"),
                        );
                        continue;
                    }
                    seen.push((&key.name, *span));
                    let text = match value {
                        AttrValue::Name(n) => n.name.clone(),
                        AttrValue::Bool(b, _) => b.to_string(),
                        AttrValue::Float(f, sp) => {
                            cx.err(
                                Diagnostic::error(
                                    codes::BAD_REFERENCE_OPTION,
                                    format!(
                                        "option `{}` cannot be the number {f}: option values are names, integers, `true` or `false`",
                                        key.name
                                    ),
                                    *sp,
                                    "a float literal",
                                )
                                .with_help("pass a value at run time through a scalar parameter, and name the parameter"),
                            );
                            continue;
                        }
                        AttrValue::Int(i) => match i.value.and_then(|v| i64::try_from(v).ok()) {
                            Some(v) => v.to_string(),
                            None => {
                                cx.err(Diagnostic::error(
                                    codes::INT_OVERFLOW,
                                    "option value does not fit in i64",
                                    i.span,
                                    "too large",
                                ));
                                continue;
                            }
                        },
                    };
                    out.push((format!("{}{}", reference::OPTION_PREFIX, key.name), text));
                }
            }
        }
    }
    out
}

/// The options of a known family checked against it and the parameters: a key the family has, a
/// value of the right kind (`tessera_ir::reference::check_option`). A family the checker does not
/// know is left to the oracle (`tessera validate` reports it, E0801).
pub fn reference_options(cx: &mut Cx, attrs: &[Attr]) {
    let Some(a) = attrs.iter().find(|a| a.name.name == reference::ATTR) else {
        return;
    };
    let Some(AttrArg::Name(f)) = a.args.first() else {
        return;
    };
    let Some(family) = reference::family(&f.name) else {
        return;
    };
    let params = cx.params.clone();
    let class = |n: &str| {
        params.get(n).map(|p| match p {
            ParamRef::Scalar { .. } => ParamClass::Scalar,
            ParamRef::Tensor(t) if t.is_out => ParamClass::OutTensor,
            ParamRef::Tensor(_) => ParamClass::InputTensor,
        })
    };
    let mut seen: Vec<&str> = Vec::new();
    for arg in &a.args[1..] {
        let AttrArg::Option { key, value, .. } = arg else {
            continue;
        };
        if seen.contains(&key.name.as_str()) {
            continue; // reported by `attrs`
        }
        seen.push(&key.name);
        let text = match value {
            AttrValue::Name(n) => n.name.clone(),
            AttrValue::Bool(b, _) => b.to_string(),
            AttrValue::Int(i) => match i.value {
                Some(v) => v.to_string(),
                None => continue, // E0007, reported by `attrs`
            },
            AttrValue::Float(..) => continue, // reported by `attrs`
        };
        let Err(problem) = reference::check_option(family, &key.name, &text, &class) else {
            continue;
        };
        let (span, label, help) = match &problem {
            OptionProblem::UnknownKey { .. } => {
                let help = match crate::names::suggest(&key.name, family.options.iter().map(|o| o.key)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if family.options.is_empty() => {
                        format!("`@reference({})` takes no options", family.name)
                    }
                    None => format!("`@reference({})` options: {}", family.name, family.keys()),
                };
                (key.span, "unknown option", help)
            }
            OptionProblem::BadValue { .. } => {
                let spec = family.option(&key.name).map(|o| o.doc).unwrap_or_default();
                (value.span(), "invalid value", format!("`{}`: {spec}", key.name))
            }
        };
        let mut d = Diagnostic::error(
            codes::BAD_REFERENCE_OPTION,
            problem.message(&key.name),
            span,
            label,
        )
        .with_help(help);
        if let AttrValue::Name(n) = value
            && let Some(ParamRef::Tensor(t)) = params.get(&n.name)
        {
            d = d.with_label(t.decl, "declared here");
        } else if let AttrValue::Name(n) = value
            && let Some(ParamRef::Scalar { decl, .. }) = params.get(&n.name)
        {
            d = d.with_label(*decl, "declared here");
        }
        cx.err(d);
    }
}

fn positive(cx: &mut Cx, v: Option<u64>, span: Span) -> Option<i64> {
    match v {
        Some(v) if v > 0 && v <= i64::MAX as u64 => Some(v as i64),
        Some(_) => {
            cx.err(Diagnostic::error(
                codes::BAD_TILE_PARAM,
                "tile parameters must be positive",
                span,
                "zero is not a tile size",
            ));
            None
        }
        None => {
            cx.err(Diagnostic::error(
                codes::INT_OVERFLOW,
                "tile parameter does not fit in i64",
                span,
                "too large",
            ));
            None
        }
    }
}

/// Tile parameters: positive defaults, default among the candidates when a list is given.
pub fn tiles(cx: &mut Cx, defs: &[TileDef]) -> Vec<TileParam> {
    let mut out: Vec<TileParam> = Vec::new();
    for t in defs {
        if let Some(prev) = cx.tiles.get(&t.name.name) {
            let prev = prev.span;
            cx.err(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("tile parameter `{}` is declared twice", t.name.name),
                    t.name.span,
                    "second declaration",
                )
                .with_label(prev, "first declared here"),
            );
            continue;
        }
        let Some(value) = positive(cx, t.value.value, t.value.span) else {
            continue;
        };
        let mut candidates = Vec::new();
        let mut ok = true;
        for c in t.candidates.iter().flatten() {
            match positive(cx, c.value, c.span) {
                Some(v) => candidates.push(v),
                None => ok = false,
            }
        }
        if ok && t.candidates.is_some() && !candidates.contains(&value) {
            let list = t
                .candidates
                .as_ref()
                .map(|c| c.iter().map(|i| i.span).fold(t.value.span, Span::to))
                .unwrap_or(t.span);
            cx.err(
                Diagnostic::error(
                    codes::BAD_TILE_PARAM,
                    format!(
                        "default {} of `{}` is not among its candidates",
                        value, t.name.name
                    ),
                    t.value.span,
                    "default value",
                )
                .with_label(list, "candidates listed here")
                .with_help(format!("add {value} to the candidate list")),
            );
        }
        cx.tiles.insert(
            t.name.name.clone(),
            TileConst {
                value,
                span: t.name.span,
            },
        );
        out.push(TileParam {
            name: t.name.name.clone(),
            value,
            candidates,
            span: crate::cx::sp(t.span),
        });
    }
    out
}

fn bad_grid(cx: &mut Cx, span: Span, msg: impl Into<String>, label: &str) {
    cx.err(
        Diagnostic::error(codes::BAD_GRID, msg, span, label)
            .with_help("grid dims are integer expressions over symbolic dims, tile parameters and literals with + - * / cdiv max min"),
    );
}

fn dim_expr(cx: &mut Cx, e: &Expr) -> Option<DimExpr> {
    let b = |x: DimExpr| Box::new(x);
    Some(match &e.kind {
        ExprKind::Int(Some(v)) if *v <= i64::MAX as u64 => DimExpr::Const(*v as i64),
        ExprKind::Int(_) => {
            cx.err(Diagnostic::error(
                codes::INT_OVERFLOW,
                "grid constant does not fit in i64",
                e.span,
                "too large",
            ));
            return None;
        }
        ExprKind::Name(n) => {
            if let Some(t) = cx.tiles.get(n) {
                DimExpr::Const(t.value)
            } else if cx.syms.contains_key(n) {
                DimExpr::Sym(n.clone())
            } else if cx.params.contains_key(n) {
                bad_grid(
                    cx,
                    e.span,
                    format!("`{n}` is a parameter; the grid can only use dims and tile parameters"),
                    "not a dim",
                );
                return None;
            } else {
                crate::names::unknown_name(cx, n, e.span);
                return None;
            }
        }
        ExprKind::Binary(op, x, y) => {
            let (x, y) = (dim_expr(cx, x)?, dim_expr(cx, y)?);
            match op {
                BinaryOp::Add => DimExpr::Add(b(x), b(y)),
                BinaryOp::Sub => DimExpr::Sub(b(x), b(y)),
                BinaryOp::Mul => DimExpr::Mul(b(x), b(y)),
                BinaryOp::Div => DimExpr::FloorDiv(b(x), b(y)),
                _ => {
                    bad_grid(
                        cx,
                        e.span,
                        format!("operator `{}` is not allowed in the grid", op.symbol()),
                        "not allowed",
                    );
                    return None;
                }
            }
        }
        ExprKind::Call {
            name,
            args,
            targs,
            shape,
        } if targs.is_empty() && shape.is_none() && matches!(name.name.as_str(), "cdiv" | "max" | "min") => {
            if args.len() != 2 || args.iter().any(|a| a.name.is_some()) {
                cx.err(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        format!("`{}` takes 2 arguments, found {}", name.name, args.len()),
                        e.span,
                        "wrong arguments",
                    )
                    .with_help(format!("e.g. `{}(M, BM)`", name.name)),
                );
                return None;
            }
            let (x, y) = (dim_expr(cx, &args[0].value)?, dim_expr(cx, &args[1].value)?);
            match name.name.as_str() {
                "cdiv" => DimExpr::CeilDiv(b(x), b(y)),
                "max" => DimExpr::Max(b(x), b(y)),
                _ => DimExpr::Min(b(x), b(y)),
            }
        }
        _ => {
            bad_grid(
                cx,
                e.span,
                "this expression is not allowed in the grid",
                "not a grid expression",
            );
            return None;
        }
    })
}

/// `grid(e0[, e1[, e2]])`; no clause means a single program.
pub fn grid(cx: &mut Cx, grid: Option<&(Vec<Expr>, Span)>) -> Vec<DimExpr> {
    let Some((exprs, span)) = grid else {
        return vec![DimExpr::Const(1)];
    };
    if exprs.is_empty() || exprs.len() > 3 {
        bad_grid(
            cx,
            *span,
            format!("the grid has 1 to 3 dims, found {}", exprs.len()),
            "invalid grid",
        );
        return Vec::new();
    }
    exprs.iter().filter_map(|e| dim_expr(cx, e)).collect()
}
