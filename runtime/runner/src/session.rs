//! What every subcommand starts with: the bundle read and checked, its kernel parsed from the tile
//! IR, the symbolic dims bound, the backend chosen from the target, and fresh inputs made.

use crate::backend::Backend;
use crate::error::RunnerError;
use crate::problem;
use std::path::PathBuf;
use tessera_bundle::Bundle;
use tessera_ir::Kernel;
use tessera_numerics::Bindings;

/// The flags every subcommand shares.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    pub bundle_dir: PathBuf,
    /// `NAME=VALUE` symbolic dims.
    pub dims: Vec<String>,
    /// `NAME=VALUE` scalar parameters.
    pub scalars: Vec<String>,
    pub seed: u64,
    /// Backend override; by default derived from the bundle's target.
    pub backend: Option<Backend>,
    /// `--arg` pairs: `name=FILE.npy` (tensor inputs), `name.scale=FILE.npy` (their block scales,
    /// row-major), `name=VALUE` (scalars). Given tensors bind the symbolic dims by their shapes;
    /// with any tensor given, every scalar must have a value (no defaults on real data).
    pub args: Vec<String>,
    /// `NAME=VALUE` dims used only for symbols that neither a file nor `dims` binds (the `tessera`
    /// CLI's partial-tile defaults).
    pub default_dims: Vec<String>,
}

/// A bundle ready to launch: its kernel, bound dims, backend and fresh inputs (outputs poisoned).
///
/// Inputs exist in two forms. `logical` holds them as the user declares them (row-major scales)
/// for `logical_kernel`, the kernel's linear view: what the plain reference and other host-side
/// oracles read. `bindings` is what a launch of `kernel` gets: the same values, with every scale
/// buffer whose type names a swizzled layout (`nv128x4` on sm_100a/sm_120a, `amd_lane*` on
/// gfx950) prepacked once, here, at load (`tessera_prepack`); the interpreter binds that form too.
pub struct Loaded {
    pub bundle: Bundle,
    /// The kernel of the bundle's tile IR, scale layouts as the target assigned them.
    pub kernel: Kernel,
    pub syms: Vec<(String, i64)>,
    pub backend: Backend,
    /// The device form of the inputs (scales prepacked per `kernel`'s types).
    pub bindings: Bindings,
    /// `kernel` with every scale layout seen as linear.
    pub logical_kernel: Kernel,
    /// The logical form of the inputs (row-major scales), for `logical_kernel`.
    pub logical: Bindings,
}

impl Loaded {
    /// Read the bundle directory of `c` and prepare it.
    pub fn new(c: &Common) -> Result<Loaded, RunnerError> {
        Loaded::from_bundle(Bundle::read(&c.bundle_dir)?, c)
    }

    /// Prepare an in-memory bundle (e.g. one the `tessera` CLI just built); `c.bundle_dir` is unused.
    pub fn from_bundle(bundle: Bundle, c: &Common) -> Result<Loaded, RunnerError> {
        bundle.check(&c.bundle_dir)?;
        let kernel = problem::kernel_of(&bundle)?;
        bundle.check_kernel(&c.bundle_dir, &kernel)?;
        let logical_kernel = tessera_prepack::linear_view(&kernel);
        let pairs = problem::parse_assignments(&c.args, "arg")?;
        let given = tessera_numerics::args::read_tensor_args(&logical_kernel, &pairs)?;
        let from_files = tessera_numerics::args::dims_of_tensors(&logical_kernel, &given)?;
        let mut dims = tessera_numerics::args::merge_dims(&from_files, &problem::parse_dims(&c.dims)?)?;
        // Dims that follow from others under the kernel's reference conventions (MoE: E1 = E + 1).
        tessera_oracle::derive_dims(&kernel, &mut dims);
        for (n, v) in problem::parse_dims(&c.default_dims)? {
            if !dims.iter().any(|(d, _)| *d == n) {
                dims.push((n, v));
            }
        }
        let syms = problem::bind_dims(&kernel, &dims)?;
        let backend = match c.backend {
            Some(b) => b,
            None => Backend::for_target(&bundle.meta.target).ok_or_else(|| {
                RunnerError::usage(format!(
                    "bundle target {:?} has no runtime backend",
                    bundle.meta.target
                ))
            })?,
        };
        let mut scalars = problem::parse_assignments(&c.scalars, "scalar")?;
        for (n, v) in &pairs {
            if kernel
                .params
                .iter()
                .any(|p| &p.name == n && matches!(p.kind, tessera_ir::ParamKind::Scalar(_)))
            {
                if scalars.iter().any(|(s, _)| s == n) {
                    return Err(RunnerError::usage(format!(
                        "error[{}]: `{n}` is given by both --arg and --scalar; give it once",
                        tessera_numerics::error::E_ARG
                    )));
                }
                scalars.push((n.clone(), v.clone()));
            }
        }
        let logical = problem::make_bindings_given(&logical_kernel, &syms, &scalars, c.seed, given)?;
        let bindings = problem::device_bindings(&kernel, &logical)?;
        // Generated inputs are seeded and reproducible; a scalar nobody gave is said out loud, never
        // silently defaulted (with any input file given it is an error instead: E0511).
        for (p, v) in kernel.params.iter().zip(&logical.args) {
            if let (tessera_ir::ParamKind::Scalar(_), tessera_numerics::ArgValue::Scalar(v)) = (&p.kind, v)
                && !scalars.iter().any(|(n, _)| n == &p.name)
            {
                eprintln!(
                    "note: scalar `{}` = {v} (not given: the default for seed {}; give --arg {}=VALUE)",
                    p.name, c.seed, p.name
                );
            }
        }
        Ok(Loaded {
            bundle,
            kernel,
            syms,
            backend,
            bindings,
            logical_kernel,
            logical,
        })
    }

    pub fn param_names(&self) -> Vec<&str> {
        self.kernel.params.iter().map(|p| p.name.as_str()).collect()
    }

    pub fn shape_label(&self) -> String {
        problem::shape_label(&self.syms)
    }
}
