//! Builtin calls: program ids, tile constructors, load/store/atomic_add, dot, transpose, cast,
//! dequant/quantize, math, where, reductions. Each checks its arity, argument kinds and dtypes.

use crate::consts::{const_extent, const_int};
use crate::cx::{Cx, Ev, Lit};
use crate::expr::{binop_values, expr, unary_op};
use crate::shapes::{
    coerce, is_scaled, is_wide_float, lit_to, shape_of, show_shape, show_ty, unify_broadcast, value,
    with_shape,
};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{BinOp, DType, OpKind, ReduceKind, ScaleLayout, ScaleSpec, TileType, Type, UnOp, ValueId};
use tessera_syntax::{Arg, ArgValue, Expr, Ident, TypeArg, TypeExpr};

const BUILTINS: &[&str] = &[
    "program_id",
    "num_programs",
    "arange",
    "zeros",
    "full",
    "load",
    "store",
    "atomic_add",
    "dot",
    "transpose",
    "cast",
    "dequant",
    "quantize",
    "exp",
    "exp2",
    "log",
    "log2",
    "sqrt",
    "rsqrt",
    "abs",
    "sigmoid",
    "max",
    "min",
    "where",
    "reduce_sum",
    "reduce_max",
    "reduce_min",
    "cdiv",
];

/// Arguments split into positional and named, with named ones checked against `allowed`.
struct Args<'a> {
    pos: Vec<&'a Expr>,
    named: Vec<(&'a Ident, &'a Expr)>,
}

fn split<'a>(cx: &mut Cx, f: &str, args: &'a [Arg], allowed: &[&str]) -> Option<Args<'a>> {
    let mut out = Args {
        pos: Vec::new(),
        named: Vec::new(),
    };
    let mut ok = true;
    for a in args {
        match &a.name {
            None => out.pos.push(&a.value),
            Some(n) if allowed.contains(&n.name.as_str()) => out.named.push((n, &a.value)),
            Some(n) => {
                let mut d = Diagnostic::error(
                    codes::BAD_NAMED_ARG,
                    format!("`{f}` has no argument named `{}`", n.name),
                    n.span,
                    "unknown argument",
                );
                d = d.with_help(match crate::names::suggest(&n.name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if allowed.is_empty() => format!("`{f}` takes only positional arguments"),
                    None => format!("`{f}` accepts: {}", allowed.join(", ")),
                });
                cx.err(d);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn arity(cx: &mut Cx, f: &str, n: usize, range: (usize, usize), span: Span, forms: &str) -> bool {
    if n < range.0 || n > range.1 {
        let want = if range.0 == range.1 {
            format!("{}", range.0)
        } else {
            format!("{} to {}", range.0, range.1)
        };
        cx.err(
            Diagnostic::error(
                codes::WRONG_ARITY,
                format!("`{f}` takes {want} argument(s), found {n}"),
                span,
                format!("{n} argument(s)"),
            )
            .with_help(format!("usage: {forms}")),
        );
        return false;
    }
    true
}

fn no_type_args(cx: &mut Cx, f: &str, targs: &[TypeExpr]) -> bool {
    if let Some(t) = targs.first() {
        cx.err(Diagnostic::error(
            codes::WRONG_ARITY,
            format!("`{f}` takes no type arguments"),
            t.span,
            "unexpected type argument",
        ));
        return false;
    }
    true
}

fn val(cx: &mut Cx, e: &Expr) -> Option<ValueId> {
    let ev = expr(cx, e);
    value(cx, ev, e.span)
}

/// A tile value (scalars rejected).
fn tile(cx: &mut Cx, e: &Expr, f: &str) -> Option<(ValueId, TileType)> {
    let v = val(cx, e)?;
    match cx.ty(v) {
        Type::Tile(t) => Some((v, t)),
        Type::Scalar(d) => {
            cx.err(
                Diagnostic::error(
                    codes::WRONG_KIND,
                    format!("`{f}` needs a tile, found a {d} scalar"),
                    e.span,
                    "scalar",
                )
                .with_help("tiles come from load, zeros/full, arange or other tile ops"),
            );
            None
        }
    }
}

fn axis_arg(cx: &mut Cx, e: &Expr, rank: usize, f: &str) -> Option<u32> {
    let a = const_int(cx, e, "an axis")?;
    if a < 0 || a as usize >= rank {
        cx.err(
            Diagnostic::error(
                codes::BAD_AXIS,
                format!(
                    "axis {a} is out of range for `{f}` (valid: 0..{})",
                    rank.saturating_sub(1)
                ),
                e.span,
                "no such axis",
            )
            .with_help(format!(
                "axes of a rank-{rank} value are 0..{}",
                rank.saturating_sub(1)
            )),
        );
        return None;
    }
    Some(a as u32)
}

fn is_pow2_tile(n: u32) -> bool {
    n.is_power_of_two()
}

pub fn call(
    cx: &mut Cx,
    name: &Ident,
    targs: &[TypeExpr],
    shape: Option<&[Expr]>,
    args: &[Arg],
    span: Span,
) -> Ev {
    let f = name.name.as_str();
    let r = match f {
        "program_id" | "num_programs" => program_id(cx, f, targs, args, span),
        "arange" => arange(cx, targs, args, span),
        "zeros" | "full" => full(cx, f, targs, shape, args, span),
        "load" => load(cx, targs, args, span),
        "store" | "atomic_add" => store(cx, f, targs, args, span),
        "dot" => dot(cx, targs, args, span),
        "transpose" => transpose(cx, targs, args, span),
        "cast" => cast(cx, targs, args, span),
        "dequant" => dequant(cx, targs, args, span),
        "quantize" => quantize(cx, targs, args, span),
        "exp" | "exp2" | "log" | "log2" | "sqrt" | "rsqrt" | "abs" => math(cx, f, targs, args, span),
        "sigmoid" => sigmoid(cx, targs, args, span),
        "max" | "min" => max_min(cx, f, targs, args, span),
        "where" => select(cx, targs, args, span),
        "reduce_sum" | "reduce_max" | "reduce_min" => reduce(cx, f, targs, args, span),
        "cdiv" => cdiv(cx, targs, args, span),
        _ => {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_FUNCTION,
                format!("unknown function `{f}`"),
                name.span,
                "not a builtin",
            );
            d = d.with_help(match crate::names::suggest(f, BUILTINS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "see docs/LANGUAGE.md for the builtins".to_string(),
            });
            cx.err(d);
            // Check the arguments anyway so errors inside them are reported too.
            for a in args {
                let _ = expr(cx, &a.value);
            }
            None
        }
    };
    r.unwrap_or(Ev::Err)
}

fn program_id(cx: &mut Cx, f: &str, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let pos = positional(
        cx,
        f,
        targs,
        args,
        1,
        span,
        &format!("{f}(axis) with axis 0, 1 or 2"),
    )?;
    let axis = axis_arg(cx, pos[0], 3, f)?;
    // The grid decides how many program axes exist (no clause = one axis of 1 program).
    let dims = cx.k.grid.len();
    if dims > 0 && axis as usize >= dims {
        cx.err(
            Diagnostic::error(
                codes::BAD_AXIS,
                format!("`{f}({axis})` but the grid has {dims} dim(s)"),
                pos[0].span,
                "no such grid axis",
            )
            .with_help(format!(
                "use an axis below {dims}, or add a grid dim: `grid(e0, e1[, e2])`"
            )),
        );
        return None;
    }
    let axis = axis as u8;
    let kind = if f == "program_id" {
        OpKind::ProgramId { axis }
    } else {
        OpKind::NumPrograms { axis }
    };
    Some(Ev::Val(cx.emit1(kind, Type::Scalar(DType::I32), span)))
}

fn arange(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let pos = positional(
        cx,
        "arange",
        targs,
        args,
        1,
        span,
        "arange(N): i32 tile [0, 1, ..., N-1]",
    )?;
    let n = const_extent(cx, pos[0], "the length of arange")?;
    Some(Ev::Val(cx.emit1(
        OpKind::Arange { n },
        Type::Tile(TileType::plain(DType::I32, vec![n])),
        span,
    )))
}

fn one_dtype(cx: &mut Cx, f: &str, targs: &[TypeExpr], span: Span, example: &str) -> Option<DType> {
    if targs.len() != 1 {
        cx.err(
            Diagnostic::error(
                codes::WRONG_ARITY,
                format!("`{f}` takes one type argument, found {}", targs.len()),
                span,
                "type argument missing",
            )
            .with_help(format!("e.g. `{example}`")),
        );
        return None;
    }
    crate::types::dtype_of(cx, &targs[0])
}

fn full(
    cx: &mut Cx,
    f: &str,
    targs: &[TypeExpr],
    shape: Option<&[Expr]>,
    args: &[Arg],
    span: Span,
) -> Option<Ev> {
    let example = if f == "zeros" {
        "zeros<f32>[BM, BN]"
    } else {
        "full<f32>[BM](-inf)"
    };
    let d = one_dtype(cx, f, targs, span, example)?;
    let mut dims = Vec::new();
    for e in shape.unwrap_or_default() {
        dims.push(const_extent(cx, e, "a tile dimension"));
    }
    let dims: Vec<u32> = dims.into_iter().collect::<Option<_>>()?;
    if dims.is_empty() {
        cx.err(
            Diagnostic::error(
                codes::WRONG_KIND,
                format!("`{f}` needs a shape"),
                span,
                "empty shape",
            )
            .with_help(format!("e.g. `{example}`")),
        );
        return None;
    }
    let a = split(cx, f, args, &[])?;
    let want = if f == "zeros" { (0, 0) } else { (1, 1) };
    if !arity(cx, f, a.pos.len(), want, span, example) {
        return None;
    }
    if !crate::shapes::is_arith(d) {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("`{f}` cannot build a {d} tile"),
                targs[0].span,
                "storage format",
            )
            .with_help("build the tile in f32/bf16/f16/i32 and `cast<T>(...)` it"),
        );
        return None;
    }
    let ty = Type::Tile(TileType::plain(d, dims.clone()));
    if f == "zeros" {
        return Some(Ev::Val(cx.emit1(OpKind::Full { value: 0.0 }, ty, span)));
    }
    let ev = expr(cx, a.pos[0]);
    match ev {
        Ev::Lit(Lit::Float(x)) if is_wide_float(d) => {
            Some(Ev::Val(cx.emit1(OpKind::Full { value: x }, ty, span)))
        }
        Ev::Lit(Lit::Int(x)) if is_wide_float(d) || i32::try_from(x).is_ok() => {
            Some(Ev::Val(cx.emit1(OpKind::Full { value: x as f64 }, ty, span)))
        }
        other => {
            let v = coerce(
                cx,
                other,
                a.pos[0].span,
                &Type::Scalar(d),
                codes::DTYPE_MISMATCH,
                &format!("the fill value of `full<{d}>`"),
            )?;
            Some(Ev::Val(cx.emit1(OpKind::Broadcast { x: v }, ty, span)))
        }
    }
}

fn load(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let a = split(cx, "load", args, &["other"])?;
    if !no_type_args(cx, "load", targs)
        || !arity(
            cx,
            "load",
            a.pos.len(),
            (1, 1),
            span,
            "load(t[m0 .. +BM, k0 .. +BK]) or load(view, other = -inf)",
        )
    {
        return None;
    }
    let c = crate::view::access(cx, a.pos[0], "load")?;
    let dtype = c.view.t.ty.dtype;
    let mut other = 0.0;
    if let Some((_, e)) = a.named.first() {
        match expr(cx, e) {
            Ev::Lit(Lit::Float(x)) if dtype.is_float() => other = x,
            Ev::Lit(Lit::Int(x)) => other = x as f64,
            Ev::Err => return None,
            _ => {
                cx.err(
                    Diagnostic::error(
                        codes::NOT_CONSTANT,
                        "`other` must be a constant of the tensor's dtype",
                        e.span,
                        "not a constant",
                    )
                    .with_help("e.g. `other = 0.0` or `other = -inf`"),
                );
                return None;
            }
        }
        if c.scale.is_some() {
            cx.err(
                Diagnostic::error(
                    codes::BAD_NAMED_ARG,
                    "`other` cannot be used with a scaled tensor",
                    e.span,
                    "masked codes read the zero code",
                )
                .with_help("remove `other`; out-of-range elements of scaled tensors read 0"),
            );
            return None;
        }
    }
    let ty = c.value_type(dtype);
    Some(Ev::Val(cx.emit1(
        OpKind::Load {
            access: c.access,
            other,
        },
        ty,
        span,
    )))
}

fn store(cx: &mut Cx, f: &str, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let pos = positional(
        cx,
        f,
        targs,
        args,
        2,
        span,
        &format!("{f}(t[m0 .. +BM, n0 .. +BN], value)"),
    )?;
    let c = crate::view::access(cx, pos[0], f);
    let ev = expr(cx, pos[1]);
    let c = c?;
    let t = &c.view.t;
    if !t.is_out {
        cx.err(
            Diagnostic::error(
                codes::STORE_NOT_OUT,
                format!("`{f}` into `{}`, which is not an `out` parameter", t.name),
                c.base_span,
                "written here",
            )
            .with_label(t.decl, "declared here without `out`")
            .with_help(format!("declare it writable: `{}: out ...`", t.name)),
        );
        return None;
    }
    let dtype = t.ty.dtype;
    if f == "atomic_add" && !matches!(dtype, DType::F32 | DType::BF16 | DType::F16 | DType::I32) {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("`atomic_add` into {dtype} is not supported"),
                c.base_span,
                format!("{dtype} tensor"),
            )
            .with_label(t.decl, "declared here")
            .with_help("atomic_add accumulates into f32, bf16, f16 or i32 tensors"),
        );
        return None;
    }
    let want = c.value_type(dtype);
    let vspan = pos[1].span;
    let v = match ev {
        Ev::Err => return None,
        Ev::Lit(l) => {
            let s = lit_to(cx, l, dtype, vspan)?;
            crate::shapes::broadcast_to(cx, s, &c.shape, vspan)
        }
        other => value(cx, other, vspan)?,
    };
    let vt = cx.ty(v);
    let v = if vt == want {
        v
    } else if vt.dtype() != dtype || is_scaled(&vt) != c.scale.is_some() {
        let help = if let Some(s) = &c.scale {
            format!(
                "quantize it to the tensor's contract first: `quantize<{}<{dtype}>>(x)`",
                s.family()
            )
        } else if is_scaled(&vt) && vt.dtype() == dtype {
            // A `quantize` result stored as its codes: the scales would be lost.
            format!(
                "a scaled value is codes plus scales, and `{name}` holds only {dtype} codes: declare it scaled to \
store both (e.g. `{name}: out mx<{dtype}>[...]` for `quantize<mx<{dtype}>>`), or store `dequant<T>(x)` into a T tensor",
                name = t.name
            )
        } else if is_scaled(&vt) && matches!(dtype, DType::F32 | DType::BF16 | DType::F16) {
            format!("dequantize it first: `dequant<{dtype}>(x)`")
        } else if is_scaled(&vt) {
            "dequantize it first: `dequant(x)` gives an f32 tile".to_string()
        } else {
            format!("convert it: `cast<{dtype}>(...)`")
        };
        cx.err(
            Diagnostic::error(
                codes::DTYPE_MISMATCH,
                format!(
                    "`{f}` of a {} value into {} tensor `{}`",
                    show_ty(&vt),
                    dtype,
                    t.name
                ),
                vspan,
                format!("this is {}", show_ty(&vt)),
            )
            .with_label(t.decl, format!("`{}` is {dtype}", t.name))
            .with_help(help),
        );
        return None;
    } else if vt.as_tile().is_none() && !c.shape.is_empty() {
        crate::shapes::broadcast_to(cx, v, &c.shape, vspan)
    } else {
        let vs = shape_of(&vt);
        let msg = if vs.len() == c.shape.len() && vs.iter().zip(&c.shape).any(|(a, b)| a > b) {
            format!(
                "the stored tile {} is wider than the view {}",
                show_shape(&vs),
                show_shape(&c.shape)
            )
        } else {
            format!(
                "the stored tile {} does not match the view {}",
                show_shape(&vs),
                show_shape(&c.shape)
            )
        };
        cx.err(
            Diagnostic::error(
                codes::STORE_SHAPE,
                msg,
                vspan,
                format!("shape {}", show_shape(&vs)),
            )
            .with_label(pos[0].span, format!("view of shape {}", show_shape(&c.shape)))
            .with_help("make the view's `+SIZE` extents equal the tile's shape"),
        );
        return None;
    };
    let kind = if f == "store" {
        OpKind::Store {
            access: c.access,
            value: v,
        }
    } else {
        OpKind::AtomicAdd {
            access: c.access,
            value: v,
        }
    };
    cx.emit0(kind, span);
    Some(Ev::Err)
}

fn dot_dtype_ok(d: DType) -> bool {
    matches!(
        d,
        DType::BF16
            | DType::F16
            | DType::F32
            | DType::I8
            | DType::F8E4M3
            | DType::F8E4M3Fnuz
            | DType::F8E5M2
            | DType::F6E2M3
            | DType::F6E3M2
            | DType::F4E2M1
    )
}

/// `f8e4m3`, or `mx<f8e4m3>`-style for a scaled tile (by its scale contract).
fn show_tile_dtype(t: &TileType) -> String {
    match &t.scale {
        None => t.dtype.to_string(),
        Some(s) => format!("{} scaled by {}", t.dtype, s.scale_dtype),
    }
}

fn tile_param_label(cx: &Cx, n: u32) -> Option<(Span, String)> {
    let mut tiles: Vec<(&String, &crate::cx::TileConst)> = cx.tiles.iter().collect();
    tiles.sort_by_key(|(_, t)| t.span.lo);
    tiles
        .into_iter()
        .find(|(_, t)| t.value == i64::from(n))
        .map(|(name, t)| (t.span, format!("tile parameter `{name}` = {n} declared here")))
}

fn dot(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let a = split(cx, "dot", args, &[])?;
    if !no_type_args(cx, "dot", targs)
        || !arity(
            cx,
            "dot",
            a.pos.len(),
            (2, 3),
            span,
            "dot(a, b) or dot(a, b, acc): acc + a @ b with a [M, K], b [K, N]",
        )
    {
        return None;
    }
    let ta = tile(cx, a.pos[0], "dot");
    let tb = tile(cx, a.pos[1], "dot");
    let acc_ev = a.pos.get(2).map(|e| (expr(cx, e), e.span));
    let ((av, at), (bv, bt)) = (ta?, tb?);
    for (t, e) in [(&at, a.pos[0]), (&bt, a.pos[1])] {
        if t.shape.len() != 2 {
            cx.err(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!(
                        "dot operands are rank-2 tiles, found shape {}",
                        show_shape(&t.shape)
                    ),
                    e.span,
                    format!("shape {}", show_shape(&t.shape)),
                )
                .with_help("load 2-d tiles: `load(a[m0 .. +BM, k0 .. +BK])`"),
            );
            return None;
        }
        if !dot_dtype_ok(t.dtype) {
            cx.err(
                Diagnostic::error(
                    codes::UNSUPPORTED_DTYPE,
                    format!("dot does not take {} operands", t.dtype),
                    e.span,
                    format!("{} tile", t.dtype),
                )
                .with_help("dot operands are bf16, f16, f32, i8 or fp8/fp6/fp4 (plain or scaled)"),
            );
            return None;
        }
    }
    let (m, k, k2, n) = (at.shape[0], at.shape[1], bt.shape[0], bt.shape[1]);
    if k != k2 {
        cx.err(
            Diagnostic::error(
                codes::DOT_INNER_DIM,
                format!(
                    "dot inner dims differ: a is {} (K = {k}) but b is {} (K = {k2})",
                    show_shape(&at.shape),
                    show_shape(&bt.shape)
                ),
                a.pos[1].span,
                format!("b is {} (K = {k2})", show_shape(&bt.shape)),
            )
            .with_label(a.pos[0].span, format!("a is {} (K = {k})", show_shape(&at.shape)))
            .with_help(if m == k2 || n == k {
                "b must be [K, N]; a weight stored [N, K] is used as `transpose(tb)`".to_string()
            } else {
                "a must be [M, K] and b [K, N] with the same K".to_string()
            }),
        );
        return None;
    }
    for (dim, what, e) in [(m, "M", a.pos[0]), (k, "K", a.pos[0]), (n, "N", a.pos[1])] {
        if !is_pow2_tile(dim) {
            let mut d = Diagnostic::error(
                codes::NOT_POW2,
                format!("dot tile dim {what} = {dim} is not a power of two"),
                e.span,
                format!("{what} = {dim}"),
            )
            .with_help(format!(
                "use {} or {} (ragged problem edges are masked automatically)",
                1u32 << (31 - dim.leading_zeros()),
                dim.next_power_of_two()
            ));
            if let Some((s, msg)) = tile_param_label(cx, dim) {
                d = d.with_label(s, msg);
            }
            cx.err(d);
            return None;
        }
    }
    // An integer dot is i8 x i8 into i32; an i8 operand never meets a float one, plain or scaled
    // (the verifier and the interpreter have no mixed integer/float dot).
    if (at.dtype == DType::I8) != (bt.dtype == DType::I8) {
        let (int_e, int_t, float_e, float_t) = if at.dtype == DType::I8 {
            (a.pos[0], &at, a.pos[1], &bt)
        } else {
            (a.pos[1], &bt, a.pos[0], &at)
        };
        let float_name = show_tile_dtype(float_t);
        cx.err(
            Diagnostic::error(
                codes::DTYPE_MISMATCH,
                format!(
                    "dot mixes an integer operand ({}) with a float one ({float_name})",
                    int_t.dtype
                ),
                int_e.span,
                format!("this is {}", int_t.dtype),
            )
            .with_label(float_e.span, format!("this is {float_name}"))
            .with_help(
                "an integer dot is i8 x i8 (into i32); for a float dot convert the i8 operand, e.g. \
                 `cast<bf16>(...)`",
            ),
        );
        return None;
    }
    // Plain operands must agree (fp8 variants may mix); scaled ones must fit the contract.
    let (sa, sb) = (at.scale.clone(), bt.scale.clone());
    if sa.is_none() && sb.is_none() {
        let fp8 = |d: DType| matches!(d, DType::F8E4M3 | DType::F8E5M2 | DType::F8E4M3Fnuz);
        if at.dtype != bt.dtype && !(fp8(at.dtype) && fp8(bt.dtype)) {
            cx.err(
                Diagnostic::error(
                    codes::DTYPE_MISMATCH,
                    format!("dot operands have different dtypes {} and {}", at.dtype, bt.dtype),
                    a.pos[1].span,
                    format!("this is {}", bt.dtype),
                )
                .with_label(a.pos[0].span, format!("this is {}", at.dtype))
                .with_help(format!("convert one operand, e.g. `cast<{}>(...)`", at.dtype)),
            );
            return None;
        }
    }
    let check_side = |cx: &mut Cx, s: &ScaleSpec, e: &Expr, k_axis: usize, other: u32, which: &str| -> bool {
        let (bk, bo) = (s.block[k_axis], s.block[1 - k_axis]);
        if bk == 1 || (bo > 1 && bo % other != 0) {
            let why = if bk == 1 {
                format!("`{which}` is not scaled along K")
            } else {
                format!(
                    "the scale block {bo} along {} does not cover the tile extent {other}",
                    if which == "a" { "M" } else { "N" }
                )
            };
            cx.err(
                Diagnostic::error(codes::SCALED_DOT, format!("scaled dot: {why} (block {})", show_shape(&s.block)), e.span, format!("scaled {}", show_shape(&s.block)))
                    .with_help("scale operands along K: declare weights [N, K] with the scale on the last axis (the default) and use `transpose(tb)`"),
            );
            return false;
        }
        true
    };
    if let Some(s) = &sa
        && !check_side(cx, s, a.pos[0], 1, m, "a")
    {
        return None;
    }
    if let Some(s) = &sb
        && !check_side(cx, s, a.pos[1], 0, n, "b")
    {
        return None;
    }
    if let (Some(x), Some(y)) = (&sa, &sb)
        && (x.scale_dtype != y.scale_dtype || x.block[1] != y.block[0])
    {
        cx.err(
            Diagnostic::error(
                codes::SCALED_DOT,
                format!("scaled dot operands have different contracts: {} scales per {} and {} scales per {} along K", x.scale_dtype, x.block[1], y.scale_dtype, y.block[0]),
                a.pos[1].span,
                format!("{} per {}", y.scale_dtype, y.block[0]),
            )
            .with_label(a.pos[0].span, format!("{} per {}", x.scale_dtype, x.block[1]))
            .with_help("use one contract for both operands (e.g. both mx<...>), or `dequant` one of them"),
        );
        return None;
    }
    let int = at.dtype == DType::I8 && sa.is_none();
    let acc_d = if int { DType::I32 } else { DType::F32 };
    let acc_t = Type::Tile(TileType::plain(acc_d, vec![m, n]));
    let acc = match acc_ev {
        None => cx.emit1(OpKind::Full { value: 0.0 }, acc_t.clone(), span),
        Some((ev, s)) => {
            if let Ev::Val(v) = &ev {
                let t = cx.ty(*v);
                if t.dtype() == acc_d && shape_of(&t) != vec![m, n] && t.as_tile().is_some() {
                    cx.err(
                        Diagnostic::error(
                            codes::SHAPE_MISMATCH,
                            format!(
                                "dot accumulator is {} but a @ b is {}",
                                show_shape(&shape_of(&t)),
                                show_shape(&[m, n])
                            ),
                            s,
                            format!("shape {}", show_shape(&shape_of(&t))),
                        )
                        .with_help(format!("use an accumulator of shape {}", show_shape(&[m, n]))),
                    );
                    return None;
                }
            }
            coerce(cx, ev, s, &acc_t, codes::DTYPE_MISMATCH, "dot accumulator")?
        }
    };
    Some(Ev::Val(cx.emit1(OpKind::Dot { a: av, b: bv, acc }, acc_t, span)))
}

/// The `n` positional arguments of a builtin that takes no type and no named arguments (each
/// violation reported, `usage` shown for a wrong count).
fn positional<'a>(
    cx: &mut Cx,
    f: &str,
    targs: &[TypeExpr],
    args: &'a [Arg],
    n: usize,
    span: Span,
    usage: &str,
) -> Option<Vec<&'a Expr>> {
    let a = split(cx, f, args, &[])?;
    if !no_type_args(cx, f, targs) || !arity(cx, f, a.pos.len(), (n, n), span, usage) {
        return None;
    }
    Some(a.pos)
}

fn single<'a>(
    cx: &mut Cx,
    f: &str,
    targs: &[TypeExpr],
    args: &'a [Arg],
    span: Span,
    usage: &str,
) -> Option<&'a Expr> {
    positional(cx, f, targs, args, 1, span, usage).map(|pos| pos[0])
}

fn transpose(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let e = single(
        cx,
        "transpose",
        targs,
        args,
        span,
        "transpose(x) for a rank-2 tile",
    )?;
    let (v, t) = tile(cx, e, "transpose")?;
    if t.shape.len() != 2 {
        cx.err(
            Diagnostic::error(
                codes::SHAPE_MISMATCH,
                format!("transpose needs a rank-2 tile, found {}", show_shape(&t.shape)),
                e.span,
                "not rank 2",
            )
            .with_help("insert axes with `x[:, None]`"),
        );
        return None;
    }
    let mut nt = t.clone();
    nt.shape.swap(0, 1);
    if let Some(s) = &mut nt.scale {
        s.block.swap(0, 1);
    }
    Some(Ev::Val(cx.emit1(
        OpKind::Transpose { x: v },
        Type::Tile(nt),
        span,
    )))
}

fn cast(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let to = one_dtype(cx, "cast", targs, span, "cast<bf16>(acc)")?;
    let a = split(cx, "cast", args, &[])?;
    if !arity(cx, "cast", a.pos.len(), (1, 1), span, "cast<T>(x)") {
        return None;
    }
    let ev = expr(cx, a.pos[0]);
    let v = match ev {
        Ev::Lit(l) if is_wide_float(to) || to.is_int() => {
            return lit_to(cx, l, to, a.pos[0].span).map(Ev::Val);
        }
        other => value(cx, other, a.pos[0].span)?,
    };
    let t = cx.ty(v);
    if is_scaled(&t) {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("cannot cast a scaled tile ({})", show_ty(&t)),
                a.pos[0].span,
                "scaled tile",
            )
            .with_help(format!("apply its scales with `dequant<{to}>(x)`")),
        );
        return None;
    }
    if matches!(to, DType::E8M0 | DType::UE4M3) || t.dtype() == DType::I1 && !to.is_int() {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("cannot cast {} to {to}", t.dtype()),
                span,
                "unsupported cast",
            )
            .with_help("scale formats are produced by `quantize`; booleans select with `where(c, a, b)`"),
        );
        return None;
    }
    Some(Ev::Val(cx.emit1(
        OpKind::Cast { x: v, to },
        with_shape(to, &shape_of(&t)),
        span,
    )))
}

fn dequant(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let to = if targs.is_empty() {
        DType::F32
    } else {
        one_dtype(cx, "dequant", targs, span, "dequant<bf16>(x)")?
    };
    if !is_wide_float(to) {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("dequant produces f32, bf16 or f16, not {to}"),
                targs.first().map(|t| t.span).unwrap_or(span),
                "invalid target",
            )
            .with_help("write `dequant<bf16>(x)` or `dequant(x)` (f32)"),
        );
        return None;
    }
    let a = split(cx, "dequant", args, &[])?;
    if !arity(
        cx,
        "dequant",
        a.pos.len(),
        (1, 2),
        span,
        "dequant(x) for a scaled tile, or dequant(q, s) for codes q and scales s",
    ) {
        return None;
    }
    let (xv, xt) = tile(cx, a.pos[0], "dequant")?;
    if a.pos.len() == 1 {
        if xt.scale.is_none() {
            cx.err(
                Diagnostic::error(codes::WRONG_KIND, format!("dequant(x) needs a scaled tile, found {}", show_ty(&Type::Tile(xt.clone()))), a.pos[0].span, "no scales")
                    .with_help("load it from an mx<...>/nv<...>/scaled<...> tensor, or pass the scales: `dequant(q, s)`; plain values convert with `cast<T>(x)`"),
            );
            return None;
        }
        let ty = Type::Tile(TileType::plain(to, xt.shape.clone()));
        return Some(Ev::Val(cx.emit1(
            OpKind::Dequant {
                x: xv,
                scale: None,
                to,
            },
            ty,
            span,
        )));
    }
    let (sv, st) = tile(cx, a.pos[1], "dequant")?;
    if xt.scale.is_some() || !xt.dtype.is_narrow_float() || xt.dtype.is_scale_format() {
        cx.err(
            Diagnostic::error(
                codes::WRONG_KIND,
                format!(
                    "dequant(q, s) needs plain fp8/fp6/fp4 codes, found {}",
                    show_ty(&Type::Tile(xt.clone()))
                ),
                a.pos[0].span,
                "not codes",
            )
            .with_help("load codes from a plain narrow tensor, e.g. `q: f4e2m1[N, K]`"),
        );
        return None;
    }
    if !st.dtype.is_scale_format() || st.scale.is_some() {
        cx.err(
            Diagnostic::error(
                codes::WRONG_KIND,
                format!("dequant scales must be e8m0, ue4m3 or f32, found {}", st.dtype),
                a.pos[1].span,
                "not a scale tile",
            )
            .with_help("load scales from e.g. `s: e8m0[N, K / 32]`"),
        );
        return None;
    }
    let mut block = Vec::new();
    let ok =
        xt.shape.len() == st.shape.len() && xt.shape.iter().zip(&st.shape).all(|(q, s)| *s > 0 && q % s == 0);
    if ok {
        block = xt.shape.iter().zip(&st.shape).map(|(q, s)| q / s).collect();
    }
    let valid_block = |b: u32| match st.dtype {
        DType::E8M0 => b == 1 || b == 32,
        DType::UE4M3 => b == 1 || b == 16,
        _ => b.is_power_of_two(),
    };
    if !ok || !block.iter().all(|b| valid_block(*b)) {
        let need = match st.dtype {
            DType::E8M0 => "e8m0 scales cover 32 codes each",
            DType::UE4M3 => "ue4m3 scales cover 16 codes each",
            _ => "f32 scales cover a power-of-two block",
        };
        cx.err(
            Diagnostic::error(
                codes::SCALE_BLOCK_TILE,
                format!(
                    "scale tile {} does not fit codes tile {}",
                    show_shape(&st.shape),
                    show_shape(&xt.shape)
                ),
                a.pos[1].span,
                format!("scales {}", show_shape(&st.shape)),
            )
            .with_label(a.pos[0].span, format!("codes {}", show_shape(&xt.shape)))
            .with_help(format!(
                "{need}: load the scales with extents = code extents / block (e.g. `+BK / 32`)"
            )),
        );
        return None;
    }
    let ty = Type::Tile(TileType::plain(to, xt.shape.clone()));
    Some(Ev::Val(cx.emit1(
        OpKind::Dequant {
            x: xv,
            scale: Some(sv),
            to,
        },
        ty,
        span,
    )))
}

fn quantize(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    if targs.len() != 1 {
        cx.err(
            Diagnostic::error(
                codes::WRONG_ARITY,
                "`quantize` takes one scaled type argument",
                span,
                "missing type",
            )
            .with_help("e.g. `quantize<mx<f8e4m3>>(x)` or `quantize<nv<f4e2m1>>(x, gs)`"),
        );
        return None;
    }
    let ty = &targs[0];
    let fam = ty.name.name.as_str();
    if !matches!(fam, "mx" | "nv") || ty.dims.is_some() {
        cx.err(
            Diagnostic::error(
                codes::BAD_SCALED_TYPE,
                format!("`quantize<{}>` is not a tile scale contract", fam),
                ty.span,
                "expected mx<...> or nv<...>",
            )
            .with_help("e.g. `quantize<mx<f8e4m3>>(x)` or `quantize<nv<f4e2m1>>(x, gs)`"),
        );
        return None;
    }
    let mut elem = None;
    let mut axis_arg_v: Option<(u64, Span)> = None;
    for a in &ty.args {
        match a {
            TypeArg::Type(t) if elem.is_none() => elem = crate::types::dtype_of(cx, t).map(|d| (d, t.span)),
            TypeArg::Named(k, ArgValue::Int(i)) if k.name == "axis" => {
                axis_arg_v = i.value.map(|v| (v, i.span))
            }
            other => {
                let s = match other {
                    TypeArg::Type(t) => t.span,
                    TypeArg::Named(k, _) => k.span,
                };
                cx.err(
                    Diagnostic::error(
                        codes::BAD_NAMED_ARG,
                        "unexpected argument in the quantize type",
                        s,
                        "not accepted",
                    )
                    .with_help(format!("write `{fam}<ELEM>` or `{fam}<ELEM, axis = n>`")),
                );
                return None;
            }
        }
    }
    let (elem, espan) = elem?;
    let ok_elem = if fam == "nv" {
        elem == DType::F4E2M1
    } else {
        matches!(
            elem,
            DType::F8E4M3 | DType::F8E5M2 | DType::F6E2M3 | DType::F6E3M2 | DType::F4E2M1
        )
    };
    if !ok_elem {
        cx.err(
            Diagnostic::error(
                codes::BAD_SCALED_TYPE,
                format!("{elem} cannot be the element of `{fam}`"),
                espan,
                "invalid element",
            )
            .with_help(if fam == "nv" {
                "NVFP4 elements are f4e2m1"
            } else {
                "MX elements are f8e4m3, f8e5m2, f6e2m3, f6e3m2 or f4e2m1"
            }),
        );
        return None;
    }
    let a = split(cx, "quantize", args, &[])?;
    let want = if fam == "nv" { (2, 2) } else { (1, 1) };
    if !arity(
        cx,
        "quantize",
        a.pos.len(),
        want,
        span,
        if fam == "nv" {
            "quantize<nv<f4e2m1>>(x, gs) with gs the f32 per-tensor scale"
        } else {
            "quantize<mx<f8e4m3>>(x)"
        },
    ) {
        if fam == "nv" && a.pos.len() == 1 {
            cx.err(
                Diagnostic::error(
                    codes::NV_NO_GLOBAL,
                    "NVFP4 quantize without its per-tensor scale",
                    span,
                    "no per-tensor scale",
                )
                .with_help("pass the f32 per-tensor scale: `quantize<nv<f4e2m1>>(x, gs)`"),
            );
        }
        return None;
    }
    let (xv, xt) = tile(cx, a.pos[0], "quantize")?;
    if !is_wide_float(xt.dtype) || xt.scale.is_some() {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!(
                    "quantize needs an f32/bf16/f16 tile, found {}",
                    show_ty(&Type::Tile(xt.clone()))
                ),
                a.pos[0].span,
                "not a wide float tile",
            )
            .with_help("convert first with `cast<f32>(x)` or `dequant(x)`"),
        );
        return None;
    }
    let rank = xt.shape.len();
    let axis = match axis_arg_v {
        None => rank - 1,
        Some((v, _)) if (v as usize) < rank => v as usize,
        Some((v, s)) => {
            cx.err(Diagnostic::error(
                codes::BAD_AXIS,
                format!("axis {v} is out of range for a rank-{rank} tile"),
                s,
                "no such axis",
            ));
            return None;
        }
    };
    let b = if fam == "mx" { 32 } else { 16 };
    if xt.shape[axis] % b != 0 {
        cx.err(
            Diagnostic::error(
                codes::SCALE_BLOCK_TILE,
                format!(
                    "scale block {b} does not divide the tile extent {} along axis {axis}",
                    xt.shape[axis]
                ),
                a.pos[0].span,
                format!("shape {}", show_shape(&xt.shape)),
            )
            .with_label(ty.span, format!("this scale block ({b}) was declared here"))
            .with_help(format!("quantize tiles whose axis {axis} is a multiple of {b}")),
        );
        return None;
    }
    let mut block = vec![1u32; rank];
    block[axis] = b;
    let global = if fam == "nv" {
        let ev = expr(cx, a.pos[1]);
        Some(coerce(
            cx,
            ev,
            a.pos[1].span,
            &Type::Scalar(DType::F32),
            codes::BAD_GLOBAL_SCALE,
            "the NVFP4 per-tensor scale",
        )?)
    } else {
        None
    };
    let spec = ScaleSpec {
        scale_dtype: if fam == "mx" { DType::E8M0 } else { DType::UE4M3 },
        block,
        global: fam == "nv",
        layout: ScaleLayout::Linear,
    };
    let rt = Type::Tile(TileType {
        dtype: elem,
        shape: xt.shape.clone(),
        scale: Some(spec.clone()),
        layout: tessera_ir::TileLayout::Logical,
    });
    Some(Ev::Val(cx.emit1(
        OpKind::Quantize {
            x: xv,
            elem,
            spec,
            global,
        },
        rt,
        span,
    )))
}

fn math(cx: &mut Cx, f: &str, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let e = single(cx, f, targs, args, span, &format!("{f}(x)"))?;
    let op = match f {
        "exp" => UnOp::Exp,
        "exp2" => UnOp::Exp2,
        "log" => UnOp::Log,
        "log2" => UnOp::Log2,
        "sqrt" => UnOp::Sqrt,
        "rsqrt" => UnOp::Rsqrt,
        _ => UnOp::Abs,
    };
    let ev = expr(cx, e);
    Some(unary_op(cx, op, ev, e.span, span))
}

/// `sigmoid(x) = 1 / (1 + exp(-x))`, expanded here so backends need no extra op.
fn sigmoid(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let e = single(cx, "sigmoid", targs, args, span, "sigmoid(x)")?;
    let ev = expr(cx, e);
    let neg = unary_op(cx, UnOp::Neg, ev, e.span, span);
    let ex = unary_op(cx, UnOp::Exp, neg, e.span, span);
    let den = crate::expr::binary(
        cx,
        tessera_syntax::BinaryOp::Add,
        (Ev::Lit(Lit::Float(1.0)), span),
        (ex, span),
        span,
    );
    Some(crate::expr::binary(
        cx,
        tessera_syntax::BinaryOp::Div,
        (Ev::Lit(Lit::Float(1.0)), span),
        (den, span),
        span,
    ))
}

fn max_min(cx: &mut Cx, f: &str, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let pos = positional(
        cx,
        f,
        targs,
        args,
        2,
        span,
        &format!("{f}(a, b) elementwise; reduce along an axis with reduce_{f}(x, axis)"),
    )?;
    let x = (expr(cx, pos[0]), pos[0].span);
    let y = (expr(cx, pos[1]), pos[1].span);
    if let (Ev::Lit(Lit::Int(p)), Ev::Lit(Lit::Int(q))) = (&x.0, &y.0) {
        return Some(Ev::Lit(Lit::Int(if f == "max" { *p.max(q) } else { *p.min(q) })));
    }
    Some(binop_values(
        cx,
        if f == "max" { BinOp::Max } else { BinOp::Min },
        x,
        y,
        span,
    ))
}

fn select(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let pos = positional(cx, "where", targs, args, 3, span, "where(cond, a, b)")?;
    let c = (expr(cx, pos[0]), pos[0].span);
    let x = (expr(cx, pos[1]), pos[1].span);
    let y = (expr(cx, pos[2]), pos[2].span);
    select_ev(cx, c, x, y, span)
}

/// `where(c, x, y)` on checked operands (also builds `cdiv`'s rounding step).
fn select_ev(cx: &mut Cx, c: (Ev, Span), x: (Ev, Span), y: (Ev, Span), span: Span) -> Option<Ev> {
    let cv = match c.0 {
        Ev::Lit(Lit::Bool(b)) => lit_to(cx, Lit::Bool(b), DType::I1, c.1)?,
        other => value(cx, other, c.1)?,
    };
    if cx.ty(cv).dtype() != DType::I1 {
        let t = cx.ty(cv);
        cx.err(
            Diagnostic::error(
                codes::DTYPE_MISMATCH,
                format!("the condition of `where` must be boolean, found {}", show_ty(&t)),
                c.1,
                format!("this is {}", show_ty(&t)),
            )
            .with_help("compare to get a boolean, e.g. `where(cols < n, x, 0.0)`"),
        );
        return None;
    }
    let (vals, d, shape) = unify_broadcast(cx, &[x, y], span)?;
    let shapes = [(shape.clone(), span), (shape_of(&cx.ty(cv)), c.1)];
    let shape = crate::shapes::common_shape(cx, &shapes, span)?;
    let cv = crate::shapes::broadcast_to(cx, cv, &shape, c.1);
    let av = crate::shapes::broadcast_to(cx, vals[0], &shape, span);
    let bv = crate::shapes::broadcast_to(cx, vals[1], &shape, span);
    Some(Ev::Val(cx.emit1(
        OpKind::Select {
            cond: cv,
            a: av,
            b: bv,
        },
        with_shape(d, &shape),
        span,
    )))
}

fn reduce(cx: &mut Cx, f: &str, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    let a = split(cx, f, args, &["axis"])?;
    let n = a.pos.len() + a.named.len();
    if !no_type_args(cx, f, targs)
        || !arity(cx, f, n, (2, 2), span, &format!("{f}(x, axis = 1)"))
        || a.pos.is_empty()
    {
        if a.pos.is_empty() && n == 2 {
            cx.err(Diagnostic::error(
                codes::WRONG_ARITY,
                format!("`{f}` needs the tile as its first argument"),
                span,
                "missing tile",
            ));
        }
        return None;
    }
    let (v, t) = tile(cx, a.pos[0], f)?;
    let axis_e = a.named.first().map(|(_, e)| *e).or(a.pos.get(1).copied())?;
    let axis = axis_arg(cx, axis_e, t.shape.len(), f)?;
    if t.scale.is_some() || !crate::shapes::is_arith(t.dtype) {
        cx.err(
            Diagnostic::error(
                codes::UNSUPPORTED_DTYPE,
                format!("`{f}` is not defined on {}", show_ty(&Type::Tile(t.clone()))),
                a.pos[0].span,
                "unsupported tile",
            )
            .with_help("reduce f32/bf16/f16/i32 tiles; dequant or cast narrow formats first"),
        );
        return None;
    }
    let kind = match f {
        "reduce_sum" => ReduceKind::Sum,
        "reduce_max" => ReduceKind::Max,
        _ => ReduceKind::Min,
    };
    let mut shape = t.shape.clone();
    shape.remove(axis as usize);
    Some(Ev::Val(cx.emit1(
        OpKind::Reduce { kind, x: v, axis },
        with_shape(t.dtype, &shape),
        span,
    )))
}

/// `cdiv(a, b)`: the integer `ceil(a / b)` for every sign of `a` and `b`. It is the truncating
/// quotient `q = a / b`, plus one when the remainder `r = a % b` is nonzero and has the divisor's
/// sign: then the exact quotient is positive and truncation rounded it down. (The textbook
/// `(a + b - 1) / b` is right only for `a >= 0`, `b > 0`: it gave `cdiv(-4, 2) = -1`, and it can
/// overflow.) A constant divisor, the usual case (`cdiv(n, 2)`, `cdiv(K, BK)`), needs one compare.
fn cdiv(cx: &mut Cx, targs: &[TypeExpr], args: &[Arg], span: Span) -> Option<Ev> {
    use tessera_syntax::BinaryOp as B;
    let pos = positional(cx, "cdiv", targs, args, 2, span, "cdiv(a, b) = ceil(a / b)")?;
    let x = (expr(cx, pos[0]), pos[0].span);
    let y = (expr(cx, pos[1]), pos[1].span);
    if let (Ev::Lit(Lit::Int(a)), Ev::Lit(Lit::Int(b))) = (&x.0, &y.0)
        && let Some(q) = tessera_ir::ceil_div(*a, *b)
    {
        return Some(crate::expr::int_lit(cx, q, span));
    }
    let q = crate::expr::binary(cx, B::Div, x.clone(), y.clone(), span);
    match q {
        Ev::Val(v) if !cx.ty(v).dtype().is_int() => {
            let d = cx.ty(v).dtype();
            cx.err(
                Diagnostic::error(
                    codes::UNSUPPORTED_DTYPE,
                    format!("`cdiv` is integer ceiling division, found {d} operands"),
                    span,
                    format!("{d} operands"),
                )
                .with_help("convert the operands first, e.g. `cdiv(cast<i32>(x), 4)`"),
            );
            return None;
        }
        Ev::Val(_) => {}
        // Both literals with a zero divisor (left to the run, like `/`), or already reported.
        other => return Some(other),
    }
    let r = crate::expr::binary(cx, B::Rem, x, y.clone(), span);
    let zero = || (Ev::Lit(Lit::Int(0)), span);
    let up = match y.0 {
        Ev::Lit(Lit::Int(b)) if b > 0 => crate::expr::binary(cx, B::Gt, (r, span), zero(), span),
        Ev::Lit(Lit::Int(b)) if b < 0 => crate::expr::binary(cx, B::Lt, (r, span), zero(), span),
        _ => {
            let rp = crate::expr::binary(cx, B::Gt, (r.clone(), span), zero(), span);
            let bp = crate::expr::binary(cx, B::Gt, y.clone(), zero(), span);
            let rn = crate::expr::binary(cx, B::Lt, (r, span), zero(), span);
            let bn = crate::expr::binary(cx, B::Lt, y, zero(), span);
            let pos = crate::expr::binary(cx, B::And, (rp, span), (bp, span), span);
            let neg = crate::expr::binary(cx, B::And, (rn, span), (bn, span), span);
            crate::expr::binary(cx, B::Or, (pos, span), (neg, span), span)
        }
    };
    let q1 = crate::expr::binary(cx, B::Add, (q.clone(), span), (Ev::Lit(Lit::Int(1)), span), span);
    select_ev(cx, (up, span), (q1, span), (q, span), span)
}
