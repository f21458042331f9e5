//! What one call of a module may consume, how often a safe read is tried
//! again, and how fast the host may call a provider.

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
    /// Further attempts for a read that is safe to repeat (a function of
    /// effect [`Effect::Read`](crate::Effect::Read) in
    /// [`FUNCTIONS`](crate::FUNCTIONS)) after a rate limit, a
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

/// A provider's published request rate: at most `requests` calls in any
/// window of `per`. The host paces every call of the module by it, each
/// attempt of a retried read too, whoever makes it ([`crate::Host::execute`],
/// [`crate::sync_usage`]). It counts calls: for a provider that counts
/// requests, a function that sends two requests counts once, so give the
/// rate in calls of the heaviest function used in bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRate {
    /// Calls allowed in one window.
    pub requests: u32,
    /// Length of the window.
    pub per: Duration,
}

impl RequestRate {
    /// `requests` calls per `per`; both must be above zero.
    pub fn new(requests: u32, per: Duration) -> anyhow::Result<RequestRate> {
        if requests == 0 {
            anyhow::bail!("a rate limit must allow at least one request");
        }
        if per.is_zero() {
            anyhow::bail!("a rate limit's window must be longer than zero");
        }
        Ok(RequestRate { requests, per })
    }

    /// The steady spacing between two calls that keeps every window of
    /// `per` at or under `requests` calls; rounded up to the nanosecond,
    /// since rounding down would let one call too many into a window.
    pub fn interval(&self) -> Duration {
        let nanos = self
            .per
            .as_nanos()
            .div_ceil(u128::from(self.requests.max(1)));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_needs_requests_and_a_window() {
        assert!(RequestRate::new(0, Duration::from_secs(1)).is_err());
        assert!(RequestRate::new(1, Duration::ZERO).is_err());
        let limit = RequestRate::new(100, Duration::from_secs(300)).unwrap();
        assert_eq!(limit.interval(), Duration::from_secs(3));
        let thirds = RequestRate::new(3, Duration::from_secs(1)).unwrap();
        assert!(
            thirds.interval() * 3 >= Duration::from_secs(1),
            "rounded up"
        );
    }
}
