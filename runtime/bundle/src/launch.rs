//! Launch planning shared by every backend, as pure functions: the grid evaluated over the bound
//! symbolic dims, and each ABI slot of `meta.json` resolved against the launch's bindings. The
//! backends (CUDA, HIP) only turn the resolved slots into device values.

use crate::{AbiArg, BundleError, BundleMeta, TensorPart, TmaSpec};
use tessera_numerics::{ArgValue, Bindings};

/// One kernel parameter slot, resolved: what the backend must place there.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotValue {
    /// The device address of buffer `part` of kernel parameter `param` (index into the kernel's params).
    Buffer {
        param: usize,
        part: TensorPart,
    },
    /// The device address of a 128-byte CUtensorMap encoded over buffer `part` of parameter `param`.
    TensorMap {
        param: usize,
        part: TensorPart,
        tma: TmaSpec,
        /// Null instead of an error where TMA cannot describe the buffer (`AbiArg::TensorMap`).
        or_null: bool,
    },
    I32(i32),
    F32(f32),
}

/// Everything a backend needs to launch a bundle over one set of bindings: the evaluated grid, the
/// block and dynamic shared memory of `meta.json`, and the resolved ABI slots.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchPlan {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    /// Dynamic shared memory in bytes.
    pub smem: u32,
    pub slots: Vec<SlotValue>,
}

impl LaunchPlan {
    /// Plan a launch of the kernel described by `meta` (parameters named `param_names`) over `bindings`.
    pub fn new(
        meta: &BundleMeta,
        param_names: &[&str],
        bindings: &Bindings,
    ) -> Result<LaunchPlan, BundleError> {
        Ok(LaunchPlan {
            grid: grid(meta, &bindings.syms)?,
            block: meta.block,
            smem: meta.dynamic_shared_bytes,
            slots: resolve_abi(meta, param_names, bindings)?,
        })
    }
}

fn launch(msg: String) -> BundleError {
    BundleError::Launch(msg)
}

/// The launch grid `[x, y, z]` from `meta.grid` over the bound syms; missing dims are 1.
pub fn grid(meta: &BundleMeta, syms: &[(String, i64)]) -> Result<[u32; 3], BundleError> {
    let lookup = |s: &str| syms.iter().find(|(n, _)| n == s).map(|(_, v)| *v);
    let mut g = [1u32; 3];
    if meta.grid.len() > 3 {
        return Err(launch(format!("grid has {} dims; at most 3", meta.grid.len())));
    }
    for (i, e) in meta.grid.iter().enumerate() {
        let v = e.eval(&lookup).ok_or_else(|| {
            launch(format!(
                "grid dim {i} ({e:?}) cannot be evaluated: a symbolic dim is unbound or divides by zero (bound: {})",
                fmt_syms(syms)
            ))
        })?;
        // Zero programs is a legal launch of nothing only in theory: the driver rejects it, and it
        // always means an empty problem the caller should have caught, so say so here.
        g[i] = u32::try_from(v)
            .ok()
            .filter(|v| *v >= 1 && *v <= if i == 0 { crate::dir::MAX_GRID_X } else { crate::dir::MAX_GRID_YZ })
            .ok_or_else(|| {
                launch(format!(
                    "grid dim {i} evaluates to {v}, outside the device's grid limits (1 to 2^31-1 for x, 1 to 65535 for y and z)"
                ))
            })?;
    }
    Ok(g)
}

fn fmt_syms(syms: &[(String, i64)]) -> String {
    if syms.is_empty() {
        return "none".into();
    }
    syms.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolve every ABI slot of `meta` against `bindings` (args in the order of `param_names`, the
/// kernel's parameter names). Errors name the slot and what is missing.
pub fn resolve_abi(
    meta: &BundleMeta,
    param_names: &[&str],
    bindings: &Bindings,
) -> Result<Vec<SlotValue>, BundleError> {
    if bindings.args.len() != param_names.len() {
        return Err(launch(format!(
            "{} arguments bound for {} kernel parameters",
            bindings.args.len(),
            param_names.len()
        )));
    }
    let index = |slot: usize, name: &str| -> Result<usize, BundleError> {
        param_names.iter().position(|p| *p == name).ok_or_else(|| {
            launch(format!(
                "ABI slot {slot} names parameter `{name}`, which the kernel does not have"
            ))
        })
    };
    let tensor = |slot: usize, name: &str, part: TensorPart| -> Result<usize, BundleError> {
        let i = index(slot, name)?;
        match &bindings.args[i] {
            ArgValue::Tensor(t) if part == TensorPart::Data || t.scale.is_some() => Ok(i),
            ArgValue::Tensor(_) => Err(launch(format!(
                "ABI slot {slot} wants the scale buffer of `{name}`, which has no scales bound"
            ))),
            ArgValue::Scalar(_) => Err(launch(format!(
                "ABI slot {slot} wants a buffer of `{name}`, a scalar"
            ))),
        }
    };
    let scalar = |slot: usize, name: &str| -> Result<f64, BundleError> {
        let i = index(slot, name)?;
        match &bindings.args[i] {
            ArgValue::Scalar(v) => Ok(*v),
            ArgValue::Tensor(_) => Err(launch(format!("ABI slot {slot} wants scalar `{name}`, a tensor"))),
        }
    };
    let to_i32 = |slot: usize, what: &str, v: f64| -> Result<i32, BundleError> {
        if v.fract() == 0.0 && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX) {
            Ok(v as i32)
        } else {
            Err(launch(format!("ABI slot {slot}: {what} = {v} is not an i32")))
        }
    };
    // Offsets narrower than 64 bits reach 2^(bits-1) - 1 elements: a bigger tensor would make them
    // wrap and the kernel touch the wrong memory (F09), so such a launch is refused.
    if meta.index_bits < 64 {
        let limit = (1u64 << meta.index_bits.saturating_sub(1)) - 1;
        for (slot, arg) in meta.abi.iter().enumerate() {
            let (AbiArg::Ptr { param, part } | AbiArg::TensorMap { param, part, .. }) = arg else {
                continue;
            };
            let i = tensor(slot, param, *part)?;
            let ArgValue::Tensor(t) = &bindings.args[i] else {
                continue;
            };
            let shape = match part {
                TensorPart::Data => &t.data.shape,
                TensorPart::Scale => t.scale.as_ref().map_or(&t.data.shape, |s| &s.shape),
            };
            let n = shape
                .iter()
                .try_fold(1u64, |a, d| a.checked_mul(*d as u64))
                .unwrap_or(u64::MAX);
            if n > limit {
                return Err(launch(format!(
                    "`{param}` ({part:?}) has {n} elements, more than this kernel's {}-bit offsets reach ({limit}); \
                     meta.json says index_bits = {}. Split the tensor across launches, or rebuild with a lowering that \
                     uses 64-bit offsets (kernels without a dot on sm_90a do)",
                    meta.index_bits, meta.index_bits
                )));
            }
        }
    }
    meta.abi
        .iter()
        .enumerate()
        .map(|(slot, arg)| {
            Ok(match arg {
                AbiArg::Ptr { param, part } => SlotValue::Buffer {
                    param: tensor(slot, param, *part)?,
                    part: *part,
                },
                AbiArg::TensorMap {
                    param,
                    part,
                    tma,
                    or_null,
                } => SlotValue::TensorMap {
                    param: tensor(slot, param, *part)?,
                    part: *part,
                    tma: tma.clone(),
                    or_null: *or_null,
                },
                AbiArg::SymI32 { sym } => {
                    let v = bindings.sym(sym).ok_or_else(|| {
                        launch(format!(
                            "ABI slot {slot}: symbolic dim `{sym}` is not bound ({})",
                            fmt_syms(&bindings.syms)
                        ))
                    })?;
                    SlotValue::I32(to_i32(slot, sym, v as f64)?)
                }
                AbiArg::ScalarI32 { param } => SlotValue::I32(to_i32(slot, param, scalar(slot, param)?)?),
                AbiArg::ScalarF32 { param } => SlotValue::F32(scalar(slot, param)? as f32),
                AbiArg::GlobalScaleF32 { param } => {
                    let i = index(slot, param)?;
                    match &bindings.args[i] {
                        ArgValue::Tensor(t) => SlotValue::F32(t.global_scale.ok_or_else(|| {
                            launch(format!(
                                "ABI slot {slot} wants the global scale of `{param}`, which has none bound"
                            ))
                        })?),
                        ArgValue::Scalar(_) => {
                            return Err(launch(format!(
                                "ABI slot {slot} wants the global scale of scalar `{param}`"
                            )));
                        }
                    }
                }
            })
        })
        .collect()
}
