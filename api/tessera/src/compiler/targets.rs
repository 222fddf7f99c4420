//! The `--target` names `tessera build` accepts, the backend each one is lowered by, the pass
//! pipeline capabilities it runs with, and the `--list-targets` listing.

use tessera_passes::TargetCaps;
use tessera_target_nvidia::Target;

/// Code of an unknown `--target` (the same code `tessera opt` uses, from the pass registry).
pub const E_UNKNOWN_TARGET: &str = "E0902";

/// Every target name, in the order `--list-targets` prints them.
pub const NAMES: [&str; 5] = ["sm_90a", "sm_100a", "sm_120a", "sm_121a", "gfx950"];

/// Which lowering a target goes through.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// Hopper: the per-op lowering through MLIR to wgmma (`tessera_target_nvidia::compile`).
    Hopper(Target),
    /// Blackwell-class block-scaled MMA (tcgen05 / mma.sync block_scale), `native::build_kernel`.
    NvNative(Target),
    /// AMD CDNA4 scaled MFMA (`tessera_target_amd::build_kernel`).
    Gfx950,
}

/// A resolved `--target`.
#[derive(Clone, Copy, Debug)]
pub struct BuildTarget {
    pub name: &'static str,
    pub backend: Backend,
    /// What the pass pipeline sees (scale layouts, native contracts, the pass list).
    pub caps: &'static TargetCaps,
}

/// The unknown-target error, listing the valid names.
pub fn unknown(name: &str) -> String {
    format!(
        "error[{E_UNKNOWN_TARGET}]: unknown target `{name}` (valid targets: {}; `tessera build --list-targets` describes them)",
        NAMES.join(", ")
    )
}

/// Resolve a `--target` name.
pub fn resolve(name: &str) -> Result<BuildTarget, String> {
    let backend = if let Some(t) = tessera_target_nvidia::by_name(name) {
        Backend::Hopper(t)
    } else if let Some(t) = tessera_target_nvidia::native::native_by_name(name) {
        Backend::NvNative(t)
    } else if name == tessera_target_amd::TARGET {
        Backend::Gfx950
    } else {
        return Err(unknown(name));
    };
    // sm_121a (DGX Spark) has the sm_120a instruction set, so the passes treat it as sm_120a.
    let caps_name = if name == "sm_121a" { "sm_120a" } else { name };
    let caps = TargetCaps::lookup(caps_name).ok_or_else(|| {
        format!(
            "error[{E_UNKNOWN_TARGET}]: target `{name}` has a backend but no pass-pipeline capabilities (internal)"
        )
    })?;
    let name = NAMES.iter().copied().find(|n| *n == name).unwrap_or(caps.name);
    Ok(BuildTarget { name, backend, caps })
}

/// One entry of `--list-targets`: the backend crates' own summaries plus what the pass pipeline
/// does for the target.
struct Listing {
    name: &'static str,
    summary: String,
    capabilities: Vec<String>,
}

fn listings() -> Vec<Listing> {
    let mut out: Vec<Listing> = tessera_target_nvidia::native::list_targets()
        .into_iter()
        .map(|l| Listing {
            name: l.name,
            summary: l.summary.to_string(),
            capabilities: l.capabilities,
        })
        .collect();
    // The NVIDIA crate lists sm_121a only as a variant of sm_120a; give it its own line.
    if !out.iter().any(|l| l.name == "sm_121a")
        && let Some(pos) = out.iter().position(|l| l.name == "sm_120a")
    {
        out.insert(
            pos + 1,
            Listing {
                name: "sm_121a",
                summary:
                    "DGX Spark (GB10): the sm_120a instruction set (mma.sync block_scale); compile-only here"
                        .into(),
                capabilities: vec!["same lowering and pass pipeline as sm_120a; ptxas -arch=sm_121a".into()],
            },
        );
    }
    out.extend(tessera_target_amd::list_targets().into_iter().map(|l| Listing {
        name: l.name,
        summary: l.summary.to_string(),
        capabilities: l.capabilities,
    }));
    out
}

/// The `--list-targets` text: one line per target (name and summary), then its details.
pub fn list_text() -> String {
    let mut t = String::new();
    for name in NAMES {
        let Some(l) = listings().into_iter().find(|l| l.name == name) else {
            continue;
        };
        t.push_str(&format!("{:<9}{}\n", l.name, l.summary));
        for c in &l.capabilities {
            t.push_str(&format!("    - {c}\n"));
        }
        if let Ok(bt) = resolve(name) {
            let caps = bt.caps;
            t.push_str(&format!("    mma family: {}\n", caps.mma_family));
            if caps.native_scaled.is_empty() {
                t.push_str("    native scaled contracts: none (scales applied in registers by the kernel)\n");
            }
            for n in caps.native_scaled {
                t.push_str(&format!(
                    "    native scaled contract: {} block {} -> layout {} ({})\n",
                    n.family,
                    n.block,
                    n.layout.name(),
                    n.instr
                ));
            }
            t.push_str(&format!("    pass pipeline: {}\n", caps.pipeline.join(" -> ")));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_and_is_listed() {
        let text = list_text();
        for n in NAMES {
            let t = resolve(n).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.name, n);
            assert!(text.lines().any(|l| l.starts_with(n)), "{n} missing:\n{text}");
        }
    }

    #[test]
    fn unknown_target_lists_the_valid_ones() {
        let e = resolve("sm_80").err().unwrap_or_default();
        assert!(e.starts_with("error[E0902]: unknown target `sm_80`"), "{e}");
        for n in NAMES {
            assert!(e.contains(n), "{e}");
        }
    }
}
