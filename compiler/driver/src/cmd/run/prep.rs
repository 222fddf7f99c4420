//! Shared by `run`, `validate` and `demo`: compile a `.tsr` file and pick a kernel, choose symbolic
//! dims, and build bindings from `.npy` files or fresh seeded random inputs (outputs poisoned, or
//! zeroed when the kernel accumulates into them with `atomic_add`).

use crate::cmd::check::E_UNREADABLE;
use std::path::Path;
use tessera_interp::concrete_shape;
use tessera_ir::{DType, Kernel, ParamKind, TensorType};
use tessera_numerics::error::E_SCALE;
use tessera_numerics::{ArgValue, Bindings, InputGen, TensorArg};

/// A CLI failure: the message to print and the exit code (1 = the check failed, 2 = usage/input).
pub use tessera::compiler::Failure;

/// The backends a kernel can run on; the interpreter is always available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The reference interpreter (this machine's CPU cores).
    Interp,
    /// A CUDA GPU: the kernel is built for sm_90a in-process and run by the runner library.
    Cuda,
    /// An AMD GPU through HIP: the kernel is built for gfx950 in-process and run by the runner.
    Hip,
}

/// Value for symbols that are neither given nor in [`tessera_oracle::DEFAULT_DIMS`].
pub const FALLBACK_DIM: i64 = 64;

/// Compile `path` and return the kernel named `name` (or the file's only/first kernel).
pub fn load_kernel(path: &Path, name: Option<&str>) -> Result<Kernel, Failure> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::usage(format!("error[{E_UNREADABLE}]: cannot read {display}: {e}")))?;
    let (module, diags) = tessera_check::check_source(&display, &bytes);
    let errors = diags.iter().any(|d| d.is_error());
    let module = match module {
        Some(m) if !errors => m,
        _ => {
            let text = tessera_check::render_diagnostics(&display, &bytes, &diags, false, false);
            return Err(Failure {
                exit: 1,
                message: format!("{text}error: {display} does not compile"),
            });
        }
    };
    let names: Vec<String> = module.kernels.iter().map(|k| k.name.clone()).collect();
    let found = match name {
        Some(n) => module.kernels.into_iter().find(|k| k.name == n),
        None => module.kernels.into_iter().next(),
    };
    found.ok_or_else(|| {
        Failure::usage(format!(
            "error: {display} has no kernel {}; it has: {}",
            name.unwrap_or("at all"),
            names.join(", ")
        ))
    })
}

/// `NAME=VALUE` pairs.
pub fn parse_pairs(items: &[String], flag: &str) -> Result<Vec<(String, String)>, Failure> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Failure::usage(format!(
                "error: --{flag} {s:?}: expected NAME=VALUE"
            ))),
        })
        .collect()
}

/// `--dim NAME=N` values (positive integers).
pub fn parse_dims(items: &[String]) -> Result<Vec<(String, i64)>, Failure> {
    parse_pairs(items, "dim")?
        .into_iter()
        .map(|(k, v)| match v.parse::<i64>() {
            Ok(n) if n > 0 => Ok((k, n)),
            _ => Err(Failure::usage(format!(
                "error: --dim {k}={v}: dims must be positive integers"
            ))),
        })
        .collect()
}

/// Every symbolic dim of `k`: given ones first, then derived (MoE `E1 = E + 1`), then defaults.
pub fn choose_dims(k: &Kernel, given: &[(String, i64)]) -> Result<Vec<(String, i64)>, Failure> {
    for (n, _) in given {
        if !k.syms.contains(n) {
            return Err(Failure::usage(format!(
                "error: --dim {n}: kernel `{}` has no symbolic dim {n} (it has: {})",
                k.name,
                k.syms.join(", ")
            )));
        }
    }
    let mut syms: Vec<(String, i64)> = given.to_vec();
    for s in &k.syms {
        if syms.iter().any(|(n, _)| n == s) || s == "E1" {
            continue;
        }
        // The partial-tile defaults, rounded up to the kernel's scale blocks along that dim.
        let v = tessera_oracle::default_dim(k, s, FALLBACK_DIM);
        syms.push((s.clone(), v));
    }
    tessera_oracle::derive_dims(k, &mut syms);
    for s in &k.syms {
        if !syms.iter().any(|(n, _)| n == s) {
            syms.push((s.clone(), FALLBACK_DIM));
        }
    }
    // Kernel order, so `Bindings::syms` lines up with `Kernel::syms`.
    Ok(k.syms
        .iter()
        .filter_map(|s| syms.iter().find(|(n, _)| n == s).cloned())
        .collect())
}

fn shape_of(ty: &TensorType, syms: &[(String, i64)]) -> Result<Vec<usize>, Failure> {
    concrete_shape(ty, &|s| syms.iter().find(|(n, _)| n == s).map(|(_, v)| *v))
        .map_err(|e| Failure::usage(e.to_string()))
}

/// An output buffer: poisoned (its scales too), or its data zeroed when the kernel accumulates
/// into it. An NV output's per-tensor scale is its scalar parameter's value (set below).
fn output(k: &Kernel, i: usize, ty: &TensorType, shape: &[usize]) -> TensorArg {
    let mut out = tessera_numerics::poison::poisoned_output(ty, shape);
    if tessera_oracle::accumulates_into(k, i) {
        out.data.bytes.fill(0);
    }
    out
}

fn scalar_value(
    k: &Kernel,
    name: &str,
    d: DType,
    given: &[(String, String)],
    syms: &[(String, i64)],
    random: bool,
    g: &mut InputGen,
) -> Result<f64, Failure> {
    if let Some((_, v)) = given.iter().find(|(n, _)| n == name) {
        let x: f64 = v
            .parse()
            .map_err(|_| Failure::usage(format!("error: --arg {name}={v}: not a number")))?;
        if !d.is_float() && x.fract() != 0.0 {
            return Err(Failure::usage(format!(
                "error: --arg {name}={v}: {d} needs an integer"
            )));
        }
        return Ok(x);
    }
    if !random {
        // The inputs are the user's data: a made-up scalar would silently change the result.
        return Err(Failure::usage(
            tessera_numerics::args::missing_scalar(k, name, "--arg").to_string(),
        ));
    }
    let said = |v: f64| {
        eprintln!("note: scalar `{name}` = {v} (not given: the --random default; give --arg {name}=VALUE)");
        v
    };
    if let Some(v) = tessera_oracle::default_scalar(k, name, syms) {
        return Ok(said(v));
    }
    if d.is_float() {
        // Moderate magnitude so scaled outputs stay well inside their range.
        Ok(said(f64::from(g.values(1, 1.0)[0].abs().clamp(0.5, 2.0))))
    } else {
        Err(Failure::usage(format!(
            "error: scalar `{name}: {d}` needs a value: --arg {name}=N"
        )))
    }
}

/// Bindings for `k`: tensors from `--arg name=path.npy` (`name.scale=path` for block scales) or,
/// where absent and `random` is set, fresh from `seed`; scalars from `--arg name=value` or
/// defaults. Symbolic dims come from input shapes, then `dims`, then [`tessera_oracle::DEFAULT_DIMS`].
pub fn make_bindings(
    k: &Kernel,
    args: &[(String, String)],
    dims: &[(String, i64)],
    random: bool,
    seed: u64,
) -> Result<Bindings, Failure> {
    // 1. Every name checked against the signature (F11: an `out` parameter, a name given twice,
    //    `x.scale` for an unscaled tensor are coded errors), then the given tensors read.
    let read =
        tessera_numerics::args::read_tensor_args(k, args).map_err(|e| Failure::usage(e.to_string()))?;
    let file = |n: &str| args.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if !random
        && let Some(p) = k.params.iter().zip(&read).find_map(|(p, r)| {
            matches!(p.kind, ParamKind::Tensor { is_out: false, .. })
                .then_some(p)
                .filter(|_| r.is_none())
        })
    {
        return Err(Failure::usage(format!(
            "error[{}]: input `{}` needs --arg {}=FILE.npy (or use --random)",
            tessera_numerics::error::E_ARG,
            p.name,
            p.name
        )));
    }
    // 2. Dims: bound by the files' shapes, then --dim, then defaults.
    let bound = tessera_numerics::args::dims_of_tensors(k, &read)
        .and_then(|f| tessera_numerics::args::merge_dims(&f, dims))
        .map_err(|e| Failure::usage(e.to_string()))?;
    let syms = choose_dims(k, &bound)?;
    // 3. Everything else: random inputs, outputs, scalars.
    let mut g = InputGen::new(seed);
    let mut out = Vec::with_capacity(k.params.len());
    for (i, (p, r)) in k.params.iter().zip(read).enumerate() {
        out.push(match (&p.kind, r) {
            (ParamKind::Tensor { .. }, Some(t)) => ArgValue::Tensor(t),
            (ParamKind::Tensor { ty, is_out }, None) => {
                let shape = shape_of(ty, &syms)?;
                if *is_out {
                    ArgValue::Tensor(output(k, i, ty, &shape))
                } else {
                    ArgValue::Tensor(
                        g.tensor_arg(ty, &shape)
                            .map_err(|e| Failure::usage(format!("`{}`: {e}", p.name)))?,
                    )
                }
            }
            (ParamKind::Scalar(d), _) => {
                ArgValue::Scalar(scalar_value(k, &p.name, *d, args, &syms, random, &mut g)?)
            }
        });
    }
    // NV globals: the scalar and the tensor's per-tensor scale must agree. A scalar the user gave
    // sets the tensor's; otherwise the scalar takes the generated tensor's.
    for (key, param) in &k.attrs {
        let Some(tensor) = key.strip_prefix("global_scale.") else {
            continue;
        };
        let ti = k.params.iter().position(|p| p.name == tensor);
        let pi = k.params.iter().position(|p| &p.name == param);
        let (Some(ti), Some(pi)) = (ti, pi) else { continue };
        if matches!(k.params[ti].kind, ParamKind::Tensor { is_out: true, .. }) {
            // the kernel quantizes its output under the scalar's value
            if let (ArgValue::Scalar(v), ArgValue::Tensor(t)) = (out[pi].clone(), &mut out[ti]) {
                t.global_scale = Some(v as f32);
            }
            continue;
        }
        let given = match &out[pi] {
            ArgValue::Scalar(v) if file(param).is_some() => Some(*v),
            _ => None,
        };
        if let ArgValue::Tensor(t) = &mut out[ti] {
            match (given, t.global_scale) {
                (Some(v), _) => t.global_scale = Some(v as f32),
                (None, Some(gs)) => out[pi] = ArgValue::Scalar(f64::from(gs)),
                // The tensor came from a file and its per-tensor scale was not given: a made-up
                // value would silently rescale the user's data, so refuse.
                (None, None) => {
                    return Err(Failure::usage(format!(
                        "error[{E_SCALE}]: `{tensor}` is NVFP4: give its per-tensor f32 scale with --arg {param}=VALUE"
                    )));
                }
            }
        }
    }
    let mut b = Bindings { args: out, syms };
    if random {
        match tessera_oracle::prepare_inputs(k, &mut b, seed) {
            Ok(()) => {}
            Err(e) if e.code == tessera_oracle::E_NO_REFERENCE => {}
            Err(e) => return Err(Failure::usage(e.to_string())),
        }
    }
    Ok(b)
}

/// A seed from the clock, for runs where the user gave none (it is printed, so it can be replayed).
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        % 1_000_000_007
}

/// `NAME=V, ...` for printing.
pub fn dims_label(syms: &[(String, i64)]) -> String {
    syms.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
