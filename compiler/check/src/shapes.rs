//! Type display for messages, implicit conversions (literal materialisation, scalar/size-1
//! broadcasting) and the dtype classes operations accept.

use crate::cx::{Cx, Ev, Lit};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{DType, OpKind, TileType, Type, ValueId};

pub fn show_shape(s: &[u32]) -> String {
    format!(
        "[{}]",
        s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// `f32`, `bf16[64, 64]`, `f8e4m3[128, 64] (mx scales, block [1, 32])`.
pub fn show_ty(t: &Type) -> String {
    match t {
        Type::Scalar(d) => d.name().to_string(),
        Type::Tile(tt) => {
            let mut s = format!("{}{}", tt.dtype, show_shape(&tt.shape));
            if let Some(sc) = &tt.scale {
                s.push_str(&format!(
                    " ({} scales, block {})",
                    sc.family(),
                    show_shape(&sc.block)
                ));
            }
            s
        }
    }
}

pub fn shape_of(t: &Type) -> Vec<u32> {
    match t {
        Type::Scalar(_) => Vec::new(),
        Type::Tile(tt) => tt.shape.clone(),
    }
}

pub fn is_scaled(t: &Type) -> bool {
    matches!(t, Type::Tile(TileType { scale: Some(_), .. }))
}

/// Dtypes elementwise arithmetic is defined on (narrow formats are codes: dequant/cast first).
pub fn is_arith(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F16 | DType::BF16 | DType::I32 | DType::I8)
}

pub fn is_wide_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F16 | DType::BF16)
}

/// The type with another shape (scalar for an empty shape), same dtype, no scales.
pub fn with_shape(d: DType, shape: &[u32]) -> Type {
    if shape.is_empty() {
        Type::Scalar(d)
    } else {
        Type::Tile(TileType::plain(d, shape.to_vec()))
    }
}

/// Materialise a literal as a scalar of `d` (integer literals adapt to float types).
pub fn lit_to(cx: &mut Cx, lit: Lit, d: DType, span: Span) -> Option<ValueId> {
    match (lit, d) {
        (Lit::Bool(b), DType::I1) => Some(cx.emit1(
            OpKind::ConstInt { value: i64::from(b) },
            Type::Scalar(DType::I1),
            span,
        )),
        (Lit::Int(v), DType::I32 | DType::I8) => {
            let (lo, hi) = if d == DType::I8 {
                (-128, 127)
            } else {
                (i64::from(i32::MIN), i64::from(i32::MAX))
            };
            if v < lo || v > hi {
                cx.err(
                    Diagnostic::error(
                        codes::INT_OVERFLOW,
                        format!("integer {v} does not fit in {d}"),
                        span,
                        format!("out of {d} range"),
                    )
                    .with_help(format!("use a value in [{lo}, {hi}]")),
                );
                return None;
            }
            Some(cx.emit1(OpKind::ConstInt { value: v }, Type::Scalar(d), span))
        }
        (Lit::Int(v), d) if is_wide_float(d) => {
            Some(cx.emit1(OpKind::ConstFloat { value: v as f64 }, Type::Scalar(d), span))
        }
        (Lit::Float(f), d) if is_wide_float(d) => {
            Some(cx.emit1(OpKind::ConstFloat { value: f }, Type::Scalar(d), span))
        }
        (lit, d) => {
            let what = match lit {
                Lit::Int(_) => "an integer literal",
                Lit::Float(_) => "a float literal",
                Lit::Bool(_) => "a boolean literal",
            };
            cx.err(
                Diagnostic::error(
                    codes::DTYPE_MISMATCH,
                    format!("{what} cannot be used as {d}"),
                    span,
                    format!("expected a {d} value"),
                )
                .with_help(if d.is_float() && !is_wide_float(d) {
                    format!("{d} is a storage format: compute in f32 and `cast<{d}>(...)` the result")
                } else {
                    format!("write a literal of type {d}")
                }),
            );
            None
        }
    }
}

/// The default dtype of a literal used without context.
pub fn lit_default(lit: Lit) -> DType {
    match lit {
        Lit::Int(_) => DType::I32,
        Lit::Float(_) => DType::F32,
        Lit::Bool(_) => DType::I1,
    }
}

/// A value from an expression result: literals get their default dtype, tensors are an error.
pub fn value(cx: &mut Cx, ev: Ev, span: Span) -> Option<ValueId> {
    match ev {
        Ev::Val(v) => Some(v),
        Ev::Lit(l) => lit_to(cx, l, lit_default(l), span),
        Ev::Tensor(_) => {
            tensor_as_value(cx, span);
            None
        }
        Ev::Err => None,
    }
}

pub fn tensor_as_value(cx: &mut Cx, span: Span) {
    cx.err(
        Diagnostic::error(
            codes::WRONG_KIND,
            "a tensor is used where a value is needed",
            span,
            "this is a tensor in global memory",
        )
        .with_help("read a tile with `load(t[start .. +SIZE, ...])`"),
    );
}

/// Broadcast `v` to `shape` (scalar → tile, or size-1 dims → full extent). Returns `v` unchanged
/// when it already has that shape.
pub fn broadcast_to(cx: &mut Cx, v: ValueId, shape: &[u32], span: Span) -> ValueId {
    let t = cx.ty(v);
    if shape_of(&t) == shape {
        return v;
    }
    cx.emit1(OpKind::Broadcast { x: v }, with_shape(t.dtype(), shape), span)
}

/// The common broadcast shape of `shapes` (scalars are `[]`), or a coded error naming both shapes.
pub fn common_shape(cx: &mut Cx, shapes: &[(Vec<u32>, Span)], span: Span) -> Option<Vec<u32>> {
    let mut out: Vec<u32> = Vec::new();
    let mut out_span = span;
    for (s, sspan) in shapes {
        if s.is_empty() {
            continue;
        }
        if out.is_empty() {
            out = s.clone();
            out_span = *sspan;
            continue;
        }
        let ok = s.len() == out.len() && s.iter().zip(&out).all(|(a, b)| a == b || *a == 1 || *b == 1);
        if !ok {
            let help = if s.len() != out.len() {
                "ranks differ: add a size-1 axis with `x[:, None]` or `x[None, :]`".to_string()
            } else {
                "make the shapes equal, or size 1 where one side should be broadcast".to_string()
            };
            cx.err(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!(
                        "shapes {} and {} do not broadcast",
                        show_shape(&out),
                        show_shape(s)
                    ),
                    *sspan,
                    format!("shape {}", show_shape(s)),
                )
                .with_label(out_span, format!("shape {}", show_shape(&out)))
                .with_help(help),
            );
            return None;
        }
        out = out.iter().zip(s).map(|(a, b)| (*a).max(*b)).collect();
    }
    Some(out)
}

/// Resolve operands of an elementwise op to values of one dtype: literals adapt to the typed
/// operand; differing dtypes are an error that suggests a cast.
pub fn unify(cx: &mut Cx, ops: &[(Ev, Span)]) -> Option<(Vec<ValueId>, DType)> {
    let mut dtype: Option<(DType, Span)> = None;
    for (ev, s) in ops {
        match ev {
            Ev::Err => return None,
            Ev::Tensor(_) => {
                tensor_as_value(cx, *s);
                return None;
            }
            Ev::Val(v) => {
                let t = cx.ty(*v);
                if is_scaled(&t) {
                    cx.err(
                        Diagnostic::error(
                            codes::UNSUPPORTED_DTYPE,
                            format!("elementwise math on a scaled tile ({})", show_ty(&t)),
                            *s,
                            "scaled tile",
                        )
                        .with_help("dequantize it first: `dequant(x)` gives an f32 tile"),
                    );
                    return None;
                }
                match dtype {
                    None => dtype = Some((t.dtype(), *s)),
                    Some((d, ds)) if d != t.dtype() => {
                        cx.err(
                            Diagnostic::error(
                                codes::DTYPE_MISMATCH,
                                format!("mismatched dtypes {} and {}", d, t.dtype()),
                                *s,
                                format!("this is {}", show_ty(&t)),
                            )
                            .with_label(ds, format!("this is {d}"))
                            .with_help(format!(
                                "convert one side explicitly, e.g. `cast<{d}>(...)` or `cast<{}>(...)`",
                                t.dtype()
                            )),
                        );
                        return None;
                    }
                    Some(_) => {}
                }
            }
            Ev::Lit(_) => {}
        }
    }
    let d = match dtype {
        Some((d, _)) => d,
        None => {
            // Only literals: float wins over int.
            let any_float = ops.iter().any(|(e, _)| matches!(e, Ev::Lit(Lit::Float(_))));
            let any_bool = ops.iter().any(|(e, _)| matches!(e, Ev::Lit(Lit::Bool(_))));
            if any_bool {
                DType::I1
            } else if any_float {
                DType::F32
            } else {
                DType::I32
            }
        }
    };
    let mut vals = Vec::new();
    for (ev, s) in ops {
        let v = match ev {
            Ev::Val(v) => *v,
            Ev::Lit(l) => lit_to(cx, *l, d, *s)?,
            _ => return None,
        };
        vals.push(v);
    }
    Some((vals, d))
}

/// Unify dtypes and broadcast all operands to their common shape.
pub fn unify_broadcast(
    cx: &mut Cx,
    ops: &[(Ev, Span)],
    span: Span,
) -> Option<(Vec<ValueId>, DType, Vec<u32>)> {
    let (vals, d) = unify(cx, ops)?;
    let shapes: Vec<(Vec<u32>, Span)> = vals
        .iter()
        .zip(ops)
        .map(|(v, (_, s))| (shape_of(&cx.ty(*v)), *s))
        .collect();
    let shape = common_shape(cx, &shapes, span)?;
    let vals = vals
        .into_iter()
        .zip(ops)
        .map(|(v, (_, s))| broadcast_to(cx, v, &shape, *s))
        .collect();
    Some((vals, d, shape))
}

/// Convert `ev` to exactly type `want` where the language allows it implicitly (literal adaptation,
/// scalar → tile broadcast); otherwise report with `code` and return None.
pub fn coerce(
    cx: &mut Cx,
    ev: Ev,
    span: Span,
    want: &Type,
    code: &'static str,
    what: &str,
) -> Option<ValueId> {
    let v = match ev {
        Ev::Lit(l) => lit_to(cx, l, want.dtype(), span)?,
        other => value(cx, other, span)?,
    };
    let t = cx.ty(v);
    if &t == want {
        return Some(v);
    }
    if let (Type::Scalar(d), Type::Tile(tt)) = (&t, want)
        && *d == tt.dtype
        && tt.scale.is_none()
    {
        return Some(broadcast_to(cx, v, &tt.shape, span));
    }
    let help = if t.dtype() != want.dtype() {
        format!("convert it: `cast<{}>(...)`", want.dtype())
    } else {
        format!("give it shape {}", show_shape(&shape_of(want)))
    };
    cx.err(
        Diagnostic::error(
            code,
            format!("{what}: expected {}, found {}", show_ty(want), show_ty(&t)),
            span,
            format!("this is {}", show_ty(&t)),
        )
        .with_help(help),
    );
    None
}
