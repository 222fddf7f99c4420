//! `assign-layouts-mma`: `assign-layouts` with MMA-first propagation, the last pass of the sm_90a
//! pipeline (docs/dev/passes.md; `--passes ...,assign-layouts` gives operand-first layouts). Elementwise ops take the layout of an
//! operand that descends from a `dot` accumulator before any other, loop-carried tiles with a
//! cheap initial value follow the body, and index/mask chains built from `arange`, `full` and
//! scalars are recomputed in the wanted layout instead of converted. In attention this keeps the
//! scores, the softmax statistics and the output accumulator in the wgmma fragment, so the loop
//! converts nothing. The rules live in `assign_layouts` (one assigner, one switch).

use super::assign_layouts::AssignLayouts;
use crate::PassInfo;

pub const INFO: PassInfo = PassInfo {
    name: "assign-layouts-mma",
    summary: "assign-layouts, keeping values that descend from a dot in the MMA layout",
    make: || Box::new(AssignLayouts::mma_first()),
};
