//! Bounding and watching long runs: an optional work budget (E0612 when exceeded) and a progress
//! callback, for callers (the CLI) that run programs of unknown cost.
//!
//! Work is counted in units of roughly one element operation: an op costs the elements of its
//! result tile (a scalar op 1), a `store`/`atomic_add` the elements stored, a `dot` M·N·K, and each
//! loop iteration 1 more. Programs add their count to the shared total every [`FLUSH`] units, so
//! the budget is checked with that granularity per worker thread.

use crate::error::{E_WORK_BUDGET, InterpError};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_ir::Span;

/// Units a program counts before adding them to the shared total.
pub(crate) const FLUSH: u64 = 1 << 16;
/// The progress callback is called each time the total crosses a multiple of this many units
/// (and once per finished chunk of programs).
const PROGRESS_EVERY: u64 = 1 << 26;

/// A snapshot of a run's progress, passed to [`RunOptions::progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Programs whose writes have been applied.
    pub programs_done: u64,
    /// Programs the run will execute (saturating at u64::MAX: a grid may hold up to (2^32 - 1)^3).
    pub programs_total: u64,
    /// Work units counted so far (see the module documentation).
    pub work_done: u64,
}

/// Options of [`crate::run_with`]. The default is [`crate::run`]'s behaviour: no budget, no callback.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Stop with E0612 once the run has done more than this many work units.
    pub max_work: Option<u64>,
    /// Called with the progress so far, from the calling thread after each chunk of programs and
    /// from worker threads every 2^26 units; keep it cheap (e.g. print when a second has passed).
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

impl fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("max_work", &self.max_work)
            .field("progress", &self.progress.map(|_| "callback"))
            .finish()
    }
}

/// The shared counters of one run.
pub(crate) struct Work<'a> {
    max: Option<u64>,
    progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    used: AtomicU64,
    programs_done: AtomicU64,
    programs_total: u64,
}

impl<'a> Work<'a> {
    pub fn new(o: &RunOptions<'a>, programs_total: u64) -> Work<'a> {
        Work {
            max: o.max_work,
            progress: o.progress,
            used: AtomicU64::new(0),
            programs_done: AtomicU64::new(0),
            programs_total,
        }
    }

    fn report(&self) {
        if let Some(p) = self.progress {
            p(Progress {
                programs_done: self.programs_done.load(Ordering::Relaxed),
                programs_total: self.programs_total,
                work_done: self.used.load(Ordering::Relaxed),
            });
        }
    }

    /// Add `n` units done by program `program` at op `span`; E0612 once the budget is exceeded.
    pub fn add(&self, n: u64, program: [u32; 3], span: Span) -> Result<(), InterpError> {
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        let now = before.saturating_add(n);
        if before / PROGRESS_EVERY != now / PROGRESS_EVERY {
            self.report();
        }
        match self.max {
            Some(max) if now > max => Err(InterpError::Runtime {
                code: E_WORK_BUDGET,
                span,
                program,
                message: format!(
                    "the run exceeded its work budget of {max} units ({now} counted; {} of {} programs done)",
                    self.programs_done.load(Ordering::Relaxed),
                    self.programs_total
                ),
            }),
            _ => Ok(()),
        }
    }

    pub fn programs_finished(&self, n: u64) {
        self.programs_done.fetch_add(n, Ordering::Relaxed);
        self.report();
    }
}
