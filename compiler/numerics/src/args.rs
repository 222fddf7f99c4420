//! Kernel arguments given by name on a command line (`--arg name=FILE.npy`, `--arg name.scale=FILE.npy`,
//! `--arg name=VALUE`), shared by `tessera run/validate` and `tessera-runner run/validate/bench`: the
//! names are checked against the kernel's signature before anything is read (F11: nothing given is
//! ever silently ignored), the `.npy` inputs are read with the bounded reader, and the symbolic dims
//! their shapes bind are collected.
//!
//! Rules (codes): a name that is not a parameter, an `out` parameter given as input, a name given twice
//! (`E0511`); `x.scale` for a tensor without a scale contract, or for a scalar (`E0508`); a scaled
//! input without its scales (`E0508`); two files that disagree on a symbolic dim (`E0502`).

use crate::error::{E_ARG, E_SCALE, E_SHAPE};
use crate::{NumericsError, TensorArg, read_npy};
use std::path::Path;
use tessera_ir::{Dim, Kernel, ParamKind};

/// What a `--arg NAME=...` refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgTarget {
    /// The data of tensor parameter `i`.
    Tensor(usize),
    /// The block scales of (scaled) tensor parameter `i`.
    Scale(usize),
    /// Scalar parameter `i`.
    Scalar(usize),
}

/// Check every `(name, value)` pair against `k`'s signature and say what each one sets.
pub fn classify_args(k: &Kernel, pairs: &[(String, String)]) -> Result<Vec<ArgTarget>, NumericsError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(pairs.len());
    for (name, _) in pairs {
        if seen.contains(&name.as_str()) {
            return Err(NumericsError::new(
                E_ARG,
                format!("--arg {name} is given twice; give each argument once"),
            ));
        }
        seen.push(name);
        let (base, scale) = match name.strip_suffix(".scale") {
            Some(b) => (b, true),
            None => (name.as_str(), false),
        };
        let Some(i) = k.params.iter().position(|p| p.name == base) else {
            let names: Vec<&str> = k.params.iter().map(|p| p.name.as_str()).collect();
            return Err(NumericsError::new(
                E_ARG,
                format!(
                    "--arg {name}: kernel `{}` has no parameter `{base}` (its parameters: {})",
                    k.name,
                    names.join(", ")
                ),
            ));
        };
        match (&k.params[i].kind, scale) {
            (ParamKind::Tensor { is_out: true, .. }, _) => {
                return Err(NumericsError::new(
                    E_ARG,
                    format!(
                        "--arg {name}: `{base}` is an `out` parameter of kernel `{}`: the kernel writes it, \
                         so an input value would be ignored (write it with --out {base}=FILE.npy)",
                        k.name
                    ),
                ));
            }
            (ParamKind::Tensor { ty, .. }, true) if ty.scale.is_none() => {
                return Err(NumericsError::new(
                    E_SCALE,
                    format!(
                        "--arg {name}: `{base}: {}` has no scale contract, so it takes no scales",
                        ty.dtype
                    ),
                ));
            }
            (ParamKind::Tensor { .. }, true) => out.push(ArgTarget::Scale(i)),
            (ParamKind::Tensor { .. }, false) => out.push(ArgTarget::Tensor(i)),
            (ParamKind::Scalar(d), true) => {
                return Err(NumericsError::new(
                    E_SCALE,
                    format!("--arg {name}: `{base}: {d}` is a scalar; it takes no scales"),
                ));
            }
            (ParamKind::Scalar(_), false) => out.push(ArgTarget::Scalar(i)),
        }
    }
    Ok(out)
}

/// The tensors named in `pairs` (already checked by [`classify_args`]), read from their `.npy` files
/// as `k`'s parameter types say (scales row-major, the logical form); `None` where not given.
pub fn read_tensor_args(
    k: &Kernel,
    pairs: &[(String, String)],
) -> Result<Vec<Option<TensorArg>>, NumericsError> {
    let targets = classify_args(k, pairs)?;
    let file = |want: &ArgTarget| {
        targets
            .iter()
            .zip(pairs)
            .find(|(t, _)| *t == want)
            .map(|(_, (_, v))| v.as_str())
    };
    let mut read = vec![None; k.params.len()];
    for (i, p) in k.params.iter().enumerate() {
        let ParamKind::Tensor { ty, is_out: false } = &p.kind else {
            continue;
        };
        let data_file = file(&ArgTarget::Tensor(i));
        let scale_file = file(&ArgTarget::Scale(i));
        let Some(path) = data_file else {
            if scale_file.is_some() {
                return Err(NumericsError::new(
                    E_SCALE,
                    format!(
                        "--arg {0}.scale is given but not --arg {0}=FILE.npy: give the codes with their scales",
                        p.name
                    ),
                ));
            }
            continue;
        };
        let data = read_npy(Path::new(path), ty.dtype, None, ty.packed_axis)?;
        let scale = match (&ty.scale, scale_file) {
            (Some(spec), Some(sp)) => Some(read_npy(Path::new(sp), spec.scale_dtype, None, None)?),
            (Some(_), None) => {
                return Err(NumericsError::new(
                    E_SCALE,
                    format!(
                        "`{0}` is block-scaled: give its scales with --arg {0}.scale=FILE.npy",
                        p.name
                    ),
                ));
            }
            (None, _) => None,
        };
        read[i] = Some(TensorArg {
            data,
            scale,
            global_scale: None,
        });
    }
    Ok(read)
}

/// The symbolic dims the given tensors' shapes bind, in first-seen order. Two tensors that disagree
/// about a dim are an error (`E0502`), as is a rank that differs from the type's (`E0502`).
pub fn dims_of_tensors(k: &Kernel, given: &[Option<TensorArg>]) -> Result<Vec<(String, i64)>, NumericsError> {
    let mut bound: Vec<(String, i64, String)> = Vec::new();
    for (p, t) in k.params.iter().zip(given) {
        let (ParamKind::Tensor { ty, .. }, Some(t)) = (&p.kind, t) else {
            continue;
        };
        if ty.dims.len() != t.data.shape.len() {
            return Err(NumericsError::new(
                E_SHAPE,
                format!(
                    "`{}` has rank {} but its file has shape {:?}",
                    p.name,
                    ty.dims.len(),
                    t.data.shape
                ),
            ));
        }
        for (d, &n) in ty.dims.iter().zip(&t.data.shape) {
            let n = n as i64;
            match d {
                Dim::Sym(s) => match bound.iter().find(|(b, _, _)| b == s) {
                    Some((_, v, from)) if *v != n => {
                        return Err(NumericsError::new(
                            E_SHAPE,
                            format!("`{}` has {s} = {n} but `{from}` has {s} = {v}", p.name),
                        ));
                    }
                    Some(_) => {}
                    None => bound.push((s.clone(), n, p.name.clone())),
                },
                Dim::Const(c) if *c as i64 != n => {
                    return Err(NumericsError::new(
                        E_SHAPE,
                        format!(
                            "`{}` has a constant dim {c} but its file has shape {:?}",
                            p.name, t.data.shape
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(bound.into_iter().map(|(s, v, _)| (s, v)).collect())
}

/// Merge dims bound by files with dims given by hand (`--dim`): a disagreement is `E0502`.
pub fn merge_dims(
    from_files: &[(String, i64)],
    given: &[(String, i64)],
) -> Result<Vec<(String, i64)>, NumericsError> {
    let mut out = from_files.to_vec();
    for (n, v) in given {
        match out.iter().find(|(b, _)| b == n) {
            Some((_, b)) if b != v => {
                return Err(NumericsError::new(
                    E_SHAPE,
                    format!("--dim {n}={v} but the input files have {n} = {b}"),
                ));
            }
            Some(_) => {}
            None => out.push((n.clone(), *v)),
        }
    }
    Ok(out)
}

/// The error for a scalar parameter nobody gave a value (never silently defaulted on real data).
pub fn missing_scalar(k: &Kernel, name: &str, flag: &str) -> NumericsError {
    // The per-tensor scale of an NVFP4 tensor (`global = name`): the scale contract's own error.
    if let Some((key, _)) = k
        .attrs
        .iter()
        .find(|(key, v)| v == name && key.starts_with("global_scale."))
    {
        let tensor = key.trim_start_matches("global_scale.");
        return NumericsError::new(
            E_SCALE,
            format!("`{tensor}` is NVFP4: give its per-tensor f32 scale with {flag} {name}=VALUE"),
        );
    }
    let ty = k
        .params
        .iter()
        .find(|p| p.name == name)
        .map_or_else(String::new, |p| match &p.kind {
            ParamKind::Scalar(d) => format!(": {d}"),
            _ => String::new(),
        });
    NumericsError::new(
        E_ARG,
        format!(
            "scalar `{name}{ty}` of kernel `{}` has no value: give it with {flag} {name}=VALUE \
             (scalars are never defaulted when the inputs are your data)",
            k.name
        ),
    )
}
