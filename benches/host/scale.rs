//! How much work each part does: the full run of `cargo bench`, or the
//! quick pass of `cargo test --benches`, which only checks that every part
//! works.

/// Counts and durations for one run of the benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Whether this is the quick pass: criterion runs each benchmark once
    /// and the timed loops use tiny counts, so the figures mean nothing.
    pub quick: bool,
    /// Whether criterion was asked only to list its benchmarks (`--list`):
    /// the timed loops then do not run at all.
    pub listing: bool,
    /// Sequential calls per contender for the one-call percentiles.
    pub latency_calls: usize,
    /// Calls per contender in one interleaving round of the percentiles.
    pub latency_round: usize,
    /// Services seeded for the bulk run, each read once per contender.
    pub bulk_services: usize,
    /// Calls in flight at once in the bulk run.
    pub bulk_concurrency: usize,
    /// Copies of the HostMeNow module loaded for the idle-memory figure.
    pub idle_modules: usize,
    /// Reads per contender in part 8, against the PHP client.
    pub php_reads: usize,
    /// Reads the sequential PHP loop makes against the distant provider of
    /// part 9 (its time is scaled to the bulk count).
    pub distant_php_reads: usize,
    /// Calls per run (with and without swaps) of the hot-swap measurement.
    pub swap_calls: usize,
    /// Calls in flight at once in the hot-swap measurement.
    pub swap_concurrency: usize,
    /// Loads from the compile cache per language in part 10.
    pub language_loads: usize,
    /// Sequential usage-data calls per language and way (a fresh instance,
    /// a reused one) in part 10.
    pub language_calls: usize,
}

impl Scale {
    /// The scale the command line asks for. Criterion 0.8 benchmarks only
    /// when `--bench` is given without `--test` (`cargo bench` passes
    /// `--bench`; `cargo test --benches` passes neither): the same rule
    /// picks the full or the quick scale here.
    pub fn from_args() -> Scale {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|arg| arg == flag);
        let quick = !has("--bench") || has("--test");
        let listing = has("--list");
        if quick { Scale::QUICK } else { Scale::FULL }.listing(listing)
    }

    const FULL: Scale = Scale {
        quick: false,
        listing: false,
        latency_calls: 2_000,
        latency_round: 100,
        bulk_services: 10_000,
        bulk_concurrency: 64,
        idle_modules: 16,
        php_reads: 5_000,
        distant_php_reads: 100,
        swap_calls: 10_000,
        swap_concurrency: 8,
        language_loads: 9,
        language_calls: 500,
    };

    const QUICK: Scale = Scale {
        quick: true,
        listing: false,
        latency_calls: 20,
        latency_round: 10,
        bulk_services: 200,
        bulk_concurrency: 64,
        idle_modules: 2,
        php_reads: 200,
        distant_php_reads: 4,
        swap_calls: 40,
        swap_concurrency: 8,
        language_loads: 1,
        language_calls: 4,
    };

    fn listing(self, listing: bool) -> Scale {
        Scale { listing, ..self }
    }
}
