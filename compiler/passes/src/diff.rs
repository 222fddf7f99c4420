//! Differential checking of passes (`--diff-interp`): the reference interpreter runs the kernel
//! before and after each pass on the same seeded random inputs at a small problem size; the first
//! pass whose outputs differ beyond tolerance is named with the output, the worst element and both
//! values. It knows nothing about any pass, so every pass, including a researcher's new one, is
//! checked for free.
//!
//! Inputs are generated once per kernel, in the *logical* form of the original parameter types
//! (row-major scales). Each version of the kernel gets them as a device launch would: scale
//! buffers whose type names a swizzled layout are prepacked (`tessera_prepack::prepack_bindings`,
//! a flat `[physical elements]` buffer); the interpreter reads them back through the layout the
//! type names (`tessera_interp::run`; layouts are a storage matter, so the unpacked scales and a
//! linear view of the kernel are exactly its meaning). A pass that changes a layout is thus
//! checked like any other: the results must not move.

use tessera_ir::{Dim, Kernel, ParamKind, ScaleLayout, TensorType};
use tessera_numerics::{ArgValue, Bindings, InputGen, TensorArg, decode_buf, encode_buf};

/// Options of `--diff-interp`.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffOptions {
    /// Seed of the input generator (printed in the replay command).
    pub seed: u64,
    /// Symbolic dim values overriding the automatic small partial-tile choice.
    pub syms: Vec<(String, i64)>,
    /// An element differs when `|after - before| > rtol * (|before| + rms(before output))`: the
    /// rms term keeps near-zero elements from failing on harmless rounding changes, and 1e-2 is
    /// far above the few bf16 ulps a legal rewrite can move a value but far below what a wrong
    /// operand, a dropped scale or a wrong layout does.
    pub rtol: f64,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            seed: 0x7e55e4a,
            syms: Vec::new(),
            rtol: 1e-2,
        }
    }
}

/// The first disagreement between the kernel before and after a pass.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "diff-interp: pass `{pass}` changed the results of kernel `{kernel}`: output `{output}`{written_by} element {index:?} was {before} before the pass and is {after} after it (tolerance {tolerance:.3e}, {count} of {total} elements differ; syms {syms:?}, seed {seed})"
)]
pub struct DiffMismatch {
    pub pass: String,
    pub kernel: String,
    pub output: String,
    /// ` (written by store at loc(lo:hi), ...)`: the ops of the kernel after the pass that write
    /// the output, or empty.
    pub written_by: String,
    /// Multi-dimensional index of the worst element.
    pub index: Vec<usize>,
    pub before: f32,
    pub after: f32,
    pub tolerance: f64,
    pub count: usize,
    pub total: usize,
    pub syms: Vec<(String, i64)>,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Mismatch(Box<DiffMismatch>),
    #[error("cannot prepare inputs for kernel `{kernel}`: {why}")]
    Inputs { kernel: String, why: String },
    #[error("the interpreter cannot run kernel `{kernel}` before the first pass: {why}")]
    Baseline { kernel: String, why: String },
    #[error(
        "diff-interp: after pass `{pass}` the interpreter fails on kernel `{kernel}` (it ran before the pass): {why}"
    )]
    AfterPass {
        pass: String,
        kernel: String,
        why: String,
    },
}

/// One output tensor's values.
#[derive(Clone, Debug, PartialEq)]
struct Output {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// Inputs of one kernel and the outputs of its latest version.
#[derive(Debug)]
pub struct Checker {
    kernel: String,
    /// Logical (linear-layout) bindings; tensors hold the parameter's logical shape.
    inputs: Bindings,
    baseline: Vec<Output>,
    opts: DiffOptions,
}

impl Checker {
    /// Generate inputs for `kernel` and interpret it once for the baseline.
    pub fn new(kernel: &Kernel, opts: &DiffOptions) -> Result<Checker, DiffError> {
        let inputs = make_inputs(kernel, opts)?;
        let baseline = interpret(kernel, &inputs).map_err(|why| DiffError::Baseline {
            kernel: kernel.name.clone(),
            why,
        })?;
        Ok(Checker {
            kernel: kernel.name.clone(),
            inputs,
            baseline,
            opts: opts.clone(),
        })
    }

    /// Interpret `after` (the kernel after `pass`) and compare with the previous version; on
    /// agreement the new outputs become the baseline of the next pass.
    pub fn check(&mut self, pass: &str, after: &Kernel) -> Result<(), DiffError> {
        let outs = interpret(after, &self.inputs).map_err(|why| DiffError::AfterPass {
            pass: pass.to_string(),
            kernel: self.kernel.clone(),
            why,
        })?;
        if let Some(m) = first_mismatch(&self.baseline, &outs, self.opts.rtol) {
            return Err(DiffError::Mismatch(Box::new(DiffMismatch {
                pass: pass.to_string(),
                kernel: self.kernel.clone(),
                syms: self.inputs.syms.clone(),
                seed: self.opts.seed,
                written_by: writers(after, &m.output),
                ..m
            })));
        }
        self.baseline = outs;
        Ok(())
    }
}

/// Small partial-tile values for the kernel's symbolic dims: dims that must be multiples of a
/// scale block (or of 2 for packed FP4) get a multiple of it near 80; the others 100, 72, 40, ...
/// (none a multiple of a power-of-two tile, so edge masks are exercised).
pub fn choose_syms(kernel: &Kernel, overrides: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut need = vec![1i64; kernel.syms.len()];
    let idx = |s: &str| kernel.syms.iter().position(|x| x == s);
    for p in &kernel.params {
        let ParamKind::Tensor { ty, .. } = &p.kind else {
            continue;
        };
        for (i, d) in ty.dims.iter().enumerate() {
            let mut multiple = 1i64;
            if let Some(spec) = &ty.scale {
                multiple = lcm(multiple, spec.block.get(i).copied().unwrap_or(1) as i64);
            }
            if ty.packed_axis == Some(i) {
                multiple = lcm(multiple, 2);
            }
            let (s, m) = match d {
                Dim::Sym(s) => (s, multiple),
                Dim::CeilDiv(s, by) => (s, lcm(multiple.max(1), *by as i64)),
                Dim::Const(_) => continue,
            };
            if let Some(j) = idx(s) {
                need[j] = lcm(need[j], m);
            }
        }
    }
    let free = [100i64, 72, 40, 56, 24, 88];
    let mut next_free = 0;
    kernel
        .syms
        .iter()
        .zip(need)
        .map(|(s, m)| {
            if let Some((_, v)) = overrides.iter().find(|(n, _)| n == s) {
                return (s.clone(), *v);
            }
            let v = if m > 1 {
                (80 + m - 1) / m * m
            } else {
                next_free += 1;
                free[(next_free - 1) % free.len()]
            };
            (s.clone(), v)
        })
        .collect()
}

fn lcm(a: i64, b: i64) -> i64 {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    if a == 0 || b == 0 {
        a.max(b)
    } else {
        a / gcd(a, b) * b
    }
}

/// Concrete shape of a tensor type under `syms`.
fn shape_of(ty: &TensorType, syms: &[(String, i64)]) -> Result<Vec<usize>, String> {
    let val = |s: &str| {
        syms.iter()
            .find(|(n, _)| n == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("symbolic dim `{s}` is unbound"))
    };
    ty.dims
        .iter()
        .map(|d| {
            let v = match d {
                Dim::Const(c) => *c as i64,
                Dim::Sym(s) => val(s)?,
                Dim::CeilDiv(s, by) => {
                    let by = (*by).max(1) as i64;
                    (val(s)? + by - 1) / by
                }
            };
            usize::try_from(v).map_err(|_| format!("dim value {v} is negative"))
        })
        .collect()
}

/// Seeded logical inputs: tensors from the numerics generator (scales in their linear form),
/// outputs zeroed, float scalars positive and non-degenerate, int scalars 1.
fn make_inputs(kernel: &Kernel, opts: &DiffOptions) -> Result<Bindings, DiffError> {
    let err = |why: String| DiffError::Inputs {
        kernel: kernel.name.clone(),
        why,
    };
    let syms = choose_syms(kernel, &opts.syms);
    let mut gen_ = InputGen::new(opts.seed);
    let mut args = Vec::new();
    for p in &kernel.params {
        let arg = match &p.kind {
            ParamKind::Scalar(d) if d.is_float() => ArgValue::Scalar(gen_.global_scale() as f64),
            ParamKind::Scalar(_) => ArgValue::Scalar(1.0),
            ParamKind::Tensor { ty, is_out } => {
                let shape = shape_of(ty, &syms).map_err(|w| err(format!("parameter `{}`: {w}", p.name)))?;
                let mut logical = ty.clone();
                if let Some(s) = &mut logical.scale {
                    s.layout = ScaleLayout::Linear;
                }
                if *is_out && logical.scale.is_none() {
                    let n: usize = shape.iter().product();
                    let data = encode_buf(ty.dtype, &shape, ty.packed_axis, &vec![0.0; n])
                        .map_err(|e| err(format!("parameter `{}`: {e}", p.name)))?;
                    ArgValue::Tensor(TensorArg {
                        data,
                        scale: None,
                        global_scale: None,
                    })
                } else {
                    let a = gen_
                        .tensor_arg(&logical, &shape)
                        .map_err(|e| err(format!("parameter `{}`: {e}", p.name)))?;
                    ArgValue::Tensor(a)
                }
            }
        };
        args.push(arg);
    }
    // An NV per-tensor scale is also a scalar parameter (attribute `global_scale.<tensor> =
    // <scalar>`): give the scalar the value generated with the tensor so the two agree.
    for (key, scalar) in &kernel.attrs {
        let Some(tensor) = key.strip_prefix("global_scale.") else {
            continue;
        };
        let pos = |n: &str| kernel.params.iter().position(|p| p.name == n);
        let (Some(ti), Some(si)) = (pos(tensor), pos(scalar)) else {
            continue;
        };
        if let ArgValue::Tensor(TensorArg {
            global_scale: Some(g),
            ..
        }) = &args[ti]
        {
            args[si] = ArgValue::Scalar(*g as f64);
        }
    }
    Ok(Bindings { args, syms })
}

/// Run `kernel` on `logical` inputs as a device would get them (prepacked per the kernel's types)
/// and return its out tensors decoded to f32.
fn interpret(kernel: &Kernel, logical: &Bindings) -> Result<Vec<Output>, String> {
    let mut b = logical.clone();
    tessera_prepack::prepack_bindings(kernel, &mut b).map_err(|e| e.to_string())?;
    tessera_interp::run(kernel, &mut b, tessera_interp::ProgramSet::All).map_err(|e| e.to_string())?;
    let mut outs = Vec::new();
    for (p, arg) in kernel.params.iter().zip(&b.args) {
        if let (ParamKind::Tensor { is_out: true, .. }, ArgValue::Tensor(t)) = (&p.kind, arg) {
            let values = decode_buf(&t.data).map_err(|e| format!("output `{}`: {e}", p.name))?;
            outs.push(Output {
                name: p.name.clone(),
                shape: t.data.shape.clone(),
                values,
            });
        }
    }
    Ok(outs)
}

/// The worst element over all outputs that exceeds the tolerance (pass/kernel/syms left blank).
fn first_mismatch(before: &[Output], after: &[Output], rtol: f64) -> Option<DiffMismatch> {
    for (b, a) in before.iter().zip(after) {
        let rms = (b
            .values
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            / b.values.len().max(1) as f64)
            .sqrt();
        let mut worst: Option<(f64, usize, f64)> = None;
        let mut count = 0;
        for (i, (x, y)) in b.values.iter().zip(&a.values).enumerate() {
            let tol = rtol * ((*x as f64).abs() + rms);
            let diff = (*x as f64 - *y as f64).abs();
            let bad = match (x.is_nan(), y.is_nan()) {
                (true, true) => false,
                (true, false) | (false, true) => true,
                _ => x != y && (diff.is_nan() || diff > tol),
            };
            if bad {
                count += 1;
                let ratio = if diff.is_finite() && tol > 0.0 {
                    diff / tol
                } else {
                    f64::INFINITY
                };
                if worst.is_none_or(|(r, _, _)| ratio > r) {
                    worst = Some((ratio, i, tol));
                }
            }
        }
        if let Some((_, i, tol)) = worst {
            return Some(DiffMismatch {
                pass: String::new(),
                kernel: String::new(),
                output: b.name.clone(),
                written_by: String::new(),
                index: unravel(i, &b.shape),
                before: b.values[i],
                after: a.values[i],
                tolerance: tol,
                count,
                total: b.values.len(),
                syms: Vec::new(),
                seed: 0,
            });
        }
    }
    None
}

/// The store/atomic ops of `k` that write parameter `output`, as ` (written by ...)`.
fn writers(k: &Kernel, output: &str) -> String {
    let Some(p) = k.params.iter().position(|p| p.name == output) else {
        return String::new();
    };
    let mut ops = Vec::new();
    crate::walk::walk(&k.body, &mut |op| {
        if let tessera_ir::OpKind::Store { access, .. } | tessera_ir::OpKind::AtomicAdd { access, .. } =
            &op.kind
            && access.tensor.0 as usize == p
        {
            ops.push(format!(
                "{} at loc({}:{})",
                op.kind.mnemonic(),
                op.span.lo,
                op.span.hi
            ));
        }
    });
    if ops.is_empty() {
        String::new()
    } else {
        format!(" (written by {})", ops.join(", "))
    }
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (d, n) in shape.iter().enumerate().rev() {
        let n = (*n).max(1);
        idx[d] = i % n;
        i /= n;
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(0, &[3, 4]), [0, 0]);
        assert_eq!(unravel(7, &[3, 4]), [1, 3]);
        assert_eq!(unravel(11, &[3, 4]), [2, 3]);
    }

    fn out(values: Vec<f32>) -> Output {
        Output {
            name: "c".into(),
            shape: vec![2, 2],
            values,
        }
    }

    #[test]
    fn mismatch_names_the_worst_element() {
        let b = [out(vec![1.0, 2.0, 3.0, 4.0])];
        assert!(first_mismatch(&b, &[out(vec![1.0, 2.0, 3.0, 4.001])], 1e-2).is_none());
        let m = first_mismatch(&b, &[out(vec![1.0, 2.5, 3.0, 4.2])], 1e-2).unwrap();
        assert_eq!(
            (m.index.clone(), m.before, m.after, m.count),
            (vec![0, 1], 2.0, 2.5, 2)
        );
        let m = first_mismatch(&b, &[out(vec![f32::NAN, 2.0, 3.0, 4.0])], 1e-2).unwrap();
        assert_eq!(m.index, [0, 0]);
        let nan = [out(vec![f32::NAN; 4])];
        assert!(first_mismatch(&nan, &nan, 1e-2).is_none());
    }

    #[test]
    fn lcm_and_defaults() {
        assert_eq!(lcm(32, 2), 32);
        assert_eq!(lcm(1, 128), 128);
    }
}
