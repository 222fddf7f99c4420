//! One module per registered pass; the module name is the pass name with `-` written `_`.

pub mod assign_layouts;
pub mod assign_layouts_mma;
pub mod assign_scale_layout;
pub mod canonicalize;
pub mod fuse_dequant;
pub mod pipeline_loads;
