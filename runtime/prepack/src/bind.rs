//! Scale buffers of a kernel's bindings in the storage its parameter types name: the one place
//! that turns logical (row-major) scales into what a launch of that kernel gets and back.
//!
//! - [`prepack_bindings`]: each scale buffer whose type names a swizzled layout (`nv128x4`,
//!   `amd_lane*`) becomes the prepacked buffer of [`crate::prepack_tensor`], bound flat as
//!   `[physical elements]` (the runtime contract: weights are swizzled once, at load).
//! - [`unpack_bindings`]: the inverse, so the interpreter can bind a device's buffers.
//! - [`linear_view`]: the kernel with every scale layout seen as linear. Layouts are a storage
//!   matter, so the linear view on logical scales computes exactly what the kernel computes on
//!   prepacked ones; the plain reference and the interpreter's arithmetic only read linear scales.
//!
//! `linear` and `hopper_reg` scales are row-major in memory (`hopper_reg` only says that the
//! kernel, not the MMA, applies them) and are left alone.

use crate::PrepackError;
use tessera_ir::{Block, Kernel, OpKind, Param, ParamKind, ScaleLayout, ScaleSpec, Type};
use tessera_numerics::{ArgValue, Bindings, TensorBuf};

/// A scale buffer of one parameter that cannot be moved between its logical and physical forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{param}` scales: {error}")]
pub struct BindError {
    pub param: String,
    pub error: PrepackError,
}

/// Whether scales in `layout` are stored in a swizzled (not row-major) order in global memory.
pub fn is_swizzled(layout: ScaleLayout) -> bool {
    !matches!(layout, ScaleLayout::Linear | ScaleLayout::HopperRegister)
}

/// Whether any parameter of `kernel` has scales in a swizzled layout.
pub fn has_swizzled(kernel: &Kernel) -> bool {
    kernel.params.iter().any(|p| swizzled_spec(p).is_some())
}

/// Replace every logical scale buffer of a swizzled-layout parameter in `b` by its prepacked,
/// flat `[physical elements]` form. Other arguments are untouched.
pub fn prepack_bindings(kernel: &Kernel, b: &mut Bindings) -> Result<(), BindError> {
    for (p, arg) in kernel.params.iter().zip(&mut b.args) {
        prepack_arg(p, arg)?;
    }
    Ok(())
}

/// [`prepack_bindings`] for the argument of one parameter (e.g. an output freshly poisoned).
pub fn prepack_arg(p: &Param, arg: &mut ArgValue) -> Result<(), BindError> {
    let Some((spec, scale, _)) = swizzled_arg(p, arg) else {
        return Ok(());
    };
    let err = |error| BindError {
        param: p.name.clone(),
        error,
    };
    let k_axis = k_axis(spec).map_err(err)?;
    let bytes = crate::prepack_tensor(spec.layout, spec.scale_dtype, &scale.bytes, &scale.shape, k_axis)
        .map_err(err)?;
    let elems = bytes.len() / crate::scale_bytes(spec.scale_dtype).map_err(err)?;
    *scale = TensorBuf {
        dtype: spec.scale_dtype,
        shape: vec![elems],
        packed_axis: None,
        bytes,
    };
    Ok(())
}

/// Replace every flat prepacked scale buffer of a swizzled-layout parameter in `b` by its logical
/// row-major form, shaped `ceil(data dim / block)` per axis of the argument's data buffer. A
/// buffer of another dtype is left for the caller's type check to report; a buffer that is not
/// the flat physical one (e.g. logical scales given where prepacked ones are due, which can have
/// the very same size) is an error, never silently read as swizzled.
pub fn unpack_bindings(kernel: &Kernel, b: &mut Bindings) -> Result<(), BindError> {
    for (p, arg) in kernel.params.iter().zip(&mut b.args) {
        let Some((spec, scale, data_shape)) = swizzled_arg(p, arg) else {
            continue;
        };
        if scale.dtype != spec.scale_dtype || data_shape.len() != spec.block.len() {
            continue;
        }
        let err = |error| BindError {
            param: p.name.clone(),
            error,
        };
        let k_axis = k_axis(spec).map_err(err)?;
        let logical: Vec<usize> = data_shape
            .iter()
            .zip(&spec.block)
            .map(|(d, bk)| d.div_ceil((*bk).max(1) as usize))
            .collect();
        let phys =
            crate::physical_tensor_bytes(spec.layout, spec.scale_dtype, &logical, k_axis).map_err(err)?;
        let elems = phys / crate::scale_bytes(spec.scale_dtype).map_err(err)?;
        if scale.shape != [elems] {
            return Err(err(PrepackError::NotPrepacked {
                layout: spec.layout.name(),
                logical,
                expected: elems,
                found: scale.shape.clone(),
            }));
        }
        let bytes = crate::unpack_tensor(spec.layout, spec.scale_dtype, &scale.bytes, &logical, k_axis)
            .map_err(err)?;
        *scale = TensorBuf {
            dtype: spec.scale_dtype,
            shape: logical,
            packed_axis: None,
            bytes,
        };
    }
    Ok(())
}

/// `kernel` with every scale layout (parameters, values, `quantize` ops) seen as linear.
pub fn linear_view(kernel: &Kernel) -> Kernel {
    let mut k = kernel.clone();
    for p in &mut k.params {
        if let ParamKind::Tensor { ty, .. } = &mut p.kind {
            linearize(&mut ty.scale);
        }
    }
    for v in &mut k.values {
        if let Type::Tile(t) = &mut v.ty {
            linearize(&mut t.scale);
        }
    }
    linearize_block(&mut k.body);
    k
}

fn linearize(spec: &mut Option<ScaleSpec>) {
    if let Some(s) = spec {
        s.layout = ScaleLayout::Linear;
    }
}

fn linearize_block(b: &mut Block) {
    for op in &mut b.ops {
        if let OpKind::Quantize { spec, .. } = &mut op.kind {
            spec.layout = ScaleLayout::Linear;
        }
        for inner in op.kind.blocks_mut() {
            linearize_block(inner);
        }
    }
}

/// The swizzled scale spec of a tensor parameter, if any.
fn swizzled_spec(p: &Param) -> Option<&ScaleSpec> {
    match &p.kind {
        ParamKind::Tensor { ty, .. } => ty.scale.as_ref().filter(|s| is_swizzled(s.layout)),
        ParamKind::Scalar(_) => None,
    }
}

/// The swizzled spec, the scale buffer and the data shape of a tensor argument.
fn swizzled_arg<'a>(
    p: &'a Param,
    arg: &'a mut ArgValue,
) -> Option<(&'a ScaleSpec, &'a mut TensorBuf, Vec<usize>)> {
    let spec = swizzled_spec(p)?;
    let ArgValue::Tensor(t) = arg else {
        return None;
    };
    let shape = t.data.shape.clone();
    Some((spec, t.scale.as_mut()?, shape))
}

/// The K-block axis of a swizzled spec: the layouts tile `[MN, K-blocks]`, so exactly one axis
/// may be blocked.
fn k_axis(spec: &ScaleSpec) -> Result<usize, PrepackError> {
    match spec.scaled_axes().as_slice() {
        [a] => Ok(*a),
        axes => Err(PrepackError::NotOneScaledAxis {
            layout: spec.layout.name(),
            axes: axes.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_ir::{DType, samples};
    use tessera_numerics::{InputGen, TensorArg};

    /// An MX GEMM whose `a` scales are in `la` and `b` scales in `lb`, with logical inputs.
    fn gemm(la: ScaleLayout, lb: ScaleLayout, (m, n, k): (usize, usize, usize)) -> (Kernel, Bindings) {
        let scaled = |dims: &[&str], layout| {
            let mut t = samples::tensor(DType::F8E4M3, dims);
            let mut s = samples::mx_spec(1);
            s.layout = layout;
            t.scale = Some(s);
            t
        };
        let kernel = samples::gemm(
            scaled(&["M", "K"], la),
            scaled(&["N", "K"], lb),
            DType::BF16,
            (32, 32, 64),
            0,
        );
        let mut g = InputGen::new(3);
        let logical = linear_view(&kernel);
        let mut args = Vec::new();
        for (p, shape) in logical.params.iter().zip([vec![m, k], vec![n, k], vec![m, n]]) {
            let ParamKind::Tensor { ty, .. } = &p.kind else {
                unreachable!("the sample gemm has no scalars here")
            };
            args.push(ArgValue::Tensor(g.tensor_arg(ty, &shape).expect("inputs")));
        }
        let syms = vec![
            ("M".into(), m as i64),
            ("N".into(), n as i64),
            ("K".into(), k as i64),
        ];
        (kernel, Bindings { args, syms })
    }

    fn scale(b: &Bindings, i: usize) -> &TensorBuf {
        match &b.args[i] {
            ArgValue::Tensor(TensorArg { scale: Some(s), .. }) => s,
            _ => panic!("parameter {i} has no scales"),
        }
    }

    #[test]
    fn prepack_then_unpack_is_the_identity_and_touches_only_swizzled_scales() {
        let (k, logical) = gemm(ScaleLayout::Nv128x4, ScaleLayout::HopperRegister, (100, 72, 192));
        assert!(has_swizzled(&k));
        let mut b = logical.clone();
        prepack_bindings(&k, &mut b).expect("prepack");
        let want = crate::prepack_tensor(
            ScaleLayout::Nv128x4,
            DType::E8M0,
            &scale(&logical, 0).bytes,
            &[100, 6],
            1,
        )
        .expect("prepack a");
        assert_eq!(scale(&b, 0).bytes, want);
        assert_eq!(scale(&b, 0).shape, vec![128 * 8]);
        assert_eq!(
            scale(&b, 1),
            scale(&logical, 1),
            "hopper_reg scales stay row-major"
        );
        unpack_bindings(&k, &mut b).expect("unpack");
        assert_eq!(b, logical);
        let lin = linear_view(&k);
        assert!(!has_swizzled(&lin));
        let ParamKind::Tensor { ty, .. } = &lin.params[1].kind else {
            unreachable!()
        };
        assert_eq!(ty.scale.as_ref().map(|s| s.layout), Some(ScaleLayout::Linear));
    }

    /// At M = 128 and K/32 = 4 the logical and nv128x4 buffers have the same size; the flat binding
    /// is what tells a prepacked buffer from a logical one.
    #[test]
    fn logical_scales_are_not_read_as_prepacked() {
        let (k, logical) = gemm(
            ScaleLayout::Nv128x4,
            ScaleLayout::AmdLane16x16x128,
            (128, 16, 128),
        );
        let mut b = logical.clone();
        let e = unpack_bindings(&k, &mut b).expect_err("logical scales");
        assert_eq!(e.param, "a");
        assert!(
            matches!(e.error, PrepackError::NotPrepacked { expected: 512, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("E0657"), "{e}");
    }

    #[test]
    fn swizzled_layouts_need_one_blocked_axis() {
        let (mut k, mut b) = gemm(ScaleLayout::AmdLane32x32x64, ScaleLayout::Linear, (64, 32, 64));
        if let ParamKind::Tensor { ty, .. } = &mut k.params[0].kind
            && let Some(s) = &mut ty.scale
        {
            s.block = vec![32, 32];
        }
        let e = prepack_bindings(&k, &mut b).expect_err("two blocked axes");
        assert!(matches!(e.error, PrepackError::NotOneScaledAxis { .. }), "{e}");
    }
}
