//! Statements and control flow. `var`s are SSA values rebound on assignment; a `for` carries the
//! outer vars its body assigns (For inits → body args → Yield → results) and an `if` merges the vars
//! its branches assign (Yield in each branch → If results). Definite assignment: a `var` declared
//! without a value is readable only where every path has assigned it.

use crate::cx::{Binding, Cx, Ev, Lit};
use crate::shapes::{coerce, lit_default, lit_to, show_ty};
use tessera_diag::{Diagnostic, Span, codes};
use tessera_ir::{Block as IrBlock, DType, Op, OpKind, Type, ValueId};
use tessera_syntax::{Block, Expr, ExprKind, Stmt};

/// Check a block in a new scope, emitting into the current op block.
pub fn block(cx: &mut Cx, b: &Block) {
    cx.push_scope();
    for s in &b.stmts {
        stmt(cx, s);
    }
    cx.pop_scope();
}

fn stmt(cx: &mut Cx, s: &Stmt) {
    match s {
        Stmt::Let { name, value, .. } => {
            let ev = let_value(cx, value);
            if let Ev::Val(v) = ev {
                cx.name_value(v, &name.name);
            }
            cx.bind(&name.name, Binding::Let { ev, decl: name.span });
        }
        Stmt::Var { name, value, .. } => {
            let (v, ty) = match value {
                None => (None, None),
                Some(e) => match crate::expr::expr(cx, e) {
                    Ev::Lit(l) => match lit_to(cx, l, lit_default(l), e.span) {
                        Some(v) => (Some(v), Some(cx.ty(v))),
                        None => (None, None),
                    },
                    Ev::Val(v) => (Some(v), Some(cx.ty(v))),
                    Ev::Tensor(_) => {
                        crate::shapes::tensor_as_value(cx, e.span);
                        (None, None)
                    }
                    Ev::Err => (None, None),
                },
            };
            if let Some(v) = v {
                cx.name_value(v, &name.name);
            }
            // A failed initialiser still declares the var (as assigned-with-unknown-type is not
            // representable, it stays unassigned; its later uses are then reported only once).
            let poisoned = value.is_some() && v.is_none();
            if poisoned {
                cx.bind(
                    &name.name,
                    Binding::Let {
                        ev: Ev::Err,
                        decl: name.span,
                    },
                );
            } else {
                cx.bind(
                    &name.name,
                    Binding::Var {
                        value: v,
                        ty,
                        decl: name.span,
                    },
                );
            }
        }
        Stmt::Assign { name, value, .. } => assign(cx, name, value),
        Stmt::For {
            var,
            lo,
            hi,
            step,
            body,
            span,
        } => for_loop(cx, var, lo, hi, step.as_ref(), body, *span),
        Stmt::If {
            cond,
            then_block,
            else_block,
            span,
        } => if_stmt(cx, cond, then_block, else_block.as_ref(), *span),
        Stmt::Expr { expr, .. } => {
            let is_effect = matches!(&expr.kind, ExprKind::Call { name, .. } if matches!(name.name.as_str(), "store" | "atomic_add"));
            let _ = crate::expr::expr(cx, expr);
            if !is_effect {
                cx.err(
                    Diagnostic::warning(
                        codes::UNUSED_VALUE,
                        "the value of this expression is not used",
                        expr.span,
                        "result discarded",
                    )
                    .with_help("bind it with `let`, or store it with `store(view, value)`"),
                );
            }
        }
        Stmt::Error(_) => {}
    }
}

/// `let x = <expr>`: a tensor indexed with bounded ranges becomes a sub-view.
fn let_value(cx: &mut Cx, value: &Expr) -> Ev {
    if let ExprKind::Index { base, items } = &value.kind {
        let b = crate::expr::expr(cx, base);
        if let Ev::Tensor(view) = b {
            return crate::view::sub_view(cx, view, items, value.span);
        }
        if matches!(b, Ev::Err) {
            return Ev::Err;
        }
    }
    crate::expr::expr(cx, value)
}

fn assign(cx: &mut Cx, name: &tessera_syntax::Ident, value: &Expr) {
    let ev = crate::expr::expr(cx, value);
    let Some(scope) = cx.scope_of(&name.name) else {
        if cx.params.contains_key(&name.name)
            || cx.tiles.contains_key(&name.name)
            || cx.syms.contains_key(&name.name)
        {
            not_var(cx, name, None);
        } else {
            crate::names::unknown_name(cx, &name.name, name.span);
        }
        return;
    };
    let binding = cx.scopes[scope].get(&name.name).cloned();
    match binding {
        Some(Binding::Var { ty, decl, .. }) => {
            let v = match &ty {
                Some(t) => {
                    let what = format!("assignment to `{}`", name.name);
                    let v = coerce(cx, ev, value.span, t, codes::VAR_TYPE_CHANGE, &what);
                    if v.is_none()
                        && let Some(d) = cx.diags.last_mut().filter(|d| d.code == codes::VAR_TYPE_CHANGE)
                    {
                        let message = format!("`{}` declared here as {}", name.name, show_ty(t));
                        d.labels.push(tessera_diag::Label {
                            span: decl,
                            message,
                            primary: false,
                        });
                    }
                    v
                }
                None => match ev {
                    Ev::Lit(l) => lit_to(cx, l, lit_default(l), value.span),
                    other => crate::shapes::value(cx, other, value.span),
                },
            };
            if let Some(v) = v {
                cx.name_value(v, &name.name);
                let new_ty = cx.ty(v);
                if let Some(Binding::Var { value, ty, .. }) = cx.binding_at_mut(scope, &name.name) {
                    *value = Some(v);
                    if ty.is_none() {
                        *ty = Some(new_ty);
                    }
                }
            }
            // On a type error (already reported) the var keeps its previous value, so later uses
            // are checked against the declared type instead of cascading.
        }
        Some(Binding::Let { decl, .. }) => not_var(cx, name, Some(decl)),
        None => {}
    }
}

fn not_var(cx: &mut Cx, name: &tessera_syntax::Ident, decl: Option<Span>) {
    let mut d = Diagnostic::error(
        codes::ASSIGN_NOT_VAR,
        format!("cannot assign to `{}`: it is not a `var`", name.name),
        name.span,
        "assigned here",
    );
    if let Some(decl) = decl {
        d = d
            .with_label(decl, "declared here (immutable)")
            .with_help(format!("declare it with `var {} = ...;`", name.name));
    } else {
        d = d
            .with_help("parameters, dims and tile parameters are immutable; write tensors with `store(...)`");
    }
    cx.err(d);
}

/// Names assigned anywhere in `b` (in order, without duplicates).
fn assigned_names(b: &Block, out: &mut Vec<String>) {
    for s in &b.stmts {
        match s {
            Stmt::Assign { name, .. } if !out.contains(&name.name) => out.push(name.name.clone()),
            Stmt::For { body, .. } => assigned_names(body, out),
            Stmt::If {
                then_block,
                else_block,
                ..
            } => {
                assigned_names(then_block, out);
                if let Some(e) = else_block {
                    assigned_names(e, out);
                }
            }
            _ => {}
        }
    }
}

/// The outer `var`s (scope index, name) that `blocks` assign.
fn outer_vars(cx: &Cx, blocks: &[&Block]) -> Vec<(usize, String)> {
    let mut names = Vec::new();
    for b in blocks {
        assigned_names(b, &mut names);
    }
    names
        .into_iter()
        .filter_map(|n| {
            let s = cx.scope_of(&n)?;
            matches!(cx.scopes[s].get(&n), Some(Binding::Var { .. })).then_some((s, n))
        })
        .collect()
}

fn var_state(cx: &Cx, (s, n): &(usize, String)) -> Option<Binding> {
    cx.scopes.get(*s).and_then(|m| m.get(n)).cloned()
}

fn set_var_state(cx: &mut Cx, (s, n): &(usize, String), b: Binding) {
    if let Some(m) = cx.scopes.get_mut(*s) {
        m.insert(n.clone(), b);
    }
}

fn var_value(b: &Option<Binding>) -> Option<ValueId> {
    match b {
        Some(Binding::Var { value, .. }) => *value,
        _ => None,
    }
}

fn loop_bound(cx: &mut Cx, e: &Expr, what: &str) -> Option<ValueId> {
    crate::expr::i32_scalar(cx, e, what, "loop bounds and steps are i32 scalars")
}

/// A step that is a compile-time constant must be positive (E0118): a zero step never ends, and a
/// negative one is not a loop form of the language (`i` counts up while `i < hi`). A step known only
/// at run time is checked by the interpreter (E0608) before the loop runs.
fn constant_step(cx: &mut Cx, s: &Expr) {
    // Evaluate quietly: a step that is not constant is fine here, and `loop_bound` reports names.
    let n = cx.diags.len();
    let v = crate::consts::const_int(cx, s, "the loop step");
    cx.diags.truncate(n);
    if let Some(v) = v
        && v <= 0
    {
        cx.err(
            Diagnostic::error(
                codes::BAD_LOOP_STEP,
                format!("loop step {v} is not positive"),
                s.span,
                if v == 0 {
                    "a zero step never ends"
                } else {
                    "a negative step"
                },
            )
            .with_help(
                "loops count up: `for i in lo..hi step s` runs i = lo, lo+s, ... while i < hi, with s > 0",
            ),
        );
    }
}

fn for_loop(
    cx: &mut Cx,
    var: &tessera_syntax::Ident,
    lo: &Expr,
    hi: &Expr,
    step: Option<&Expr>,
    body: &Block,
    span: Span,
) {
    let lo_v = loop_bound(cx, lo, "the loop start");
    let hi_v = loop_bound(cx, hi, "the loop end");
    if let Some(s) = step {
        constant_step(cx, s);
    }
    let step_v = match step {
        Some(s) => loop_bound(cx, s, "the loop step"),
        None => Some(cx.emit1(OpKind::ConstInt { value: 1 }, Type::Scalar(DType::I32), span)),
    };
    let carried: Vec<(usize, String)> = outer_vars(cx, &[body])
        .into_iter()
        .filter(|k| var_value(&var_state(cx, k)).is_some())
        .collect();
    let before: Vec<Option<Binding>> = carried.iter().map(|k| var_state(cx, k)).collect();
    // Vars that are unassigned before the loop may be assigned inside, but stay unassigned after
    // (the loop may run zero times); restore every assigned outer var's state at the end.
    let all_assigned = outer_vars(cx, &[body]);
    let all_before: Vec<Option<Binding>> = all_assigned.iter().map(|k| var_state(cx, k)).collect();

    let inits: Vec<ValueId> = before.iter().filter_map(var_value).collect();
    let iv = cx.k.new_value(Type::Scalar(DType::I32), Some(var.name.clone()));
    let mut args = vec![iv];
    for (k, b) in carried.iter().zip(&before) {
        if let (Some(Binding::Var { ty, decl, .. }), Some(init)) = (b, var_value(b)) {
            let a = cx.k.new_value(cx.ty(init), Some(k.1.clone()));
            args.push(a);
            set_var_state(
                cx,
                k,
                Binding::Var {
                    value: Some(a),
                    ty: ty.clone(),
                    decl: *decl,
                },
            );
        }
    }
    cx.blocks.push(Vec::new());
    cx.push_scope();
    cx.bind(
        &var.name,
        Binding::Let {
            ev: Ev::Val(iv),
            decl: var.span,
        },
    );
    block(cx, body);
    cx.pop_scope();
    let yields: Vec<ValueId> = carried
        .iter()
        .filter_map(|k| var_value(&var_state(cx, k)))
        .collect();
    if !yields.is_empty() {
        cx.emit0(OpKind::Yield { values: yields }, span);
    }
    let ops = cx.blocks.pop().unwrap_or_default();
    for (k, b) in all_assigned.iter().zip(all_before) {
        if let Some(b) = b {
            set_var_state(cx, k, b);
        }
    }
    let (Some(lo), Some(hi), Some(step)) = (lo_v, hi_v, step_v) else {
        return;
    };
    let tys: Vec<Type> = inits.iter().map(|v| cx.ty(*v)).collect();
    let results = cx.emit(
        OpKind::For {
            lo,
            hi,
            step,
            inits,
            body: IrBlock { args, ops },
        },
        tys,
        span,
    );
    for ((k, b), r) in carried.iter().zip(&before).zip(results) {
        cx.name_value(r, &k.1);
        if let Some(Binding::Var { ty, decl, .. }) = b {
            set_var_state(
                cx,
                k,
                Binding::Var {
                    value: Some(r),
                    ty: ty.clone(),
                    decl: *decl,
                },
            );
        }
    }
}

fn if_stmt(cx: &mut Cx, cond: &Expr, then_b: &Block, else_b: Option<&Block>, span: Span) {
    let cv = match crate::expr::expr(cx, cond) {
        Ev::Lit(Lit::Bool(b)) => lit_to(cx, Lit::Bool(b), DType::I1, cond.span),
        other => crate::shapes::value(cx, other, cond.span),
    };
    if let Some(c) = cv {
        let t = cx.ty(c);
        if t != Type::Scalar(DType::I1) {
            cx.err(
                Diagnostic::error(codes::WRONG_KIND, format!("an `if` condition must be a boolean scalar, found {}", show_ty(&t)), cond.span, format!("this is {}", show_ty(&t)))
                    .with_help("compare scalars, e.g. `if causal != 0 { ... }`; for per-element choices use `where(c, a, b)`"),
            );
        }
    }
    let mut blocks: Vec<&Block> = vec![then_b];
    blocks.extend(else_b);
    let vars = outer_vars(cx, &blocks);
    let before: Vec<Option<Binding>> = vars.iter().map(|k| var_state(cx, k)).collect();

    let run = |cx: &mut Cx, b: Option<&Block>| -> (Vec<Op>, Vec<Option<Binding>>) {
        cx.blocks.push(Vec::new());
        if let Some(b) = b {
            block(cx, b);
        }
        let ops = cx.blocks.pop().unwrap_or_default();
        let after: Vec<Option<Binding>> = vars.iter().map(|k| var_state(cx, k)).collect();
        for (k, b) in vars.iter().zip(&before) {
            if let Some(b) = b {
                set_var_state(cx, k, b.clone());
            }
        }
        (ops, after)
    };
    let (mut then_ops, then_after) = run(cx, Some(then_b));
    let (mut else_ops, else_after) = run(cx, else_b);

    // Merge: a var that changed in either branch and is assigned on both paths becomes a result.
    let mut merged: Vec<(usize, ValueId, ValueId)> = Vec::new();
    for (i, b) in before.iter().enumerate() {
        let (t, e) = (var_value(&then_after[i]), var_value(&else_after[i]));
        let (Some(t), Some(e)) = (t, e) else { continue };
        if Some(t) == var_value(b) && Some(e) == var_value(b) {
            continue;
        }
        let (tt, et) = (cx.ty(t), cx.ty(e));
        if tt != et {
            let decl = match b {
                Some(Binding::Var { decl, .. }) => *decl,
                _ => span,
            };
            cx.err(
                Diagnostic::error(
                    codes::VAR_TYPE_CHANGE,
                    format!(
                        "`{}` gets different types in the branches: {} and {}",
                        vars[i].1,
                        show_ty(&tt),
                        show_ty(&et)
                    ),
                    span,
                    "branches disagree",
                )
                .with_label(decl, "declared here")
                .with_help("assign values of one type in both branches (use `cast<T>(...)`)"),
            );
            continue;
        }
        merged.push((i, t, e));
    }
    let Some(c) = cv else { return };
    if !merged.is_empty() {
        then_ops.push(Op {
            kind: OpKind::Yield {
                values: merged.iter().map(|m| m.1).collect(),
            },
            results: Vec::new(),
            span: crate::cx::sp(then_b.span),
        });
        let es = else_b.map(|b| b.span).unwrap_or(span);
        else_ops.push(Op {
            kind: OpKind::Yield {
                values: merged.iter().map(|m| m.2).collect(),
            },
            results: Vec::new(),
            span: crate::cx::sp(es),
        });
    }
    let tys: Vec<Type> = merged.iter().map(|m| cx.ty(m.1)).collect();
    let results = cx.emit(
        OpKind::If {
            cond: c,
            then_block: IrBlock {
                args: Vec::new(),
                ops: then_ops,
            },
            else_block: IrBlock {
                args: Vec::new(),
                ops: else_ops,
            },
        },
        tys,
        span,
    );
    for ((i, _, _), r) in merged.iter().zip(results) {
        let k = &vars[*i];
        cx.name_value(r, &k.1);
        let (ty, decl) = match &before[*i] {
            Some(Binding::Var { ty, decl, .. }) => (ty.clone().or_else(|| Some(cx.ty(r))), *decl),
            _ => (Some(cx.ty(r)), span),
        };
        set_var_state(
            cx,
            k,
            Binding::Var {
                value: Some(r),
                ty,
                decl,
            },
        );
    }
}
