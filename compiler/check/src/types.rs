//! Parameter types: plain tensors `f32[M, K]`, scaled tensors `mx<..>`, `nv<..>`, `scaled<..>` (with
//! their block-scale contract), FP4 packing, and scalars. Also dtype names used in `zeros<T>` etc.

use crate::cx::Cx;
use crate::names::suggest;
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{DType, Dim, ScaleLayout, ScaleSpec, TensorType};
use tessera_syntax::{ArgValue, DimDef, Ident, TypeArg, TypeExpr};

/// A checked parameter type.
pub enum ParamType {
    Scalar(DType),
    /// The tensor type, plus the name of the NV per-tensor scale parameter when one was given.
    Tensor(TensorType, Option<Ident>),
}

const SCALED_NAMES: [&str; 3] = ["mx", "nv", "scaled"];

pub fn unknown_type(cx: &mut Cx, name: &Ident) {
    let all = DType::ALL.iter().map(|d| d.name()).chain(SCALED_NAMES);
    let mut d = Diagnostic::error(
        codes::UNKNOWN_TYPE,
        format!("unknown type `{}`", name.name),
        name.span,
        "not a type",
    );
    if let Some(s) = suggest(&name.name, all) {
        d = d.with_help(format!("did you mean `{s}`?"));
    } else {
        d = d.with_help(
            "element types: bf16 f16 f32 i8 i32 f8e4m3 f8e4m3fnuz f8e5m2 f6e2m3 f6e3m2 f4e2m1 e8m0 ue4m3",
        );
    }
    cx.err(d);
}

/// A plain dtype name (`f32`, `bf16`, ...) with no arguments or dims.
pub fn dtype_of(cx: &mut Cx, t: &TypeExpr) -> Option<DType> {
    match DType::from_name(&t.name.name) {
        Some(DType::I1) | None => {
            unknown_type(cx, &t.name);
            None
        }
        Some(d) => {
            if !t.args.is_empty() || t.dims.is_some() {
                cx.err(
                    Diagnostic::error(
                        codes::UNKNOWN_TYPE,
                        format!("expected an element type, found `{}` with arguments", t.name.name),
                        t.span,
                        "only an element type is allowed here",
                    )
                    .with_help(format!("write just `{}`", t.name.name)),
                );
                return None;
            }
            Some(d)
        }
    }
}

fn bad_scaled(cx: &mut Cx, span: Span, msg: String, help: &str) {
    cx.err(Diagnostic::error(codes::BAD_SCALED_TYPE, msg, span, "invalid here").with_help(help.to_string()));
}

fn is_element_format(d: DType) -> bool {
    matches!(
        d,
        DType::F8E4M3 | DType::F8E4M3Fnuz | DType::F8E5M2 | DType::F6E2M3 | DType::F6E3M2 | DType::F4E2M1
    )
}

/// Named arguments of a scaled or plain tensor type.
#[derive(Default)]
struct Named {
    axis: Option<(u64, Span)>,
    packed: Option<(u64, Span)>,
    global: Option<Ident>,
    block: Option<(Vec<u64>, Span)>,
}

fn int_arg(cx: &mut Cx, v: &ArgValue, key: &str) -> Option<(u64, Span)> {
    match v {
        ArgValue::Int(i) => match i.value {
            Some(x) => Some((x, i.span)),
            None => {
                cx.err(Diagnostic::error(
                    codes::INT_OVERFLOW,
                    "integer constant overflows",
                    i.span,
                    "too large",
                ));
                None
            }
        },
        other => {
            bad_scaled(
                cx,
                other.span(),
                format!("`{key}` takes an integer"),
                "e.g. `axis = 0`",
            );
            None
        }
    }
}

fn named_args(cx: &mut Cx, args: &[TypeArg], allowed: &[&str]) -> Option<(Vec<TypeExpr>, Named)> {
    let mut pos = Vec::new();
    let mut n = Named::default();
    let mut ok = true;
    for a in args {
        match a {
            TypeArg::Type(t) => pos.push(t.clone()),
            TypeArg::Named(k, v) => {
                if !allowed.contains(&k.name.as_str()) {
                    let mut d = Diagnostic::error(
                        codes::BAD_NAMED_ARG,
                        format!("unknown type argument `{}`", k.name),
                        k.span,
                        "not accepted here",
                    );
                    d = d.with_help(if allowed.is_empty() {
                        "this type takes no named arguments".to_string()
                    } else {
                        format!("accepted here: {}", allowed.join(", "))
                    });
                    cx.err(d);
                    ok = false;
                    continue;
                }
                match k.name.as_str() {
                    "axis" => n.axis = int_arg(cx, v, "axis"),
                    "packed" => n.packed = int_arg(cx, v, "packed"),
                    "global" => match v {
                        ArgValue::Ident(i) => n.global = Some(i.clone()),
                        other => {
                            bad_scaled(
                                cx,
                                other.span(),
                                "`global` names an f32 scalar parameter".into(),
                                "e.g. `nv<f4e2m1, global = gs>` with a parameter `gs: f32`",
                            );
                            ok = false;
                        }
                    },
                    _ => match v {
                        ArgValue::List(items, s) => {
                            let vals: Option<Vec<u64>> = items.iter().map(|i| i.value).collect();
                            match vals {
                                Some(v) => n.block = Some((v, *s)),
                                None => {
                                    cx.err(Diagnostic::error(
                                        codes::INT_OVERFLOW,
                                        "integer constant overflows",
                                        *s,
                                        "too large",
                                    ));
                                    ok = false;
                                }
                            }
                        }
                        other => {
                            bad_scaled(
                                cx,
                                other.span(),
                                "`block` takes a list, one extent per dim".into(),
                                "e.g. `block = [1, 128]`",
                            );
                            ok = false;
                        }
                    },
                }
            }
        }
    }
    ok.then_some((pos, n))
}

/// Check tensor dims, registering symbolic dims in first-appearance order.
fn dims(cx: &mut Cx, defs: &[DimDef], syms: &mut Vec<String>) -> Option<Vec<Dim>> {
    let mut out = Vec::new();
    let sym = |cx: &mut Cx, id: &Ident, syms: &mut Vec<String>| -> Option<Dim> {
        if let Some(t) = cx.tiles.get(&id.name) {
            return Some(Dim::Const(t.value as u64));
        }
        if cx.params.contains_key(&id.name) {
            cx.err(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("`{}` is a parameter, not a dimension", id.name),
                    id.span,
                    "used as a dim",
                )
                .with_help("dims are new names (bound at launch), tile parameters or integers"),
            );
            return None;
        }
        if !syms.contains(&id.name) {
            cx.syms.insert(id.name.clone(), syms.len() as u32);
            syms.push(id.name.clone());
        }
        Some(Dim::Sym(id.name.clone()))
    };
    for d in defs {
        let dim = match d {
            DimDef::Sym(id) => sym(cx, id, syms)?,
            DimDef::Const(i) => match i.value {
                Some(v) if v > 0 && v <= i64::MAX as u64 => Dim::Const(v),
                Some(_) => {
                    cx.err(Diagnostic::error(
                        codes::NOT_CONSTANT,
                        "a dimension must be positive",
                        i.span,
                        "invalid dim",
                    ));
                    return None;
                }
                None => {
                    cx.err(Diagnostic::error(
                        codes::INT_OVERFLOW,
                        "dimension does not fit in i64",
                        i.span,
                        "too large",
                    ));
                    return None;
                }
            },
            DimDef::Div(id, by, span) => {
                let b = match by.value {
                    Some(b) if b > 0 && b <= i64::MAX as u64 => b,
                    _ => {
                        cx.err(Diagnostic::error(
                            codes::NOT_CONSTANT,
                            "a dimension divisor must be a positive integer",
                            by.span,
                            "invalid divisor",
                        ));
                        return None;
                    }
                };
                match sym(cx, id, syms)? {
                    Dim::Const(c) => Dim::Const(c.div_ceil(b)),
                    Dim::Sym(s) => Dim::CeilDiv(s, b),
                    Dim::CeilDiv(..) => {
                        cx.err(Diagnostic::error(
                            codes::NOT_CONSTANT,
                            "nested dimension division",
                            *span,
                            "not supported",
                        ));
                        return None;
                    }
                }
            }
        };
        out.push(dim);
    }
    Some(out)
}

/// Check a parameter type.
pub fn param_type(cx: &mut Cx, t: &TypeExpr, syms: &mut Vec<String>) -> Option<ParamType> {
    let name = t.name.name.as_str();
    let Some(defs) = &t.dims else {
        if SCALED_NAMES.contains(&name) {
            bad_scaled(
                cx,
                t.span,
                format!("`{name}<...>` is a tensor type and needs dims"),
                "e.g. `a: mx<f8e4m3>[M, K]`",
            );
            return None;
        }
        let d = dtype_of(cx, t)?;
        if !matches!(d, DType::F32 | DType::I32 | DType::F16 | DType::BF16) {
            cx.err(
                Diagnostic::error(
                    codes::UNSUPPORTED_DTYPE,
                    format!("scalar parameters of type {d} are not supported"),
                    t.span,
                    "scalar type",
                )
                .with_help(
                    "scalar parameters are f32, f16, bf16 or i32; a tensor needs dims, e.g. `x: f8e4m3[N]`",
                ),
            );
            return None;
        }
        return Some(ParamType::Scalar(d));
    };
    if defs.is_empty() {
        cx.err(
            Diagnostic::error(
                codes::WRONG_KIND,
                "a tensor needs at least one dimension",
                t.span,
                "no dims",
            )
            .with_help("scalars are written without brackets: `s: f32`"),
        );
        return None;
    }
    let (elem, n, scale_dtype, family) = match name {
        "mx" | "nv" | "scaled" => {
            let allowed: &[&str] = match name {
                "mx" => &["axis", "packed"],
                "nv" => &["axis", "packed", "global"],
                _ => &["block", "packed", "global"],
            };
            let (pos, n) = named_args(cx, &t.args, allowed)?;
            let want = if name == "scaled" { 2 } else { 1 };
            if pos.len() != want {
                let form = match name {
                    "mx" => "mx<f8e4m3>[M, K]",
                    "nv" => "nv<f4e2m1, global = gs>[N, K]",
                    _ => "scaled<f8e4m3, f32, block = [1, 128]>[M, K]",
                };
                cx.err(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        format!("`{name}<...>` takes {want} type argument(s), found {}", pos.len()),
                        t.span,
                        "wrong number of type arguments",
                    )
                    .with_help(format!("e.g. `{form}`")),
                );
                return None;
            }
            let elem = dtype_of(cx, &pos[0])?;
            if !is_element_format(elem) || (name == "nv" && elem != DType::F4E2M1) {
                bad_scaled(
                    cx,
                    pos[0].span,
                    format!("{elem} cannot be the element of a `{name}` scaled type"),
                    if name == "nv" {
                        "NVFP4 elements are f4e2m1"
                    } else {
                        "scaled elements are fp8/fp6/fp4: f8e4m3 f8e5m2 f8e4m3fnuz f6e2m3 f6e3m2 f4e2m1"
                    },
                );
                return None;
            }
            let sd = match name {
                "mx" => DType::E8M0,
                "nv" => DType::UE4M3,
                _ => {
                    let sd = dtype_of(cx, &pos[1])?;
                    if !sd.is_scale_format() {
                        bad_scaled(
                            cx,
                            pos[1].span,
                            format!("{sd} is not a scale format"),
                            "scales are e8m0, ue4m3 or f32",
                        );
                        return None;
                    }
                    sd
                }
            };
            (elem, n, Some(sd), name)
        }
        _ => {
            let d = match DType::from_name(name) {
                Some(DType::I1) | None => {
                    unknown_type(cx, &t.name);
                    return None;
                }
                Some(d) => d,
            };
            let (pos, n) = named_args(cx, &t.args, if d == DType::F4E2M1 { &["packed"] } else { &[] })?;
            if let Some(p) = pos.first() {
                cx.err(
                    Diagnostic::error(
                        codes::WRONG_ARITY,
                        format!("`{name}` takes no type arguments"),
                        p.span,
                        "unexpected",
                    )
                    .with_help(format!("write `{name}[...]`")),
                );
                return None;
            }
            (d, n, None, "plain")
        }
    };
    let dims = dims(cx, defs, syms)?;
    let rank = dims.len();
    let check_axis = |cx: &mut Cx, a: Option<(u64, Span)>, what: &str| -> Option<usize> {
        match a {
            None => Some(rank - 1),
            Some((a, _)) if (a as usize) < rank => Some(a as usize),
            Some((a, s)) => {
                cx.err(
                    Diagnostic::error(
                        codes::BAD_AXIS,
                        format!("{what} axis {a} is out of range for a rank-{rank} tensor"),
                        s,
                        "no such axis",
                    )
                    .with_help(format!("axes are 0..{}", rank - 1)),
                );
                None
            }
        }
    };
    let scale = match (family, scale_dtype) {
        ("plain", _) | (_, None) => None,
        ("scaled", Some(sd)) => {
            let Some((block, bspan)) = n.block.clone() else {
                bad_scaled(
                    cx,
                    t.span,
                    "`scaled<...>` needs `block = [...]`".into(),
                    "e.g. `scaled<f8e4m3, f32, block = [1, 128]>[M, K]`",
                );
                return None;
            };
            if block.len() != rank {
                bad_scaled(
                    cx,
                    bspan,
                    format!("block has {} entries but the tensor has {rank} dims", block.len()),
                    "give one block extent per dim (1 = not blocked)",
                );
                return None;
            }
            for b in &block {
                let ok = match sd {
                    DType::E8M0 => *b == 1 || *b == 32,
                    DType::UE4M3 => *b == 1 || *b == 16,
                    _ => b.is_power_of_two() && *b <= 1 << 16,
                };
                if !ok {
                    let help = match sd {
                        DType::E8M0 => {
                            "e8m0 (MX) scales cover blocks of 32 elements: use 32 (or 1 for unblocked dims)"
                        }
                        DType::UE4M3 => {
                            "ue4m3 (NVFP4) scales cover blocks of 16 elements: use 16 (or 1 for unblocked dims)"
                        }
                        _ => "f32 block extents are powers of two, e.g. 128",
                    };
                    bad_scaled(
                        cx,
                        bspan,
                        format!("block extent {b} is not valid for {sd} scales"),
                        help,
                    );
                    return None;
                }
            }
            Some(ScaleSpec {
                scale_dtype: sd,
                block: block.iter().map(|b| *b as u32).collect(),
                global: n.global.is_some(),
                layout: ScaleLayout::Linear,
            })
        }
        (fam, Some(sd)) => {
            let axis = check_axis(cx, n.axis, "scale")?;
            let b = if fam == "mx" { 32 } else { 16 };
            let mut block = vec![1u32; rank];
            block[axis] = b;
            Some(ScaleSpec {
                scale_dtype: sd,
                block,
                global: fam == "nv",
                layout: ScaleLayout::Linear,
            })
        }
    };
    // Static dims must hold whole scale blocks.
    if let Some(s) = &scale {
        for (i, (d, b)) in dims.iter().zip(&s.block).enumerate() {
            if let Dim::Const(c) = d
                && *b > 1
                && c % u64::from(*b) != 0
            {
                cx.err(
                    Diagnostic::error(
                        codes::DIM_SCALE_BLOCK,
                        format!("dimension {i} is {c}, not a multiple of the scale block {b}"),
                        defs[i].span(),
                        format!("{c} is not a multiple of {b}"),
                    )
                    .with_label(t.span, "this scale block was declared here")
                    .with_help(format!(
                        "use a dimension that is a multiple of {b} (e.g. {})",
                        c.div_ceil(u64::from(*b)) * u64::from(*b)
                    )),
                );
                return None;
            }
        }
    }
    let packed_axis = if elem == DType::F4E2M1 {
        Some(check_axis(cx, n.packed, "packing")?)
    } else {
        if let Some((_, s)) = n.packed {
            bad_scaled(
                cx,
                s,
                format!("`packed` only applies to f4e2m1, not {elem}"),
                "remove `packed = ...`",
            );
            return None;
        }
        None
    };
    if family == "nv" && n.global.is_none() {
        cx.err(
            Diagnostic::error(
                codes::NV_NO_GLOBAL,
                "NVFP4 tensor without its per-tensor scale",
                t.span,
                "`nv<...>` needs `global = <f32 scalar parameter>`",
            )
            .with_help(format!(
                "add an f32 scalar parameter and name it: `nv<{}, global = gs>` with `gs: f32`",
                elem
            ))
            .with_note("NVFP4 values are e2m1 x ue4m3 block scale x f32 per-tensor scale"),
        );
        return None;
    }
    Some(ParamType::Tensor(
        TensorType {
            dtype: elem,
            dims,
            scale,
            packed_axis,
        },
        n.global,
    ))
}
