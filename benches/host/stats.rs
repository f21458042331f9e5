//! Percentiles of per-call latencies, and the per-iteration times of
//! criterion's samples, kept so that the summary shows the same data
//! criterion analysed.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Per-call latencies, sorted once for their percentiles.
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    /// Takes the latencies of a run (in any order).
    pub fn new(mut latencies: Vec<Duration>) -> Latencies {
        assert!(!latencies.is_empty(), "a run without a single call");
        latencies.sort_unstable();
        Latencies { sorted: latencies }
    }

    /// The `p`th percentile (0 < p <= 100), nearest rank.
    pub fn percentile(&self, p: f64) -> Duration {
        let rank = (p / 100.0 * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }
}

/// Every (iterations, elapsed) pair one criterion benchmark's routine
/// measured: first its warm-up, then its samples.
#[derive(Clone, Default)]
pub struct Samples(Rc<RefCell<Vec<(u64, Duration)>>>);

impl Samples {
    /// Records one run of the routine; returns `elapsed` for criterion.
    pub fn record(&self, iterations: u64, elapsed: Duration) -> Duration {
        self.0.borrow_mut().push((iterations, elapsed));
        elapsed
    }

    /// The median time of one iteration over the last `sample_size` runs,
    /// which are criterion's samples (the runs before them are its
    /// warm-up). `None` when criterion ran nothing (filtered out, listing).
    pub fn median_per_iteration(&self, sample_size: usize) -> Option<Duration> {
        let runs = self.0.borrow();
        let samples = &runs[runs.len().saturating_sub(sample_size)..];
        let per_iteration: Vec<Duration> = samples
            .iter()
            .filter(|(iterations, _)| *iterations > 0)
            .map(|(iterations, elapsed)| elapsed.div_f64(*iterations as f64))
            .collect();
        (!per_iteration.is_empty()).then(|| Latencies::new(per_iteration).p50())
    }
}
