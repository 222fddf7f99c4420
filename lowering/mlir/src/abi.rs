//! The entry point's parameter ABI: one slot per tensor parameter in declaration order (a device
//! pointer, followed by its scale buffer's pointer for a scaled tensor), then the scalar
//! parameters (i32/f32 by value), then every symbolic dim as i32. (The per-op lowering appends its
//! optional tensor-map slots after these.) The same list becomes the
//! MLIR function signature and `meta.json`'s `abi`, so the two cannot disagree.

use crate::LoweringError;
use std::collections::HashMap;
use tessera_bundle::{AbiArg, TensorPart, TmaSpec};
use tessera_ir::{DType, Kernel, ParamId, ParamKind, ValueId};

pub(crate) struct Abi {
    pub slots: Vec<AbiArg>,
    /// `%name: type {attrs}` per slot, in order.
    pub signature: Vec<String>,
    /// SSA name of each tensor parameter's pointer (generic `!llvm.ptr` for tensor maps,
    /// `!llvm.ptr<1>` for plain global pointers).
    pub tensors: HashMap<ParamId, String>,
    /// SSA name of each scalar parameter, keyed by the body block argument it binds.
    pub scalars: HashMap<ValueId, String>,
    /// SSA name of each symbolic dim (i32), by index in `Kernel::syms`.
    pub syms: Vec<String>,
}

/// Build the ABI. `tma` gives, for the tensor parameters loaded through TMA (unscaled ones only),
/// the tensor-map spec.
pub(crate) fn build(kernel: &Kernel, tma: &HashMap<ParamId, TmaSpec>) -> Result<Abi, LoweringError> {
    let mut abi = Abi {
        slots: Vec::new(),
        signature: Vec::new(),
        tensors: HashMap::new(),
        scalars: HashMap::new(),
        syms: Vec::new(),
    };
    for (i, p) in kernel.params.iter().enumerate() {
        let id = ParamId(i as u32);
        if let ParamKind::Tensor { ty, is_out } = &p.kind {
            let name = format!("%arg_{}", sanitize(&p.name));
            if let Some(spec) = tma.get(&id) {
                abi.slots.push(AbiArg::TensorMap {
                    param: p.name.clone(),
                    part: TensorPart::Data,
                    tma: spec.clone(),
                    or_null: false,
                });
                // The tensor map lives in global memory; TMA reads it through a generic pointer.
                abi.signature
                    .push(format!("{name}: !llvm.ptr {{llvm.noalias, llvm.readonly}}"));
                if ty.scale.is_some() {
                    return Err(LoweringError::unsupported(
                        format!(
                            "internal compiler error (abi): scaled tensor `{}` given a tensor map",
                            p.name
                        ),
                        p.span,
                    ));
                }
            } else {
                abi.slots.push(AbiArg::Ptr {
                    param: p.name.clone(),
                    part: TensorPart::Data,
                });
                // Distinct parameters are distinct buffers: noalias lets the epilogue's scale loads be
                // hoisted above the output stores; inputs are read-only.
                let ro = if *is_out { "" } else { ", llvm.readonly" };
                abi.signature
                    .push(format!("{name}: !llvm.ptr<1> {{llvm.noalias{ro}}}"));
                if ty.scale.is_some() {
                    abi.slots.push(AbiArg::Ptr {
                        param: p.name.clone(),
                        part: TensorPart::Scale,
                    });
                    abi.signature.push(format!("{name}_scale: !llvm.ptr<1>"));
                }
            }
            abi.tensors.insert(id, name);
        }
    }
    let scalar_params: Vec<_> = kernel
        .params
        .iter()
        .filter_map(|p| {
            if let ParamKind::Scalar(d) = p.kind {
                Some((p, d))
            } else {
                None
            }
        })
        .collect();
    for (i, (p, d)) in scalar_params.iter().enumerate() {
        let Some(arg) = kernel.body.args.get(i) else {
            return Err(LoweringError::unsupported(
                format!("scalar parameter `{}` has no body argument", p.name),
                p.span,
            ));
        };
        let name = format!("%arg_{}", sanitize(&p.name));
        let (slot, ty) = match d {
            DType::I32 => (
                AbiArg::ScalarI32 {
                    param: p.name.clone(),
                },
                "i32",
            ),
            DType::F32 => (
                AbiArg::ScalarF32 {
                    param: p.name.clone(),
                },
                "f32",
            ),
            other => {
                return Err(LoweringError::unsupported(
                    format!(
                        "scalar parameter `{}` of type {other} (only i32 and f32 are passed)",
                        p.name
                    ),
                    p.span,
                ));
            }
        };
        abi.slots.push(slot);
        abi.signature.push(format!("{name}: {ty}"));
        abi.scalars.insert(*arg, name);
    }
    for s in &kernel.syms {
        let name = format!("%dim_{}", sanitize(s));
        abi.slots.push(AbiArg::SymI32 { sym: s.clone() });
        abi.signature.push(format!("{name}: i32"));
        abi.syms.push(name);
    }
    Ok(abi)
}

/// An MLIR/PTX-safe entry symbol for a kernel name.
pub(crate) fn entry_symbol(name: &str) -> String {
    identifier(name, "k_")
}

/// An MLIR-safe suffix for an SSA name derived from a source identifier.
fn sanitize(s: &str) -> String {
    identifier(s, "p")
}

/// `s` with every character but ASCII letters, digits and `_` replaced by `_`, and `prefix` in
/// front when that leaves it empty or starting with a digit.
fn identifier(s: &str, prefix: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, prefix);
    }
    out
}
