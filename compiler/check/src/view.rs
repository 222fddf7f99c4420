//! Tensor views: `t[idx, ...]` inside load/store/atomic_add becomes an IR `Access` (Range / Point /
//! Gather per dim, with the view's bounds), and `let v = t[lo .. hi, :]` makes a bounded sub-view
//! whose bounds mask every later access through `v`.

use crate::cx::{Cx, Ev, Lit, ViewRef};
use crate::shapes::{lit_to, show_ty};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{Access, BinOp, Bound, DType, Dim, Index, OpKind, ScaleSpec, TileType, Type, ValueId};
use tessera_syntax::{Expr, ExprKind, IndexItem};

/// A checked access: the IR access, the accessed tile shape (empty = scalar), and the scale
/// contract of the accessed tile (scaled tensors only).
pub struct Checked {
    pub access: Access,
    pub shape: Vec<u32>,
    pub scale: Option<ScaleSpec>,
    pub view: ViewRef,
    /// Span of the tensor name in the view expression.
    pub base_span: Span,
}

impl Checked {
    /// The type of one element read or written through this access: a scalar for all-point
    /// accesses, else a (possibly scaled) tile of the accessed shape.
    pub fn value_type(&self, dtype: DType) -> Type {
        if self.shape.is_empty() {
            Type::Scalar(dtype)
        } else {
            Type::Tile(TileType {
                dtype,
                shape: self.shape.clone(),
                scale: self.scale.clone(),
                layout: tessera_ir::TileLayout::Logical,
            })
        }
    }
}

/// An i32 scalar index value.
fn index_scalar(cx: &mut Cx, e: &Expr, what: &str) -> Option<ValueId> {
    crate::expr::i32_scalar(
        cx,
        e,
        what,
        "coordinates are i32 scalars; gathered rows use an i32 index tile of shape [n]",
    )
}

/// Check `view_expr` (which must be `t[...]` with `t` a tensor or sub-view) as an access.
pub fn access(cx: &mut Cx, view_expr: &Expr, what: &str) -> Option<Checked> {
    let ExprKind::Index { base, items } = &view_expr.kind else {
        let ev = crate::expr::expr(cx, view_expr);
        if !matches!(ev, Ev::Err) {
            cx.err(
                Diagnostic::error(
                    codes::WRONG_KIND,
                    format!("{what} needs a tensor view like `t[m0 .. +BM, k0 .. +BK]`"),
                    view_expr.span,
                    "not a tensor view",
                )
                .with_help("index the tensor: one `start .. +SIZE`, coordinate or index tile per dim"),
            );
        }
        return None;
    };
    let view = match crate::expr::expr(cx, base) {
        Ev::Tensor(v) => v,
        Ev::Err => return None,
        _ => {
            cx.err(
                Diagnostic::error(
                    codes::WRONG_KIND,
                    format!("{what} needs a tensor view, but this is not a tensor"),
                    base.span,
                    "not a tensor",
                )
                .with_help(
                    "tiles are already values; tensors are parameters with dims (or `let` sub-views of them)",
                ),
            );
            return None;
        }
    };
    let t = view.t.clone();
    let rank = t.ty.dims.len();
    if items.len() != rank {
        cx.err(
            Diagnostic::error(
                codes::INDEX_COUNT,
                format!("`{}` has {rank} dims but is indexed with {}", t.name, items.len()),
                view_expr.span,
                format!("{} indices", items.len()),
            )
            .with_label(t.decl, format!("declared with {rank} dims here"))
            .with_help(format!("give one index per dim: {rank}")),
        );
        return None;
    }
    let mut index = Vec::new();
    let mut shape = Vec::new();
    let mut kept: Vec<(usize, Option<u32>, Span)> = Vec::new();
    let mut ok = true;
    for (d, it) in items.iter().enumerate() {
        let dim = &t.ty.dims[d];
        match it {
            IndexItem::Sized { start, size, span } => {
                let s = index_scalar(cx, start, "a slice start");
                let n = crate::consts::const_extent(cx, size, "a slice size");
                let (Some(s), Some(n)) = (s, n) else {
                    ok = false;
                    continue;
                };
                if let Dim::Const(c) = dim
                    && u64::from(n) > *c
                {
                    cx.err(
                        Diagnostic::error(
                            codes::SLICE_TOO_WIDE,
                            format!("slice of {n} is wider than dim {d} of `{}` ({c})", t.name),
                            *span,
                            format!("{n} elements"),
                        )
                        .with_label(t.ty_span, format!("dim {d} declared as {c} here"))
                        .with_help(format!("use a slice of at most {c}")),
                    );
                    ok = false;
                    continue;
                }
                index.push(Index::Range { start: s, size: n });
                shape.push(n);
                kept.push((d, Some(n), *span));
            }
            IndexItem::Expr(e) => {
                let ev = crate::expr::expr(cx, e);
                let v = match ev {
                    Ev::Lit(Lit::Int(i)) => lit_to(cx, Lit::Int(i), DType::I32, e.span),
                    other => crate::shapes::value(cx, other, e.span),
                };
                let Some(v) = v else {
                    ok = false;
                    continue;
                };
                match cx.ty(v) {
                    Type::Scalar(DType::I32) => {
                        if let Some(b) = t.ty.scale.as_ref().map(|s| s.block[d]).filter(|b| *b > 1) {
                            cx.err(
                                Diagnostic::error(codes::SCALE_BLOCK_TILE, format!("dim {d} of `{}` is scaled in blocks of {b} and cannot be indexed by one coordinate", t.name), e.span, "single coordinate")
                                    .with_label(t.ty_span, "this scale block was declared here")
                                    .with_help(format!("load whole blocks: `start .. +{b}` (or a multiple of {b})")),
                            );
                            ok = false;
                            continue;
                        }
                        index.push(Index::Point(v))
                    }
                    Type::Tile(TileType {
                        dtype: DType::I32,
                        shape: s,
                        scale: None,
                        ..
                    }) if s.len() == 1 => {
                        index.push(Index::Gather(v));
                        shape.push(s[0]);
                        kept.push((d, None, e.span));
                    }
                    other => {
                        cx.err(
                            Diagnostic::error(codes::WRONG_KIND, format!("an index must be an i32 scalar or an i32 tile of shape [n], found {}", show_ty(&other)), e.span, format!("this is {}", show_ty(&other)))
                                .with_help("use `start .. +SIZE` for a slice, an i32 coordinate, or a 1-d i32 index tile for gathered rows"),
                        );
                        ok = false;
                    }
                }
            }
            IndexItem::Full(span) => match dim {
                Dim::Const(c) if *c <= u64::from(u32::MAX) => {
                    let z = cx.emit1(OpKind::ConstInt { value: 0 }, Type::Scalar(DType::I32), *span);
                    index.push(Index::Range {
                        start: z,
                        size: *c as u32,
                    });
                    shape.push(*c as u32);
                    kept.push((d, Some(*c as u32), *span));
                }
                _ => {
                    cx.err(
                        Diagnostic::error(
                            codes::BAD_INDEX,
                            format!(
                                "`:` needs a constant dim, but dim {d} of `{}` is known only at launch",
                                t.name
                            ),
                            *span,
                            "symbolic dim",
                        )
                        .with_label(t.ty_span, "declared here")
                        .with_help("take a tile of it: `start .. +SIZE` (edges are masked)"),
                    );
                    ok = false;
                }
            },
            IndexItem::Range { span, .. } => {
                cx.err(
                    Diagnostic::error(codes::BAD_INDEX, format!("a bounded range `lo .. hi` cannot be used in {what}"), *span, "bounded range")
                        .with_help("inside an access write `start .. +SIZE`; to mask at `hi`, bind a sub-view first: `let v = t[lo .. hi, :];` and access `v[...]`"),
                );
                ok = false;
            }
            IndexItem::NewAxis(span) => {
                cx.err(
                    Diagnostic::error(
                        codes::BAD_INDEX,
                        "`None` cannot index a tensor",
                        *span,
                        "`None` here",
                    )
                    .with_help("`None` inserts an axis into a tile value, e.g. `row[:, None]`"),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    // The tile of a scaled tensor keeps the blocks of its kept dims; each must divide the extent.
    let scale = match &t.ty.scale {
        None => None,
        Some(spec) => {
            let mut block = Vec::new();
            for (d, n, span) in &kept {
                let b = spec.block[*d];
                match n {
                    Some(n) if b > 1 && n % b != 0 => {
                        let up = n.div_ceil(b) * b;
                        cx.err(
                            Diagnostic::error(codes::SCALE_BLOCK_TILE, format!("scale block {b} does not divide the tile extent {n} along dim {d} of `{}`", t.name), *span, format!("{n} is not a multiple of {b}"))
                                .with_label(t.ty_span, format!("this scale block ({b} along dim {d}) was declared here"))
                                .with_help(format!("use a tile extent that is a multiple of {b}, e.g. {up}")),
                        );
                        return None;
                    }
                    None if b > 1 => {
                        cx.err(
                            Diagnostic::error(codes::SCALE_BLOCK_TILE, format!("gathered dim {d} of `{}` is scaled in blocks of {b}", t.name), *span, "gathered index")
                                .with_label(t.ty_span, "this scale block was declared here")
                                .with_help("gather along an unscaled dim (e.g. token rows), and slice the scaled dim with `start .. +SIZE`"),
                        );
                        return None;
                    }
                    _ => {}
                }
                block.push(b);
            }
            if kept.is_empty() {
                cx.err(
                    Diagnostic::error(
                        codes::WRONG_KIND,
                        format!("cannot access a single element of scaled tensor `{}`", t.name),
                        view_expr.span,
                        "single element",
                    )
                    .with_help("load a tile whose scaled dims hold whole scale blocks"),
                );
                return None;
            }
            Some(ScaleSpec {
                block,
                ..spec.clone()
            })
        }
    };
    let base_span = base.span;
    Some(Checked {
        access: Access {
            tensor: t.id,
            index,
            bounds: view.bounds.clone(),
        },
        shape,
        scale,
        view,
        base_span,
    })
}

/// `let v = t[lo .. hi, :]`: a sub-view with per-dim bounds (intersected with the base view's).
pub fn sub_view(cx: &mut Cx, view: ViewRef, items: &[IndexItem], span: Span) -> Ev {
    let rank = view.t.ty.dims.len();
    if items.len() != rank {
        cx.err(
            Diagnostic::error(
                codes::INDEX_COUNT,
                format!(
                    "`{}` has {rank} dims but the sub-view gives {}",
                    view.t.name,
                    items.len()
                ),
                span,
                "wrong number of indices",
            )
            .with_label(view.t.decl, "declared here")
            .with_help("give one `lo .. hi` or `:` per dim"),
        );
        return Ev::Err;
    }
    let mut bounds = view.bounds.clone();
    for (d, it) in items.iter().enumerate() {
        let (lo, hi) = match it {
            IndexItem::Full(_) => continue,
            IndexItem::Range { lo, hi, .. } => (
                index_scalar(cx, lo, "a sub-view bound"),
                index_scalar(cx, hi, "a sub-view bound"),
            ),
            IndexItem::Sized { start, size, span } => {
                let s = index_scalar(cx, start, "a sub-view start");
                let n = crate::consts::const_extent(cx, size, "a slice size");
                let hi = match (s, n) {
                    (Some(s), Some(n)) => {
                        let c = cx.emit1(
                            OpKind::ConstInt { value: i64::from(n) },
                            Type::Scalar(DType::I32),
                            *span,
                        );
                        Some(cx.emit1(
                            OpKind::Binary {
                                op: BinOp::Add,
                                lhs: s,
                                rhs: c,
                            },
                            Type::Scalar(DType::I32),
                            *span,
                        ))
                    }
                    _ => None,
                };
                (s, hi)
            }
            other => {
                cx.err(
                    Diagnostic::error(
                        codes::BAD_INDEX,
                        "a sub-view keeps every dim: use `lo .. hi` or `:`",
                        other.span(),
                        "not a range",
                    )
                    .with_help(format!("e.g. `let v = {}[lo .. hi, :];`", view.t.name)),
                );
                return Ev::Err;
            }
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ev::Err;
        };
        let isp = it.span();
        let new_lo = match bounds[d].lo {
            Some(old) => cx.emit1(
                OpKind::Binary {
                    op: BinOp::Max,
                    lhs: old,
                    rhs: lo,
                },
                Type::Scalar(DType::I32),
                isp,
            ),
            None => lo,
        };
        let new_hi = match bounds[d].hi {
            Some(old) => cx.emit1(
                OpKind::Binary {
                    op: BinOp::Min,
                    lhs: old,
                    rhs: hi,
                },
                Type::Scalar(DType::I32),
                isp,
            ),
            None => hi,
        };
        bounds[d] = Bound {
            lo: Some(new_lo),
            hi: Some(new_hi),
        };
    }
    Ev::Tensor(ViewRef { t: view.t, bounds })
}
