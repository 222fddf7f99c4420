//! The pass registry: every pass is registered exactly once, here, by name. The name is the value
//! of `--passes=`/`--print-after=`, the module `passes::<name with _>`, the test folder
//! `compiler/passes/tests/<name>/` and the `## <name>` heading of docs/dev/passes.md (a test
//! checks all four). Target pipelines are lists of these names in [`crate::TargetCaps`].

use crate::passes::{
    assign_layouts, assign_layouts_mma, assign_scale_layout, canonicalize, fuse_dequant, pipeline_loads,
};
use crate::{Pass, TargetCaps};

/// One registered pass.
#[derive(Clone, Copy, Debug)]
pub struct PassInfo {
    pub name: &'static str,
    /// One line for `--print-pipeline` and docs.
    pub summary: &'static str,
    pub make: fn() -> Box<dyn Pass>,
}

/// All passes. Add a new pass by adding its module's `INFO` here.
pub const REGISTRY: &[PassInfo] = &[
    canonicalize::INFO,
    fuse_dequant::INFO,
    assign_scale_layout::INFO,
    pipeline_loads::INFO,
    assign_layouts::INFO,
    assign_layouts_mma::INFO,
];

/// Looking up a pipeline failed. Codes E09xx belong to the pass pipeline (E07xx: targets, E08xx: the
/// validation oracle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("E0901: unknown pass `{name}` (known passes: {known})")]
    UnknownPass { name: String, known: String },
    #[error("E0902: unknown target `{name}` (known targets: {known})")]
    UnknownTarget { name: String, known: String },
}

/// The registered pass called `name`.
pub fn lookup(name: &str) -> Result<&'static PassInfo, RegistryError> {
    REGISTRY
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| RegistryError::UnknownPass {
            name: name.to_string(),
            known: REGISTRY.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })
}

/// The capabilities of target `name`.
pub fn target(name: &str) -> Result<&'static TargetCaps, RegistryError> {
    TargetCaps::lookup(name).ok_or_else(|| RegistryError::UnknownTarget {
        name: name.to_string(),
        known: TargetCaps::names().join(", "),
    })
}

/// The passes of a comma-separated list such as `canonicalize,fuse-dequant`.
pub fn parse_pass_list(list: &str) -> Result<Vec<&'static PassInfo>, RegistryError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(lookup)
        .collect()
}

/// The pipeline of `caps`, resolved through the registry.
pub fn pipeline_for(caps: &TargetCaps) -> Result<Vec<&'static PassInfo>, RegistryError> {
    caps.pipeline.iter().map(|n| lookup(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_match_the_pass() {
        for (i, p) in REGISTRY.iter().enumerate() {
            assert_eq!((p.make)().name(), p.name);
            assert!(
                REGISTRY[..i].iter().all(|q| q.name != p.name),
                "{} registered twice",
                p.name
            );
        }
    }

    #[test]
    fn every_target_pipeline_resolves() {
        for t in crate::target::TARGETS {
            let names: Vec<_> = pipeline_for(t).unwrap().iter().map(|p| p.name).collect();
            assert_eq!(names, t.pipeline);
        }
        assert_eq!(
            pipeline_for(target("sm_90a").unwrap())
                .unwrap()
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>(),
            [
                "canonicalize",
                "fuse-dequant",
                "assign-scale-layout",
                "assign-layouts-mma"
            ]
        );
    }

    #[test]
    fn unknown_names_are_coded_errors() {
        let e = parse_pass_list("canonicalize, nope").unwrap_err();
        assert!(e.to_string().starts_with("E0901: unknown pass `nope`"), "{e}");
        assert!(e.to_string().contains("fuse-dequant"));
        assert!(target("sm_75").unwrap_err().to_string().contains("sm_90a"));
        assert_eq!(parse_pass_list("").unwrap().len(), 0);
    }
}
