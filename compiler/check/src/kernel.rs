//! Checking one kernel: signature (tiles first, since dims may name them; then parameters, NV global
//! scales, grid, `@reference` options), then the body.

use crate::cx::{Cx, ParamRef, TensorParam, sp};
use crate::types::{ParamType, param_type};
use std::collections::HashMap;
use tessera_diag::{Diagnostic, codes};
use tessera_ir::{Block, DType, Kernel, Param, ParamId, ParamKind, Type};
use tessera_syntax::KernelDef;

pub fn check_kernel(def: &KernelDef) -> (Kernel, Vec<Diagnostic>) {
    let k = Kernel {
        name: def.name.name.clone(),
        span: sp(def.span),
        params: Vec::new(),
        syms: Vec::new(),
        tiles: Vec::new(),
        grid: Vec::new(),
        body: Block::default(),
        values: Vec::new(),
        attrs: Vec::new(),
        cta: None,
    };
    let mut cx = Cx::new(k);
    cx.k.attrs = crate::sig::attrs(&mut cx, &def.attrs);
    cx.k.tiles = crate::sig::tiles(&mut cx, &def.tiles);

    let mut syms = Vec::new();
    let mut scalar_args = Vec::new();
    let mut globals = Vec::new();
    let mut decls: HashMap<String, tessera_diag::Span> = HashMap::new();
    for p in &def.params {
        if let Some(prev) = decls.get(&p.name.name) {
            cx.err(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("parameter `{}` is declared twice", p.name.name),
                    p.name.span,
                    "second declaration",
                )
                .with_label(*prev, "first declared here")
                .with_help("rename one of them"),
            );
            continue;
        }
        if let Some(t) = cx.tiles.get(&p.name.name) {
            let ts = t.span;
            cx.err(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("parameter `{}` has the name of a tile parameter", p.name.name),
                    p.name.span,
                    "parameter",
                )
                .with_label(ts, "tile parameter declared here"),
            );
            continue;
        }
        if let Some(_s) = cx.syms.get(&p.name.name) {
            cx.err(
                Diagnostic::error(
                    codes::DUPLICATE_NAME,
                    format!("parameter `{}` has the name of a dimension", p.name.name),
                    p.name.span,
                    "parameter",
                )
                .with_help("dims and parameters share one namespace; rename the parameter"),
            );
            continue;
        }
        decls.insert(p.name.name.clone(), p.name.span);
        let Some(pt) = param_type(&mut cx, &p.ty, &mut syms) else {
            // Reported already; later uses of the name stay quiet instead of "unknown name".
            cx.bind(
                &p.name.name,
                crate::cx::Binding::Let {
                    ev: crate::cx::Ev::Err,
                    decl: p.name.span,
                },
            );
            continue;
        };
        match pt {
            ParamType::Scalar(d) => {
                if let Some(o) = p.out {
                    cx.err(
                        Diagnostic::error(
                            codes::WRONG_KIND,
                            "`out` applies to tensors, not scalars",
                            o,
                            "scalar parameter",
                        )
                        .with_help("remove `out`, or give the parameter dims"),
                    );
                }
                let v = cx.k.new_value(Type::Scalar(d), Some(p.name.name.clone()));
                scalar_args.push(v);
                cx.params.insert(
                    p.name.name.clone(),
                    ParamRef::Scalar {
                        value: v,
                        dtype: d,
                        decl: p.name.span,
                    },
                );
                cx.k.params.push(Param {
                    name: p.name.name.clone(),
                    kind: ParamKind::Scalar(d),
                    span: sp(p.span),
                });
            }
            ParamType::Tensor(ty, global) => {
                let id = ParamId(cx.k.params.len() as u32);
                let tp = TensorParam {
                    id,
                    name: p.name.name.clone(),
                    ty: ty.clone(),
                    is_out: p.out.is_some(),
                    decl: p.span,
                    ty_span: p.ty.span,
                };
                cx.params.insert(p.name.name.clone(), ParamRef::Tensor(tp));
                cx.k.params.push(Param {
                    name: p.name.name.clone(),
                    kind: ParamKind::Tensor {
                        ty,
                        is_out: p.out.is_some(),
                    },
                    span: sp(p.span),
                });
                if let Some(g) = global {
                    globals.push((p.name.name.clone(), g));
                }
            }
        }
    }
    // NV per-tensor scales name f32 scalar parameters (which may come later in the list).
    for (tensor, g) in globals {
        match cx.params.get(&g.name).cloned() {
            Some(ParamRef::Scalar {
                dtype: DType::F32, ..
            }) => {
                cx.k.attrs
                    .push((format!("global_scale.{tensor}"), g.name.clone()))
            }
            Some(ParamRef::Scalar { decl, dtype, .. }) => cx.err(
                Diagnostic::error(
                    codes::BAD_GLOBAL_SCALE,
                    format!("per-tensor scale `{}` must be f32, found {dtype}", g.name),
                    g.span,
                    "named here",
                )
                .with_label(decl, format!("declared {dtype} here"))
                .with_help(format!("declare it as `{}: f32`", g.name)),
            ),
            Some(ParamRef::Tensor(t)) => cx.err(
                Diagnostic::error(
                    codes::BAD_GLOBAL_SCALE,
                    format!(
                        "per-tensor scale `{}` must be an f32 scalar, found a tensor",
                        g.name
                    ),
                    g.span,
                    "named here",
                )
                .with_label(t.decl, "declared here")
                .with_help(format!("declare it as `{}: f32`", g.name)),
            ),
            None => crate::names::unknown_name(&mut cx, &g.name, g.span),
        }
    }
    cx.k.syms = syms;
    cx.k.grid = crate::sig::grid(&mut cx, def.grid.as_ref());
    // Options name parameters, so they are checked once every parameter is known.
    crate::sig::reference_options(&mut cx, &def.attrs);

    crate::stmt::block(&mut cx, &def.body);
    let ops = cx.blocks.pop().unwrap_or_default();
    cx.k.body = Block {
        args: scalar_args,
        ops,
    };
    (cx.k, cx.diags)
}
