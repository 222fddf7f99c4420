//! The pass-pipeline flags of `tessera build` (`--print-pipeline`, `--print-after=NAME`,
//! `--print-after-all`, `--verify-each`, `--diff-interp`) and their mapping onto
//! `tessera_passes::PipelineOptions`; the pipeline itself runs in the `tessera` library
//! (`tessera::compiler::pipeline`).

use std::path::PathBuf;
use tessera_passes::{DiffOptions, PipelineOptions};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct PipelineFlags {
    /// List the target's passes (with one-line summaries) before running them.
    #[arg(long)]
    pub print_pipeline: bool,
    /// Print the IR after this pass (repeatable).
    #[arg(long)]
    pub print_after: Vec<String>,
    /// Print the IR after every pass.
    #[arg(long)]
    pub print_after_all: bool,
    /// Run the IR verifier on the input and after every pass.
    #[arg(long)]
    pub verify_each: bool,
    /// Interpret the IR before and after every pass on the same random inputs and compare.
    #[arg(long)]
    pub diff_interp: bool,
    /// Seed of the --diff-interp inputs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Comma-separated pass names replacing the target's pipeline (experiments; the default is
    /// the target's pipeline).
    #[arg(long)]
    pub passes: Option<String>,
    /// Where internal-compiler-error reproducers are written (default: the current directory).
    #[arg(long)]
    pub repro_dir: Option<PathBuf>,
}

impl PipelineFlags {
    pub fn options(&self) -> PipelineOptions {
        let diff_interp = self.diff_interp.then(|| {
            let d = DiffOptions::default();
            DiffOptions {
                seed: self.seed.unwrap_or(d.seed),
                ..d
            }
        });
        PipelineOptions {
            passes: self.passes.clone(),
            print_pipeline: self.print_pipeline,
            print_after: self.print_after.clone(),
            print_after_all: self.print_after_all,
            verify_each: self.verify_each,
            diff_interp,
            repro_dir: self.repro_dir.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_onto_pipeline_options() {
        let f = PipelineFlags {
            print_pipeline: true,
            print_after: vec!["fuse-dequant".into()],
            verify_each: true,
            diff_interp: true,
            seed: Some(7),
            ..PipelineFlags::default()
        };
        let o = f.options();
        assert!(o.print_pipeline && o.verify_each && !o.print_after_all);
        assert_eq!(o.print_after, vec!["fuse-dequant".to_string()]);
        assert_eq!(o.diff_interp.map(|d| d.seed), Some(7));
        assert!(PipelineFlags::default().options().diff_interp.is_none());
    }
}
