//! Reference interpreter of the tile IR: the source of truth every backend is judged against.
//!
//! [`run`] executes a kernel over its whole grid, or over chosen program ids (spot checks of huge
//! shapes), in parallel across cores with rayon and deterministically: each program records its
//! stores and atomics in a log, and logs are applied in program-id order (see [`ProgramSet`]).
//! Exact format semantics throughout (decode through
//! `tessera-formats`, RNE + satfinite on narrowing casts), f32 accumulation in a documented order
//! (`dot.rs`, docs/NUMERICS.md "Interpreter semantics"), and a coded [`InterpError`] for anything
//! it does not implement — it never skips or approximates silently.

mod bind;
mod budget;
mod dot;
mod elementwise;
mod error;
mod exec;
mod quant;
mod tensor;
mod value;

pub use bind::{bind_syms, check_args, concrete_shape, sync_globals};
pub use budget::{Progress, RunOptions};
pub use error::*;

use budget::Work;
use exec::{Launch, Program, Write};
use rayon::prelude::*;
use tensor::{Elem, Geometry, read_f32, read_i64, write};
use tessera_ir::{Block, Kernel, MAX_TILE_ELEMENTS, ParamKind, verify_kernel};
use tessera_numerics::{ArgValue, Bindings, TensorBuf};

/// Which program instances to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramSet {
    /// Every program of the grid, applied in order of `(z, y, x)` with x = axis 0 fastest.
    All,
    /// These program ids (`[axis0, axis1, axis2]`), applied in the order given.
    Ids(Vec<[u32; 3]>),
}

/// Evaluate the launch grid of `k` for bound syms (missing dims are 1).
pub fn grid(k: &Kernel, b: &Bindings) -> Result<[u32; 3], InterpError> {
    let mut g = [1u32; 3];
    for (i, e) in k.grid.iter().enumerate().take(3) {
        let v = e.eval(&|s| b.sym(s)).ok_or_else(|| {
            InterpError::binding(
                E_GRID,
                format!("grid dim {i} cannot be evaluated (unbound dim or division by zero)"),
            )
        })?;
        g[i] = u32::try_from(v.max(0))
            .map_err(|_| InterpError::binding(E_GRID, format!("grid dim {i} = {v} is too large")))?;
    }
    Ok(g)
}

/// Run `kernel` on `bindings`. Symbolic dims are bound from the argument shapes (values already in
/// `bindings.syms` must agree); outputs are written in place into the `out` tensors' buffers.
///
/// Scale buffers are bound in the storage the kernel's types name, as a device gets them: a
/// swizzled layout (`nv128x4`, `amd_lane*`) takes the flat prepacked buffer of
/// `tessera_prepack::prepack_tensor`. Those are read back into logical scales and the kernel runs
/// as its linear view (layouts are a storage matter; see `tessera_prepack::bind`); the caller's
/// scale buffers are left as given.
pub fn run(kernel: &Kernel, bindings: &mut Bindings, programs: ProgramSet) -> Result<(), InterpError> {
    run_with(kernel, bindings, programs, &RunOptions::default())
}

/// [`run`] with options: a work budget (E0612 when exceeded) and a progress callback.
pub fn run_with(
    kernel: &Kernel,
    bindings: &mut Bindings,
    programs: ProgramSet,
    options: &RunOptions<'_>,
) -> Result<(), InterpError> {
    verify_kernel(kernel).map_err(|e| InterpError::binding(E_VERIFY, e.to_string()))?;
    if !tessera_prepack::has_swizzled(kernel) {
        return run_verified(kernel, bindings, programs, options);
    }
    let physical: Vec<Option<TensorBuf>> = bindings
        .args
        .iter()
        .map(|a| match a {
            ArgValue::Tensor(t) => t.scale.clone(),
            ArgValue::Scalar(_) => None,
        })
        .collect();
    let r = tessera_prepack::unpack_bindings(kernel, bindings)
        .map_err(bind::prepack_error)
        .and_then(|()| run_verified(&tessera_prepack::linear_view(kernel), bindings, programs, options));
    for (a, s) in bindings.args.iter_mut().zip(physical) {
        if let ArgValue::Tensor(t) = a {
            t.scale = s;
        }
    }
    r
}

/// Refuse (E0611) a kernel with a tile over [`MAX_TILE_ELEMENTS`] before anything is allocated:
/// the checker never makes one (E0143), but IR also comes from `.tir` files.
fn check_tile_sizes(k: &Kernel, b: &Block) -> Result<(), InterpError> {
    for op in &b.ops {
        for r in &op.results {
            if let Some(t) = k.ty(*r).as_tile()
                && t.elements() > MAX_TILE_ELEMENTS
            {
                return Err(InterpError::binding(
                    E_TILE_LIMIT,
                    format!(
                        "`{}` (at {}..{}) makes a tile of shape {:?}, more than the interpreter's limit of {MAX_TILE_ELEMENTS} elements",
                        op.kind.mnemonic(),
                        op.span.lo,
                        op.span.hi,
                        t.shape
                    ),
                ));
            }
        }
        for inner in op.kind.blocks() {
            check_tile_sizes(k, inner)?;
        }
    }
    Ok(())
}

/// The program id at linear position `i` of grid `g` (x fastest, then y, then z).
fn program_at(g: [u32; 3], i: u128) -> [u32; 3] {
    let (x, y) = (u128::from(g[0].max(1)), u128::from(g[1].max(1)));
    [(i % x) as u32, ((i / x) % y) as u32, (i / (x * y)) as u32]
}

/// [`run`] of a verified kernel whose scale buffers are all linear.
fn run_verified(
    kernel: &Kernel,
    bindings: &mut Bindings,
    programs: ProgramSet,
    options: &RunOptions<'_>,
) -> Result<(), InterpError> {
    check_tile_sizes(kernel, &kernel.body)?;
    bind_syms(kernel, bindings)?;
    sync_globals(kernel, bindings)?;
    check_args(kernel, bindings)?;
    let g = grid(kernel, bindings)?;
    // The whole grid is never materialized: ids are made one chunk at a time (a grid of 2^31 x
    // 2^31 x 65535 programs is a long run, not an allocation failure).
    // Up to (2^32 - 1)^3 programs: counted in u128.
    let (listed, total): (Option<Vec<[u32; 3]>>, u128) = match programs {
        ProgramSet::All => (None, g.iter().map(|d| u128::from(*d)).product()),
        ProgramSet::Ids(v) => {
            if let Some(p) = v.iter().find(|p| (0..3).any(|i| p[i] >= g[i])) {
                return Err(InterpError::binding(
                    E_GRID,
                    format!("program id {p:?} is outside the grid {g:?}"),
                ));
            }
            let n = v.len() as u128;
            (Some(v), n)
        }
    };
    let mut geo = Vec::new();
    let mut scale_geo = Vec::new();
    for (p, a) in kernel.params.iter().zip(&bindings.args) {
        match (&p.kind, a) {
            (ParamKind::Tensor { .. }, ArgValue::Tensor(t)) => {
                geo.push(Some(Geometry::new(
                    t.data.dtype,
                    &t.data.shape,
                    t.data.packed_axis,
                )));
                scale_geo.push(t.scale.as_ref().map(|s| Geometry::new(s.dtype, &s.shape, None)));
            }
            _ => {
                geo.push(None);
                scale_geo.push(None);
            }
        }
    }
    let syms: Vec<i64> = bindings.syms.iter().map(|(_, v)| *v).collect();
    // Chunks bound the memory held in write logs; within a chunk programs run in parallel.
    let chunk = 256 * rayon::current_num_threads().max(1) as u128;
    let work = Work::new(options, u64::try_from(total).unwrap_or(u64::MAX));
    let mut start = 0u128;
    while start < total {
        let end = total.min(start + chunk);
        let ids: Vec<[u32; 3]> = match &listed {
            Some(v) => v[start as usize..end as usize].to_vec(),
            None => (start..end).map(|i| program_at(g, i)).collect(),
        };
        let logs: Vec<Result<Vec<Write>, InterpError>> = {
            let launch = Launch {
                k: kernel,
                args: &bindings.args,
                syms: syms.clone(),
                grid: g,
                geo: geo.clone(),
                scale_geo: scale_geo.clone(),
                work: &work,
            };
            ids.par_iter()
                .map(|pid| {
                    let mut p = Program::new(&launch, *pid);
                    p.run()?;
                    Ok(p.log)
                })
                .collect()
        };
        for log in logs {
            apply(&mut bindings.args, &geo, &scale_geo, log?);
        }
        work.programs_finished((end - start) as u64);
        start = end;
    }
    Ok(())
}

/// Apply one program's write log: stores overwrite, atomics read-add-write (f32 add, or i32 wrap);
/// scale writes go to the tensor's block-scale buffer.
fn apply(args: &mut [ArgValue], geo: &[Option<Geometry>], scale_geo: &[Option<Geometry>], log: Vec<Write>) {
    for w in log {
        let geo = if w.scale { scale_geo } else { geo };
        let (Some(ArgValue::Tensor(t)), Some(Some(g))) =
            (args.get_mut(w.param as usize), geo.get(w.param as usize))
        else {
            continue;
        };
        let bytes = match (&mut t.scale, w.scale) {
            (Some(s), true) => &mut s.bytes,
            (None, true) => continue,
            (_, false) => &mut t.data.bytes,
        };
        let v = if w.add {
            match w.v {
                Elem::F(x) => Elem::F(read_f32(g.dtype, bytes, w.addr) + x),
                Elem::I(x) => Elem::I((read_i64(g.dtype, bytes, w.addr).wrapping_add(x)) as i32 as i64),
            }
        } else {
            w.v
        };
        write(g.dtype, bytes, w.addr, v);
    }
}
