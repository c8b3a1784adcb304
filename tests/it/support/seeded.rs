//! Running many seeded random schedules on a few workers, for the randomised tests
//! (`random_sync`, `random_members`).
//!
//! `seeds` reads which seeds to run from the environment: one seed to replay, or how many.
//! `run_seeds` runs them on workers, each with a world of its own (a cloud process and what
//! the schedules share), stops at the first failure and returns its seed and message, so the
//! test can print the schedule and the command that replays it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The seeds to run: `$seed_var` alone, or `0..n` where n is `$count_var` (or `default`)
/// divided by `share`, and at least 1.
pub fn seeds(seed_var: &str, count_var: &str, default: u64, share: u64) -> Vec<u64> {
    let number = |name: &str| {
        std::env::var(name).ok().map(|value| {
            value
                .trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}"))
        })
    };
    match number(seed_var) {
        Some(seed) => vec![seed],
        None => {
            let count = number(count_var).unwrap_or(default) / share;
            (0..count.max(1)).collect()
        }
    }
}

/// Runs `run(world, worker, seed)` for every seed on `workers` threads, each with a world
/// made by `start(worker)`. Returns the first failure's seed and panic message.
pub fn run_seeds<W>(
    seeds: &[u64],
    workers: usize,
    start: impl Fn(usize) -> W + Sync,
    run: impl Fn(&mut W, usize, u64) + Sync,
) -> Option<(u64, String)> {
    let workers = workers.clamp(1, seeds.len().max(1));
    let failed = AtomicBool::new(false);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let (failed, failures, start, run) = (&failed, &failures, &start, &run);
            scope.spawn(move || {
                let mut world = start(worker);
                for seed in seeds.iter().skip(worker).step_by(workers) {
                    if failed.load(Ordering::SeqCst) {
                        return;
                    }
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run(&mut world, worker, *seed);
                    }));
                    if let Err(panic) = outcome {
                        failed.store(true, Ordering::SeqCst);
                        let message = panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("(no message)")
                            .to_owned();
                        failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((*seed, message));
                        return;
                    }
                }
            });
        }
    });
    failures
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .next()
}
