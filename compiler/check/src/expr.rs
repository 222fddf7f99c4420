//! Expressions: literals (folded while both sides are literals), names, unary/binary operators with
//! literal adaptation and broadcasting, `x[:, None]` axis insertion, and calls (see builtins.rs).

use crate::cx::{Cx, Ev, Lit};
use crate::shapes::{is_arith, is_wide_float, lit_to, show_ty, unify_broadcast, with_shape};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{BinOp, CmpPred, DType, OpKind, Type, UnOp, ValueId};
use tessera_syntax::{BinaryOp, Expr, ExprKind, IndexItem, UnaryOp};

fn overflow(cx: &mut Cx, span: Span, what: String) -> Ev {
    cx.err(
        Diagnostic::error(codes::INT_OVERFLOW, what, span, "does not fit in i32")
            .with_help("integer values in kernel bodies are i32: use values in [-2147483648, 2147483647]"),
    );
    Ev::Err
}

pub(crate) fn int_lit(cx: &mut Cx, v: i64, span: Span) -> Ev {
    if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
        return overflow(cx, span, format!("integer constant {v} does not fit in i32"));
    }
    Ev::Lit(Lit::Int(v))
}

pub fn expr(cx: &mut Cx, e: &Expr) -> Ev {
    match &e.kind {
        ExprKind::Int(Some(v)) => {
            // -2147483648 is written as negation of 2147483648: allow that one literal through.
            if *v > 1 << 31 {
                return overflow(cx, e.span, format!("integer literal {v} does not fit in i32"));
            }
            Ev::Lit(Lit::Int(*v as i64))
        }
        ExprKind::Int(None) => overflow(cx, e.span, "integer literal does not fit in 64 bits".to_string()),
        ExprKind::Float(f) => Ev::Lit(Lit::Float(*f)),
        ExprKind::Bool(b) => Ev::Lit(Lit::Bool(*b)),
        ExprKind::Name(n) => crate::names::resolve(cx, n, e.span),
        ExprKind::Unary(op, x) => unary(cx, *op, x, e.span),
        ExprKind::Binary(op, a, b) => {
            let ea = expr(cx, a);
            let eb = expr(cx, b);
            binary(cx, *op, (ea, a.span), (eb, b.span), e.span)
        }
        ExprKind::Call {
            name,
            targs,
            shape,
            args,
        } => crate::builtins::call(cx, name, targs, shape.as_deref(), args, e.span),
        ExprKind::Index { base, items } => index(cx, base, items, e.span),
    }
}

/// `e` as an i32 scalar value (loop bounds, view coordinates); anything else is reported with
/// `help` saying what such operands are.
pub fn i32_scalar(cx: &mut Cx, e: &Expr, what: &str, help: &str) -> Option<ValueId> {
    let v = match expr(cx, e) {
        Ev::Lit(Lit::Int(i)) => lit_to(cx, Lit::Int(i), DType::I32, e.span)?,
        other => crate::shapes::value(cx, other, e.span)?,
    };
    let t = cx.ty(v);
    if t != Type::Scalar(DType::I32) {
        cx.err(
            Diagnostic::error(
                codes::WRONG_KIND,
                format!("{what} must be an i32 scalar, found {}", show_ty(&t)),
                e.span,
                format!("this is {}", show_ty(&t)),
            )
            .with_help(help),
        );
        return None;
    }
    Some(v)
}

fn unary(cx: &mut Cx, op: UnaryOp, x: &Expr, span: Span) -> Ev {
    let ev = expr(cx, x);
    match (op, ev) {
        (_, Ev::Err) => Ev::Err,
        (UnaryOp::Neg, Ev::Lit(Lit::Int(v))) => int_lit(cx, -v, span),
        (UnaryOp::Neg, Ev::Lit(Lit::Float(f))) => Ev::Lit(Lit::Float(-f)),
        (UnaryOp::Not, Ev::Lit(Lit::Bool(b))) => Ev::Lit(Lit::Bool(!b)),
        (op, ev) => {
            let uop = if op == UnaryOp::Neg { UnOp::Neg } else { UnOp::Not };
            unary_op(cx, uop, ev, x.span, span)
        }
    }
}

/// Apply a unary op to a value, checking the dtype class it needs.
pub fn unary_op(cx: &mut Cx, op: UnOp, ev: Ev, xspan: Span, span: Span) -> Ev {
    let v = match ev {
        Ev::Lit(l) if op != UnOp::Not => crate::shapes::lit_to(
            cx,
            l,
            if matches!(l, Lit::Int(_)) && matches!(op, UnOp::Neg | UnOp::Abs) {
                DType::I32
            } else {
                DType::F32
            },
            xspan,
        ),
        other => crate::shapes::value(cx, other, xspan),
    };
    let Some(v) = v else { return Ev::Err };
    let t = cx.ty(v);
    let d = t.dtype();
    let (ok, need) = match op {
        UnOp::Not => (d == DType::I1, "a boolean"),
        UnOp::Neg | UnOp::Abs => (is_arith(d), "a numeric (f32/bf16/f16/i32/i8)"),
        _ => (is_wide_float(d), "a float (f32/bf16/f16)"),
    };
    if !ok || crate::shapes::is_scaled(&t) {
        let help = if crate::shapes::is_scaled(&t) || d.is_narrow_float() {
            "narrow formats are storage codes: `dequant(x)` (scaled) or `cast<f32>(x)` first".to_string()
        } else if d.is_int() {
            "convert first: `cast<f32>(x)`".to_string()
        } else {
            "use a comparison to get a boolean".to_string()
        };
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("`{}` needs {need} operand, found {}", unop_name(op), show_ty(&t)),
                xspan,
                format!("this is {}", show_ty(&t)),
            )
            .with_help(help),
        );
        return Ev::Err;
    }
    Ev::Val(cx.emit1(OpKind::Unary { op, x: v }, t, span))
}

fn unop_name(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Abs => "abs",
        UnOp::Exp => "exp",
        UnOp::Exp2 => "exp2",
        UnOp::Log => "log",
        UnOp::Log2 => "log2",
        UnOp::Sqrt => "sqrt",
        UnOp::Rsqrt => "rsqrt",
        UnOp::Not => "!",
    }
}

fn fold(cx: &mut Cx, op: BinaryOp, a: Lit, b: Lit, span: Span) -> Option<Ev> {
    use BinaryOp as B;
    Some(match (a, b) {
        (Lit::Int(x), Lit::Int(y)) => {
            let r = match op {
                B::Add => x.checked_add(y),
                B::Sub => x.checked_sub(y),
                B::Mul => x.checked_mul(y),
                B::Div | B::Rem if y == 0 => return None,
                B::Div => x.checked_div(y),
                B::Rem => x.checked_rem(y),
                B::Lt => return Some(Ev::Lit(Lit::Bool(x < y))),
                B::Le => return Some(Ev::Lit(Lit::Bool(x <= y))),
                B::Gt => return Some(Ev::Lit(Lit::Bool(x > y))),
                B::Ge => return Some(Ev::Lit(Lit::Bool(x >= y))),
                B::Eq => return Some(Ev::Lit(Lit::Bool(x == y))),
                B::Ne => return Some(Ev::Lit(Lit::Bool(x != y))),
                B::And | B::Or => return None,
            };
            match r {
                Some(r) => int_lit(cx, r, span),
                None => overflow(
                    cx,
                    span,
                    format!("integer constant `{x} {} {y}` overflows", op.symbol()),
                ),
            }
        }
        (Lit::Bool(x), Lit::Bool(y)) => match op {
            B::And => Ev::Lit(Lit::Bool(x && y)),
            B::Or => Ev::Lit(Lit::Bool(x || y)),
            _ => return None,
        },
        (x, y) => {
            let f = |l: Lit| match l {
                Lit::Int(i) => Some(i as f64),
                Lit::Float(f) => Some(f),
                Lit::Bool(_) => None,
            };
            let (x, y) = (f(x)?, f(y)?);
            match op {
                B::Add => Ev::Lit(Lit::Float(x + y)),
                B::Sub => Ev::Lit(Lit::Float(x - y)),
                B::Mul => Ev::Lit(Lit::Float(x * y)),
                B::Div => Ev::Lit(Lit::Float(x / y)),
                _ => return None,
            }
        }
    })
}

/// A binary operator on two checked operands.
pub fn binary(cx: &mut Cx, op: BinaryOp, a: (Ev, Span), b: (Ev, Span), span: Span) -> Ev {
    if let (Ev::Lit(x), Ev::Lit(y)) = (&a.0, &b.0)
        && let Some(r) = fold(cx, op, *x, *y, span)
    {
        return r;
    }
    let ops = [a, b];
    let Some((vals, d, shape)) = unify_broadcast(cx, &ops, span) else {
        return Ev::Err;
    };
    let (lhs, rhs) = (vals[0], vals[1]);
    let pred = match op {
        BinaryOp::Lt => Some(CmpPred::Lt),
        BinaryOp::Le => Some(CmpPred::Le),
        BinaryOp::Gt => Some(CmpPred::Gt),
        BinaryOp::Ge => Some(CmpPred::Ge),
        BinaryOp::Eq => Some(CmpPred::Eq),
        BinaryOp::Ne => Some(CmpPred::Ne),
        _ => None,
    };
    if let Some(pred) = pred {
        if !(is_arith(d) || d == DType::I1 && matches!(pred, CmpPred::Eq | CmpPred::Ne)) {
            return unsupported(cx, op, d, span);
        }
        return Ev::Val(cx.emit1(
            OpKind::Cmp { pred, lhs, rhs },
            with_shape(DType::I1, &shape),
            span,
        ));
    }
    let bop = match op {
        BinaryOp::Add => BinOp::Add,
        BinaryOp::Sub => BinOp::Sub,
        BinaryOp::Mul => BinOp::Mul,
        BinaryOp::Div => BinOp::Div,
        BinaryOp::Rem => BinOp::Rem,
        BinaryOp::And => BinOp::And,
        BinaryOp::Or => BinOp::Or,
        _ => return Ev::Err,
    };
    let ok = if matches!(bop, BinOp::And | BinOp::Or) {
        d == DType::I1
    } else {
        is_arith(d)
    };
    if !ok {
        return unsupported(cx, op, d, span);
    }
    Ev::Val(cx.emit1(OpKind::Binary { op: bop, lhs, rhs }, with_shape(d, &shape), span))
}

/// Binary op by IR opcode (max/min builtins).
pub fn binop_values(cx: &mut Cx, op: BinOp, a: (Ev, Span), b: (Ev, Span), span: Span) -> Ev {
    let ops = [a, b];
    let Some((vals, d, shape)) = unify_broadcast(cx, &ops, span) else {
        return Ev::Err;
    };
    if !is_arith(d) {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("max/min are not defined on {d}"),
                span,
                format!("{d} operands"),
            )
            .with_help("compute in f32/bf16/f16/i32"),
        );
        return Ev::Err;
    }
    Ev::Val(cx.emit1(
        OpKind::Binary {
            op,
            lhs: vals[0],
            rhs: vals[1],
        },
        with_shape(d, &shape),
        span,
    ))
}

fn unsupported(cx: &mut Cx, op: BinaryOp, d: DType, span: Span) -> Ev {
    let help = if matches!(op, BinaryOp::And | BinaryOp::Or) {
        "`&&` and `||` combine booleans (comparison results)".to_string()
    } else if d.is_narrow_float() {
        format!("{d} is a storage format: `dequant(x)` or `cast<f32>(x)` before arithmetic")
    } else {
        "use numeric operands".to_string()
    };
    cx.err(
        Diagnostic::error(
            codes::UNSUPPORTED_DTYPE,
            format!("`{}` is not defined on {d}", op.symbol()),
            span,
            format!("{d} operands"),
        )
        .with_help(help),
    );
    Ev::Err
}

/// `x[:, None]` / `x[None, :]` on a tile: insert size-1 axes. Tensors are indexed inside
/// load/store/atomic_add (or bound by `let` as a sub-view).
fn index(cx: &mut Cx, base: &Expr, items: &[IndexItem], span: Span) -> Ev {
    let b = expr(cx, base);
    let v = match b {
        Ev::Err => return Ev::Err,
        Ev::Tensor(_) => {
            cx.err(
                Diagnostic::error(codes::WRONG_KIND, "a tensor view is used as a value", span, "tensor view")
                    .with_help("read it with `load(...)`, write it with `store(..., value)`, or bind a bounded sub-view with `let v = t[lo .. hi, :];`"),
            );
            return Ev::Err;
        }
        Ev::Lit(l) => match crate::shapes::lit_to(cx, l, crate::shapes::lit_default(l), base.span) {
            Some(v) => v,
            None => return Ev::Err,
        },
        Ev::Val(v) => v,
    };
    let t = cx.ty(v);
    let shape = crate::shapes::shape_of(&t);
    let colons = items.iter().filter(|i| matches!(i, IndexItem::Full(_))).count();
    let only_axes = items
        .iter()
        .all(|i| matches!(i, IndexItem::Full(_) | IndexItem::NewAxis(_)));
    if !only_axes || colons != shape.len() || crate::shapes::is_scaled(&t) {
        cx.err(
            Diagnostic::error(codes::BAD_INDEX, format!("a {} value can only be indexed with `:` and `None`", show_ty(&t)), span, "invalid tile index")
                .with_help(format!("tiles are not sliced; use one `:` per dim ({}) and `None` where a size-1 axis is inserted, e.g. `x[:, None]`", shape.len())),
        );
        return Ev::Err;
    }
    let mut cur = v;
    for (axis, it) in items.iter().enumerate() {
        if matches!(it, IndexItem::NewAxis(_)) {
            let ct = cx.ty(cur);
            let mut s = crate::shapes::shape_of(&ct);
            s.insert(axis, 1);
            cur = cx.emit1(
                OpKind::ExpandDims {
                    x: cur,
                    axis: axis as u32,
                },
                Type::Tile(tessera_ir::TileType::plain(ct.dtype(), s)),
                span,
            );
        }
    }
    Ev::Val(cur)
}
