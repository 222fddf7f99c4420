//! `@reference(gemm)`: C = act((A · B) × scalars × row_scale[m] × col_scale[n] + bias) + residual.
//!
//! - Operands: the non-`out` tensors other than those an option names are A `[M, K]` and B
//!   (`[N, K]`, or `[K, N]` when its first dim is A's K), each optionally followed by its explicit
//!   e8m0/ue4m3 scale tensor; every f32 scalar that is not an NV global multiplies C.
//! - Epilogue options (`tessera_reference::epilogue`): `bias = P` (`[N]` or `[M, N]`), `row_scale =
//!   P` (`[M]`), `col_scale = P` (`[N]`), `residual = P` (`[M, N]`), `activation = relu | gelu |
//!   gelu_tanh | silu | sigmoid`. A bound shape that does not fit M and N is E0806.

use crate::options::{Options, options};
use crate::roles::{TParam, arg, dequantized, explicit_block, is_scale_dtype, single_out, tensors};
use crate::{E_CONVENTION, E_OPTION, E_SHAPE, OracleError, err};
use tessera_ir::{DType, Kernel, ParamKind};
use tessera_numerics::{ArgValue, Bindings};
use tessera_reference::{Activation, BLayout, Bias, Epilogue, apply_epilogue, gemm_scaled};

/// Operands: A, B, each with an optional explicit scale tensor that follows it.
struct Operands<'a> {
    a: (TParam<'a>, Option<TParam<'a>>),
    b: (TParam<'a>, Option<TParam<'a>>),
    c: TParam<'a>,
    layout: BLayout,
}

fn operands<'a>(k: &'a Kernel, opts: &Options<'a>) -> Result<Operands<'a>, OracleError> {
    let (ins, outs) = tensors(k);
    let c = single_out(k, &outs)?;
    // Tensors an option names are epilogue inputs, not operands.
    let named = opts.named_params();
    let mut ops: Vec<(TParam, Option<TParam>)> = Vec::new();
    for t in ins.into_iter().filter(|t| !named.contains(&t.name)) {
        if is_scale_dtype(t.ty.dtype) && t.ty.scale.is_none() {
            match ops.last_mut() {
                Some((_, s @ None)) => *s = Some(t),
                _ => {
                    return Err(err(
                        E_CONVENTION,
                        format!("scale tensor `{}` does not follow a data tensor", t.name),
                    ));
                }
            }
        } else {
            ops.push((t, None));
        }
    }
    let [a, b] = <[_; 2]>::try_from(ops).map_err(|o: Vec<_>| {
        let names: Vec<&str> = o.iter().map(|(t, _)| t.name).collect();
        err(
            E_CONVENTION,
            format!(
                "gemm `{}` needs two data tensors A and B, found {} ({}); tensors of an epilogue are named with options, e.g. `@reference(gemm, bias = bias)`",
                k.name,
                o.len(),
                names.join(", ")
            ),
        )
    })?;
    if a.0.ty.dims.len() != 2 || b.0.ty.dims.len() != 2 || c.ty.dims.len() != 2 {
        return Err(err(E_CONVENTION, "gemm operands must be rank 2"));
    }
    let ka = &a.0.ty.dims[1];
    let layout = if &b.0.ty.dims[1] == ka {
        BLayout::NK
    } else if &b.0.ty.dims[0] == ka {
        BLayout::KN
    } else {
        return Err(err(
            E_CONVENTION,
            format!("B `{}` shares no K dim with A `{}`", b.0.name, a.0.name),
        ));
    };
    Ok(Operands { a, b, c, layout })
}

fn operand(b: &Bindings, (t, s): &(TParam, Option<TParam>), k_axis: usize) -> Result<Vec<f64>, OracleError> {
    let a = arg(b, t)?;
    let explicit = match s {
        Some(s) => Some((arg(b, s)?, explicit_block(t.ty, s.ty, s.name)?)),
        None => None,
    };
    dequantized(t, a, explicit, Some(k_axis))
}

/// The tensor parameter option `key` names, if given.
fn named_tensor<'a>(k: &'a Kernel, opts: &Options<'a>, key: &str) -> Result<Option<TParam<'a>>, OracleError> {
    let Some(name) = opts.get(key) else {
        return Ok(None);
    };
    let (ins, _) = tensors(k);
    ins.into_iter().find(|t| t.name == name).map(Some).ok_or_else(|| {
        err(
            E_OPTION,
            format!(
                "kernel `{}`: option `{key}` names `{name}`, which is not an input tensor",
                k.name
            ),
        )
    })
}

/// The values of an epilogue tensor, its bound shape checked against `want` (alternatives).
fn epilogue_tensor(
    b: &Bindings,
    key: &str,
    t: &TParam,
    want: &[(Vec<usize>, &str)],
) -> Result<(Vec<f64>, usize), OracleError> {
    let a = arg(b, t)?;
    let shape = &a.data.shape;
    let Some(which) = want.iter().position(|(s, _)| s == shape) else {
        let alts: Vec<String> = want.iter().map(|(s, n)| format!("{n} = {s:?}")).collect();
        return Err(err(
            E_SHAPE,
            format!(
                "gemm: `{key} = {}` is bound to shape {shape:?}, but must be {}",
                t.name,
                alts.join(" or ")
            ),
        ));
    };
    Ok((dequantized(t, a, None, None)?, which))
}

/// The scalar parameters that carry an NV tensor's per-tensor scale (`global = ...`).
fn global_scalars(k: &Kernel) -> Vec<&str> {
    k.attrs
        .iter()
        .filter(|(key, _)| key.starts_with("global_scale."))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The product of the f32 scalars that are not NV per-tensor globals (they scale their tensor).
fn scalar_product(k: &Kernel, b: &Bindings) -> f64 {
    let globals = global_scalars(k);
    let mut s = 1.0;
    for (p, a) in k.params.iter().zip(&b.args) {
        if let (ParamKind::Scalar(DType::F32), ArgValue::Scalar(v)) = (&p.kind, a)
            && !globals.contains(&p.name.as_str())
        {
            s *= v;
        }
    }
    s
}

pub(crate) fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    let opts = options(k)?;
    let o = operands(k, &opts)?;
    let av = operand(b, &o.a, 1)?;
    let bv = operand(b, &o.b, if o.layout == BLayout::NK { 1 } else { 0 })?;
    let ash = &arg(b, &o.a.0)?.data.shape;
    let bsh = &arg(b, &o.b.0)?.data.shape;
    let (m, kk) = (ash[0], ash[1]);
    let (n, kb) = if o.layout == BLayout::NK {
        (bsh[0], bsh[1])
    } else {
        (bsh[1], bsh[0])
    };
    if kb != kk {
        return Err(err(
            E_SHAPE,
            format!(
                "gemm: A `{}` {ash:?} and B `{}` {bsh:?} disagree on K ({kk} vs {kb})",
                o.a.0.name, o.b.0.name
            ),
        ));
    }
    let csh = &arg(b, &o.c)?.data.shape;
    if csh.as_slice() != [m, n] {
        return Err(err(
            E_SHAPE,
            format!(
                "gemm: C `{}` is bound to shape {csh:?}, but A and B make it [{m}, {n}]",
                o.c.name
            ),
        ));
    }
    let mut c = gemm_scaled(&av, &bv, (m, n, kk), o.layout, scalar_product(k, b), None, None);
    let get = |key: &str, want: &[(Vec<usize>, &str)]| -> Result<Option<(Vec<f64>, usize)>, OracleError> {
        match named_tensor(k, &opts, key)? {
            Some(t) => Ok(Some(epilogue_tensor(b, key, &t, want)?)),
            None => Ok(None),
        }
    };
    let bias = get("bias", &[(vec![n], "[N]"), (vec![m, n], "[M, N]")])?;
    let row = get("row_scale", &[(vec![m], "[M]")])?;
    let col = get("col_scale", &[(vec![n], "[N]")])?;
    let res = get("residual", &[(vec![m, n], "[M, N]")])?;
    let activation = match opts.get("activation") {
        Some(name) => Some(Activation::from_name(name).ok_or_else(|| {
            err(
                E_OPTION,
                format!("kernel `{}`: unknown activation `{name}`", k.name),
            )
        })?),
        None => None,
    };
    let e = Epilogue {
        row_scale: row.as_ref().map(|(v, _)| v.as_slice()),
        col_scale: col.as_ref().map(|(v, _)| v.as_slice()),
        bias: bias.as_ref().map(
            |(v, which)| {
                if *which == 0 { Bias::Cols(v) } else { Bias::Full(v) }
            },
        ),
        activation,
        residual: res.as_ref().map(|(v, _)| v.as_slice()),
    };
    apply_epilogue(&mut c, (m, n), &e);
    Ok(vec![(o.c.index, c)])
}

/// One line for validate's report: the operands and every epilogue step, in order.
pub(crate) fn summary(k: &Kernel) -> Result<String, OracleError> {
    let opts = options(k)?;
    let o = operands(k, &opts)?;
    let scaled = |(t, s): &(TParam, Option<TParam>)| match s {
        Some(s) => format!("`{}` (scales `{}`)", t.name, s.name),
        None => format!("`{}`", t.name),
    };
    let mut s = format!(
        "gemm: C `{}` = A {} @ B {} ({})",
        o.c.name,
        scaled(&o.a),
        scaled(&o.b),
        if o.layout == BLayout::NK {
            "[N, K]"
        } else {
            "[K, N]"
        }
    );
    let globals = global_scalars(k);
    for p in &k.params {
        if matches!(p.kind, ParamKind::Scalar(DType::F32)) && !globals.contains(&p.name.as_str()) {
            s.push_str(&format!(" * `{}`", p.name));
        }
    }
    for (key, what) in [
        ("row_scale", " * row_scale"),
        ("col_scale", " * col_scale"),
        ("bias", " + bias"),
    ] {
        if let Some(v) = opts.get(key) {
            s.push_str(&format!("{what} `{v}`"));
        }
    }
    if let Some(a) = opts.get("activation") {
        s = format!("{s}, then {a}");
    }
    if let Some(v) = opts.get("residual") {
        s.push_str(&format!(", + residual `{v}`"));
    }
    Ok(s)
}

/// Whether the kernel's parameters fit the gemm roles (types only).
pub(crate) fn fits(k: &Kernel) -> Result<(), OracleError> {
    let opts = options(k)?;
    operands(k, &opts).map(|_| ())
}

pub(crate) fn accum_len(k: &Kernel, b: &Bindings) -> usize {
    options(k)
        .ok()
        .and_then(|opts| {
            let o = operands(k, &opts).ok()?;
            arg(b, &o.a.0).ok().map(|a| a.data.shape[1])
        })
        .unwrap_or(1)
}
