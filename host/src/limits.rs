//! What one call of a module may consume.

use std::time::Duration;

/// Per-call bounds of a module. Every call gets a fresh store with these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time a call may take, provider round-trips included.
    pub deadline: Duration,
    /// Bytes of stdout/stderr the guest may write in one call; the rest is
    /// dropped (and the guest sees its writes fail).
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(30),
            output_bytes: 64 << 10,
        }
    }
}
