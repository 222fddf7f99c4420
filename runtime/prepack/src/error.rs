//! Errors of prepack/unpack and of binding a prepacked buffer to a kernel: every size, dtype or
//! layout mismatch is reported with both sides, never turned into garbage scales. The codes are
//! E0651..E0657, in variant order: E06xx is the reference-interpreter range, and the interpreter
//! owns E0601..E0610, so prepack takes its own block to keep each code one meaning in
//! `tessera explain`.

use tessera_ir::{DType, ScaleLayout};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepackError {
    #[error("E0651: {dtype} is not a block-scale type (expected e8m0, ue4m3 or f32)")]
    NotAScaleType { dtype: DType },
    #[error(
        "E0652: {what} scale buffer has {found} bytes, but [{mn}, {ks}] {dtype} scales in layout {layout} need {expected}"
    )]
    SizeMismatch {
        what: &'static str,
        layout: &'static str,
        dtype: DType,
        mn: usize,
        ks: usize,
        expected: usize,
        found: usize,
    },
    #[error(
        "E0653: prepacked scales are {found_layout} {found_dtype} [{found_mn}, {found_ks}], but the kernel wants {want_layout} {want_dtype} [{want_mn}, {want_ks}]"
    )]
    Mismatch {
        found_layout: &'static str,
        found_dtype: DType,
        found_mn: usize,
        found_ks: usize,
        want_layout: &'static str,
        want_dtype: DType,
        want_mn: usize,
        want_ks: usize,
    },
    #[error("E0654: not a prepacked scale file: {why}")]
    BadHeader { why: String },
    #[error(
        "E0655: scale tensor must be rank 2 with the scale-K axis 0 or 1, got shape {shape:?} and axis {k_axis}"
    )]
    BadGeometry { shape: Vec<usize>, k_axis: usize },
    #[error(
        "E0656: scale layout {layout} tiles [MN, K-blocks]: the type must block exactly one axis, it blocks {axes:?}"
    )]
    NotOneScaledAxis { layout: &'static str, axes: Vec<usize> },
    #[error(
        "E0657: layout {layout} takes the prepacked scale buffer (tessera_prepack::prepack_tensor of the logical {logical:?} scales: {expected} elements, bound flat), found shape {found:?}"
    )]
    NotPrepacked {
        layout: &'static str,
        logical: Vec<usize>,
        expected: usize,
        found: Vec<usize>,
    },
}

impl PrepackError {
    pub(crate) fn layout_name(l: ScaleLayout) -> &'static str {
        l.name()
    }
}
