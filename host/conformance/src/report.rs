//! What a run of the kit found: one line per check, in the one shape the
//! table and `--json` both print.

use serde::Serialize;

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The module does what the check asks.
    Pass,
    /// It does not: the reason says where.
    Fail,
    /// Not run (a function that changes things, without `allow_changes`;
    /// nothing to run it on): neither proof nor failure.
    Skip,
}

impl Outcome {
    /// The word printed for it: `pass`, `fail` or `skip`.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

/// One named check with its result and one line of reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's name, e.g. `info-undeclared-unsupported`, `fault-slow`.
    pub name: String,
    /// Pass, fail or skip.
    pub result: Outcome,
    /// Why, in one line: what was seen (for a failure, where).
    pub reason: String,
}

impl Check {
    /// A check that holds.
    pub fn pass(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            result: Outcome::Pass,
            reason: reason.into(),
        }
    }

    /// A check that failed.
    pub fn fail(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            result: Outcome::Fail,
            reason: reason.into(),
        }
    }

    /// A check not run.
    pub fn skip(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            result: Outcome::Skip,
            reason: reason.into(),
        }
    }

    /// Passes when `problems` is empty (with `passed` as the reason), else
    /// fails with the problems joined.
    pub fn from_problems(name: &str, problems: &[String], passed: impl Into<String>) -> Check {
        if problems.is_empty() {
            Check::pass(name, passed)
        } else {
            Check::fail(name, problems.join("; "))
        }
    }
}

/// The module the kit checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleSummary {
    /// Its `info` id, empty when it did not load.
    pub id: String,
    /// Its `info` version, empty when it did not load.
    pub version: String,
    /// The component file's sha256 (hex), empty when it did not load.
    pub sha256: String,
}

/// Everything one run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The module checked.
    pub module: ModuleSummary,
    /// Whether changes were allowed (the lifecycle ran).
    pub changes_allowed: bool,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
    /// Whether every check holds (none failed).
    pub passed: bool,
}

impl Report {
    /// A report of these checks.
    pub(crate) fn new(module: ModuleSummary, changes_allowed: bool, checks: Vec<Check>) -> Report {
        let passed = checks.iter().all(|c| c.result != Outcome::Fail);
        Report {
            module,
            changes_allowed,
            checks,
            passed,
        }
    }

    /// The check of that name, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}
