//! Compile-time integer evaluation: tile extents, shapes, axes. Operands are integer literals, tile
//! parameters and `let` names bound to such constants; overflow is E0007.

use crate::cx::{Binding, Cx, Ev, Lit};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_syntax::{BinaryOp, Expr, ExprKind, UnaryOp};

fn not_constant(cx: &mut Cx, span: Span, what: &str) {
    cx.err(
        Diagnostic::error(
            codes::NOT_CONSTANT,
            format!("{what} must be a compile-time constant"),
            span,
            "not known at compile time",
        )
        .with_help("use an integer literal or a tile parameter (declared in `tiles(...)`), e.g. `+BM`"),
    );
}

fn overflow(cx: &mut Cx, span: Span) {
    cx.err(
        Diagnostic::error(
            codes::INT_OVERFLOW,
            "integer constant overflows",
            span,
            "this constant does not fit in 64 bits",
        )
        .with_help("use smaller values"),
    );
}

/// Evaluate `e` as a compile-time i64; reports and returns None when it is not one.
pub fn const_int(cx: &mut Cx, e: &Expr, what: &str) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(Some(v)) => match i64::try_from(*v) {
            Ok(v) => Some(v),
            Err(_) => {
                overflow(cx, e.span);
                None
            }
        },
        ExprKind::Int(None) => {
            overflow(cx, e.span);
            None
        }
        ExprKind::Name(n) => {
            if let Some(b) = cx.binding(n) {
                if let Binding::Let {
                    ev: Ev::Lit(Lit::Int(v)),
                    ..
                } = b
                {
                    return Some(*v);
                }
                not_constant(cx, e.span, what);
                return None;
            }
            if let Some(t) = cx.tiles.get(n) {
                return Some(t.value);
            }
            if cx.params.contains_key(n) || cx.syms.contains_key(n) {
                not_constant(cx, e.span, what);
                return None;
            }
            crate::names::unknown_name(cx, n, e.span);
            None
        }
        ExprKind::Unary(UnaryOp::Neg, x) => {
            let v = const_int(cx, x, what)?;
            v.checked_neg().or_else(|| {
                overflow(cx, e.span);
                None
            })
        }
        ExprKind::Binary(op, a, b) => {
            let a = const_int(cx, a, what)?;
            let b = const_int(cx, b, what)?;
            let r = match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                BinaryOp::Div | BinaryOp::Rem if b == 0 => {
                    cx.err(Diagnostic::error(
                        codes::NOT_CONSTANT,
                        "division by zero in a constant",
                        e.span,
                        "divides by zero",
                    ));
                    return None;
                }
                BinaryOp::Div => a.checked_div(b),
                BinaryOp::Rem => a.checked_rem(b),
                _ => {
                    not_constant(cx, e.span, what);
                    return None;
                }
            };
            r.or_else(|| {
                overflow(cx, e.span);
                None
            })
        }
        _ => {
            not_constant(cx, e.span, what);
            None
        }
    }
}

/// A positive compile-time extent that fits a tile dimension.
pub fn const_extent(cx: &mut Cx, e: &Expr, what: &str) -> Option<u32> {
    let v = const_int(cx, e, what)?;
    if v <= 0 || v > i64::from(u32::MAX) {
        cx.err(
            Diagnostic::error(
                codes::NOT_CONSTANT,
                format!("{what} must be a positive integer, found {v}"),
                e.span,
                "invalid extent",
            )
            .with_help("tile extents are positive compile-time constants"),
        );
        return None;
    }
    Some(v as u32)
}
