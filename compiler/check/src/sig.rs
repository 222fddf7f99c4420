//! The kernel signature apart from parameters: attributes, tile parameters and the launch grid.

use crate::cx::{Cx, TileConst};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{DimExpr, TileParam};
use tessera_syntax::{Attr, BinaryOp, Expr, ExprKind, TileDef};

/// `@reference(NAME)` → ("reference", NAME).
pub fn attrs(cx: &mut Cx, attrs: &[Attr]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in attrs {
        if a.name.name != "reference" {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_ATTRIBUTE,
                format!("unknown attribute `@{}`", a.name.name),
                a.name.span,
                "unknown attribute",
            );
            d = d.with_help(match crate::names::suggest(&a.name.name, ["reference"]) {
                Some(s) => format!("did you mean `@{s}`?"),
                None => "the only attribute is `@reference(NAME)`".to_string(),
            });
            cx.err(d);
            continue;
        }
        if a.args.len() != 1 {
            cx.err(
                Diagnostic::error(
                    codes::WRONG_ARITY,
                    format!("`@reference` takes one name, found {}", a.args.len()),
                    a.span,
                    "expected one argument",
                )
                .with_help("e.g. `@reference(gemm)`"),
            );
            continue;
        }
        out.push(("reference".to_string(), a.args[0].name.clone()));
    }
    out
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
