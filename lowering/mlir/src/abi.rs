//! The entry point's parameter ABI: one slot per tensor parameter in declaration order (a device
//! pointer, or a pointer to a device-memory `CUtensorMap` for the TMA-loaded dot operands), then the
//! scalar parameters (i32/f32 by value), then every symbolic dim as i32. The same list becomes the
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
    /// SSA name of the f32 block-scale buffer (`!llvm.ptr<1>`) of each TMA-loaded scaled tensor.
    pub scales: HashMap<ParamId, String>,
}

/// Build the ABI. `tma` gives, for the tensor parameters loaded through TMA, the tensor-map spec.
pub(crate) fn build(kernel: &Kernel, tma: &HashMap<ParamId, TmaSpec>) -> Result<Abi, LoweringError> {
    build_with(kernel, tma, false)
}

/// As [`build`]; `per_op` (the per-op lowering) reads scaled and packed tensors by element, so every
/// scaled tensor gets its scale-buffer slot right after its data slot and packed FP4 is allowed.
pub(crate) fn build_with(
    kernel: &Kernel,
    tma: &HashMap<ParamId, TmaSpec>,
    per_op: bool,
) -> Result<Abi, LoweringError> {
    let mut abi = Abi {
        slots: Vec::new(),
        signature: Vec::new(),
        tensors: HashMap::new(),
        scalars: HashMap::new(),
        syms: Vec::new(),
        scales: HashMap::new(),
    };
    for (i, p) in kernel.params.iter().enumerate() {
        let id = ParamId(i as u32);
        if let ParamKind::Tensor { ty, is_out } = &p.kind {
            // Packed FP4 codes are read only by TMA (as bytes, two codes each) and converted in
            // shared memory (fused.rs); element-wise access to them is not lowered.
            if !per_op && (ty.packed_axis.is_some() || ty.dtype == DType::F4E2M1) && !tma.contains_key(&id) {
                return Err(LoweringError::unsupported(
                    format!("packed FP4 tensor `{}` on sm_90a", p.name),
                    p.span,
                ));
            }
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
                    // The scale buffer (f32 blocks, or e8m0/ue4m3 codes in the linear hopper_reg
                    // layout) follows its tensor map: the mainloop reads it by element.
                    let sname = format!("{name}_scale");
                    abi.slots.push(AbiArg::Ptr {
                        param: p.name.clone(),
                        part: TensorPart::Scale,
                    });
                    abi.signature
                        .push(format!("{sname}: !llvm.ptr<1> {{llvm.noalias, llvm.readonly}}"));
                    abi.scales.insert(id, sname);
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
                if per_op && ty.scale.is_some() {
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

/// An MLIR-safe suffix for an SSA name derived from a source identifier.
fn sanitize(s: &str) -> String {
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
        out.insert(0, 'p');
    }
    out
}
