//! The closing table: each figure beside what it is compared with from the
//! same run, their ratio and the goal; printed and written as markdown to
//! `target/benchmarks/summary.md` for BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::scale::Scale;

/// A measured value.
#[derive(Debug, Clone)]
pub enum Figure {
    /// A time (latency, cost of one operation).
    Time(Duration),
    /// Calls per second.
    Rate(f64),
    /// Memory.
    Bytes(u64),
    /// A count per call (instructions, page faults).
    Count(f64),
    /// Not measured, and why.
    Missing(&'static str),
}

impl Figure {
    fn number(&self) -> Option<f64> {
        match self {
            Figure::Time(time) => Some(time.as_secs_f64()),
            Figure::Rate(rate) => Some(*rate),
            Figure::Bytes(bytes) => Some(*bytes as f64),
            Figure::Count(count) => Some(*count),
            Figure::Missing(_) => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Figure::Time(time) if *time < Duration::from_millis(1) => {
                format!("{:.1} µs", time.as_secs_f64() * 1e6)
            }
            Figure::Time(time) => format!("{:.2} ms", time.as_secs_f64() * 1e3),
            Figure::Rate(rate) => format!("{rate:.0} calls/s"),
            Figure::Bytes(bytes) => format!("{:.2} MiB", *bytes as f64 / (1u64 << 20) as f64),
            Figure::Count(count) if *count >= 10_000.0 => format!("{:.0}", count),
            Figure::Count(count) => format!("{count:.2}"),
            Figure::Missing(why) => format!("n/a ({why})"),
        }
    }
}

/// What a row's value must be to meet the goal.
#[derive(Debug, Clone)]
pub enum Goal {
    /// No goal: the figure is reported.
    Report,
    /// value / baseline at most this.
    RatioAtMost(f64),
    /// value / baseline at least this.
    RatioAtLeast(f64),
    /// The value itself at most this.
    AtMost(Figure),
}

impl Goal {
    fn text(&self) -> String {
        match self {
            Goal::Report => "—".to_owned(),
            Goal::RatioAtMost(ratio) => format!("ratio ≤ {ratio:.2}"),
            Goal::RatioAtLeast(ratio) => format!("ratio ≥ {ratio:.2}"),
            Goal::AtMost(figure) => format!("≤ {}", figure.text()),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The item, e.g. "1. one call".
    pub part: &'static str,
    /// What was measured.
    pub measure: String,
    pub value: Figure,
    /// What it is compared with (the native client, or the state before
    /// an optimisation) and that value, from the same run.
    pub baseline: Option<(String, Figure)>,
    pub goal: Goal,
}

impl Row {
    /// value / baseline, when both were measured.
    fn ratio(&self) -> Option<f64> {
        let (_, baseline) = self.baseline.as_ref()?;
        let baseline = baseline.number().filter(|b| *b > 0.0)?;
        Some(self.value.number()? / baseline)
    }

    /// Whether the goal is met: `None` when there is no goal or a figure
    /// is missing.
    fn met(&self) -> Option<bool> {
        match &self.goal {
            Goal::Report => None,
            Goal::RatioAtMost(goal) => self.ratio().map(|ratio| ratio <= *goal),
            Goal::RatioAtLeast(goal) => self.ratio().map(|ratio| ratio >= *goal),
            Goal::AtMost(bound) => Some(self.value.number()? <= bound.number()?),
        }
    }
}

/// The rows gathered over the run.
#[derive(Default)]
pub struct Summary {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Summary {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// A line printed under the table (a check that passed, a count).
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table as markdown, headed by how the run was made.
    pub fn markdown(&self, scale: &Scale) -> String {
        let mut out = String::new();
        let profile = if cfg!(debug_assertions) {
            "dev (unoptimised host)"
        } else {
            "release"
        };
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mode = if scale.quick {
            "test mode (`cargo test --benches`): tiny counts, one iteration each; \
             the figures check that every part runs and mean nothing"
        } else {
            "full run (`cargo bench`)"
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "Run: {mode}; profile {profile}; {cores} cores.\n");
        out.push_str(
            "| part | measure | value | compared with | its value | ratio | goal | met |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        // By the numbering, in the order measured within a part.
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|row| row.part);
        for row in rows {
            let (what, baseline) = row
                .baseline
                .as_ref()
                .map_or(("—".to_owned(), "—".to_owned()), |(what, figure)| {
                    (what.clone(), figure.text())
                });
            let ratio = row.ratio().map_or("—".to_owned(), |r| format!("{r:.3}"));
            // Test-mode figures are not measurements: no verdict on them.
            let met = match row.met().filter(|_| !scale.quick) {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {what} | {baseline} | {ratio} | {} | {met} |",
                row.part,
                row.measure,
                row.value.text(),
                row.goal.text(),
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    /// Prints the table and writes it to `dir/summary.md` (a quick pass to
    /// `dir/summary-quick.md`, so that it never overwrites a full run's).
    pub fn publish(&self, scale: &Scale, dir: &Path) {
        let markdown = self.markdown(scale);
        println!("\n{markdown}");
        std::fs::create_dir_all(dir).expect("creating target/benchmarks");
        let file = if scale.quick {
            "summary-quick.md"
        } else {
            "summary.md"
        };
        let path = dir.join(file);
        std::fs::write(&path, &markdown).expect("writing the benchmarks' summary");
        println!("(written to {})", path.display());
    }
}
