//! `plan`: everything a launch would do, computed without a GPU — the grid over the bound dims, each
//! ABI slot resolved against fresh bindings, and each TMA tensor map's encoding arguments (checked
//! against the driver's limits). Lets a bundle be checked where it was built.

use crate::error::RunnerError;
use crate::session::{Common, Loaded};
use tessera_bundle::{SlotValue, grid, resolve_abi};
use tessera_numerics::ArgValue;

/// The launch plan as printable lines.
pub fn plan_bundle(c: &Common) -> Result<Vec<String>, RunnerError> {
    let l = Loaded::new(c)?;
    let names = l.param_names();
    let m = &l.bundle.meta;
    let g = grid(m, &l.syms)?;
    let image = match (&l.bundle.cubin, &l.bundle.ptx, &l.bundle.hsaco) {
        (Some(c), _, _) => format!("cubin ({} bytes)", c.len()),
        (None, Some(p), _) => format!("PTX ({} bytes)", p.len()),
        (None, None, Some(h)) => format!("HSACO ({} bytes)", h.len()),
        _ => "none".into(),
    };
    let mut out = vec![
        format!(
            "kernel {} entry {} target {} backend {}",
            m.kernel,
            m.entry,
            m.target,
            l.backend.name()
        ),
        format!("image {image}"),
        format!(
            "dims {} grid {:?} block {:?} dynamic shared {} B",
            l.shape_label(),
            g,
            m.block,
            m.dynamic_shared_bytes
        ),
    ];
    for (i, s) in resolve_abi(m, &names, &l.bindings)?.iter().enumerate() {
        let line = match s {
            SlotValue::Buffer { param, part } => {
                let bytes = match &l.bindings.args[*param] {
                    ArgValue::Tensor(t) => match part {
                        tessera_bundle::TensorPart::Data => t.data.bytes.len(),
                        tessera_bundle::TensorPart::Scale => t.scale.as_ref().map_or(0, |s| s.bytes.len()),
                    },
                    ArgValue::Scalar(_) => 0,
                };
                format!(
                    "slot {i}: pointer to `{}` {part:?} ({bytes} bytes)",
                    names[*param]
                )
            }
            SlotValue::TensorMap {
                param,
                part,
                tma,
                or_null,
            } => {
                let ArgValue::Tensor(t) = &l.bindings.args[*param] else {
                    return Err(RunnerError::usage(format!("slot {i}: tensor map over a scalar")));
                };
                let buf = match part {
                    tessera_bundle::TensorPart::Data => &t.data,
                    tessera_bundle::TensorPart::Scale => t.scale.as_ref().ok_or_else(|| {
                        RunnerError::usage(format!("slot {i}: tensor map over missing scales"))
                    })?,
                };
                let what = format!("`{}` {part:?}", names[*param]);
                // Buffers are uploaded 256-byte aligned: only the pitch can rule TMA out here.
                if *or_null && !tessera_cuda::describable(buf, 0) {
                    out.push(format!(
                        "slot {i}: null tensor map over {what}: TMA cannot describe its row pitch, the kernel copies with cp.async"
                    ));
                    continue;
                }
                let p = tessera_cuda::TensorMapPlan::new(tma, buf, &what)
                    .map_err(|e| RunnerError::usage(e.to_string()))?;
                format!(
                    "slot {i}: tensor map over {what}: {:?} global {:?} strides {:?} box {:?} swizzle {}",
                    p.elem, p.global_dim, p.global_strides, p.box_dim, p.swizzle
                )
            }
            SlotValue::I32(v) => format!("slot {i}: i32 {v}"),
            SlotValue::F32(v) => format!("slot {i}: f32 {v}"),
        };
        out.push(line);
    }
    Ok(out)
}
