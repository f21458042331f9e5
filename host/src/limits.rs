//! What one call of a module may consume, and how often a safe read is
//! tried again.

use std::time::Duration;

/// Per-call bounds of a module. Every call gets a fresh store with these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time a call may take, provider round-trips and retries
    /// included.
    pub deadline: Duration,
    /// Bytes of stdout (and, separately, stderr) the guest may write in one
    /// call. A guest that writes more is stopped with `output-exceeded`.
    pub output_bytes: usize,
    /// Bytes of a provider's response body the host passes to the guest;
    /// past this the body is cut off and the guest sees a body-size error.
    pub response_bytes: usize,
    /// Size of the answer a guest may hand back (as JSON), so that a module
    /// cannot push megabytes into the caller's hands.
    pub result_bytes: usize,
    /// Further attempts for a read that is safe to repeat (test-connection,
    /// usage-data, list-packages, service-status) after a rate limit, a
    /// provider error, a bad answer or a transport failure. Mutating calls
    /// are never tried again.
    pub read_retries: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(30),
            output_bytes: 64 << 10,
            response_bytes: 4 << 20,
            result_bytes: 1 << 20,
            read_retries: 2,
        }
    }
}
