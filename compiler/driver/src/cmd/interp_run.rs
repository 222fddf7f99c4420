//! Running the interpreter from the CLI: progress on stderr for long runs (a line at most every
//! two seconds once a run has taken two seconds, so short runs print nothing) and an optional work
//! budget (`tessera run --max-work N`: error E0612 when exceeded) — finding F17.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tessera_interp::{InterpError, ProgramSet, Progress, RunOptions};
use tessera_ir::Kernel;
use tessera_numerics::Bindings;

/// Interpret every program of `kernel` on `b`.
pub fn interp_run(kernel: &Kernel, b: &mut Bindings, max_work: Option<u64>) -> Result<(), InterpError> {
    let start = Instant::now();
    let last = Mutex::new(start);
    let progress = |p: Progress| {
        let now = Instant::now();
        if now.duration_since(start) < Duration::from_secs(2) {
            return;
        }
        if let Ok(mut l) = last.lock()
            && now.duration_since(*l) >= Duration::from_secs(2)
        {
            *l = now;
            eprintln!(
                "interp: {}/{} programs, {} work units, {:.0} s",
                p.programs_done,
                p.programs_total,
                p.work_done,
                now.duration_since(start).as_secs_f64()
            );
        }
    };
    let opts = RunOptions {
        max_work,
        progress: Some(&progress),
    };
    tessera_interp::run_with(kernel, b, ProgramSet::All, &opts)
}
