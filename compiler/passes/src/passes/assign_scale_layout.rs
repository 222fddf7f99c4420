//! `assign-scale-layout`: gives every block-scale contract in the kernel (tensor parameters,
//! scaled tile values, `quantize` specs) the physical scale layout the target's instruction
//! consumes, from [`TargetCaps::scale_layout_for`]: NVIDIA 128x4 atoms on sm_100a/sm_120a, AMD
//! per-lane bytes on gfx950, and the in-register (linear buffer) layout wherever the kernel
//! applies scales itself (sm_90a, and contracts a target has no native MMA for).
//!
//! The padding the layout implies is made explicit as a kernel attribute per scaled parameter,
//! printed with the IR: `scale_pad.<param> = "nv128x4: mn to 128, scale-k to 4, pad scale =
//! neutral 1.0, pad data = zero"`. The host prepacks such buffers once with `tessera-prepack`
//! (which writes the neutral scale into the padding); data is never padded in memory because
//! every load is masked (masked data reads zero).

use crate::{Changed, Pass, PassError, PassInfo, TargetCaps};
use tessera_ir::{Block, DType, Kernel, OpKind, ParamKind, ScaleLayout, ScaleSpec, Type};

pub const INFO: PassInfo = PassInfo {
    name: "assign-scale-layout",
    summary: "give scale tensors/tiles the layout the target's MMA consumes, with explicit padding",
    make: || Box::new(AssignScaleLayout),
};

pub struct AssignScaleLayout;

/// Prefix of the padding attributes this pass writes.
pub const PAD_ATTR: &str = "scale_pad.";

impl Pass for AssignScaleLayout {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn run(&self, kernel: &mut Kernel, caps: &TargetCaps) -> Result<Changed, PassError> {
        let mut changed = false;
        let mut pads = Vec::new();
        for p in &mut kernel.params {
            if let ParamKind::Tensor { ty, .. } = &mut p.kind
                && let Some(spec) = &mut ty.scale
            {
                changed |= assign(spec, ty.dtype, caps);
                if let Some(text) = padding_note(spec.layout, spec.scale_dtype) {
                    pads.push((format!("{PAD_ATTR}{}", p.name), text));
                }
            }
        }
        for v in &mut kernel.values {
            if let Type::Tile(t) = &mut v.ty
                && let Some(spec) = &mut t.scale
            {
                changed |= assign(spec, t.dtype, caps);
            }
        }
        changed |= assign_quantize_specs(&mut kernel.body, caps);
        // Replace this pass's previous records so a rerun is idempotent.
        let before = kernel.attrs.clone();
        kernel.attrs.retain(|(k, _)| !k.starts_with(PAD_ATTR));
        kernel.attrs.extend(pads);
        changed |= kernel.attrs != before;
        Ok(Changed::from_bool(changed))
    }
}

/// Set `spec.layout` to what `caps` wants for element type `elem`; true if it changed.
fn assign(spec: &mut ScaleSpec, elem: DType, caps: &TargetCaps) -> bool {
    let want = caps.scale_layout_for(elem, spec);
    let changed = spec.layout != want;
    spec.layout = want;
    changed
}

/// `quantize` carries its spec in the op too; keep it equal to its result type's.
fn assign_quantize_specs(b: &mut Block, caps: &TargetCaps) -> bool {
    let mut changed = false;
    for op in &mut b.ops {
        if let OpKind::Quantize { elem, spec, .. } = &mut op.kind {
            changed |= assign(spec, *elem, caps);
        }
        for inner in op.kind.blocks_mut() {
            changed |= assign_quantize_specs(inner, caps);
        }
    }
    changed
}

/// The padding record of a layout, or `None` for layouts without padding (linear buffers).
pub fn padding_note(layout: ScaleLayout, scale_dtype: DType) -> Option<String> {
    let atom = tessera_prepack::atom_shape(layout);
    if atom.atom_mn == 1 && atom.atom_ks == 1 {
        return None;
    }
    let neutral = match tessera_prepack::neutral_scale(scale_dtype) {
        Ok(bytes) if bytes.len() == 1 => format!("neutral 1.0 = 0x{:02x}", bytes[0]),
        _ => "neutral 1.0".to_string(),
    };
    Some(format!(
        "{}: mn to {}, scale-k to {}, pad scale = {neutral}, pad data = zero",
        layout.name(),
        atom.atom_mn,
        atom.atom_ks
    ))
}
