//! Keeps the calls to one provider under its published rate limit: the
//! pacing every caller of a module shares.
//!
//! Fixed spacing rather than a token bucket: one call every
//! `per / requests`. A bucket that starts full lets `requests` calls through
//! at once and then refills, so a window that straddles the burst can hold
//! nearly twice the limit, which is exactly what a provider counting a
//! sliding window answers with 429. A nightly sync gains nothing from
//! bursts: spacing gives the same throughput over the run and never puts
//! more than `requests` call starts in any window of `per`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::limits::RequestRate;

/// Hands out call slots for one module, shared by every task calling it.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    /// The earliest moment the next call may start.
    next_slot: Mutex<Instant>,
}

impl Pacer {
    /// A pacer whose first slot is now.
    pub(crate) fn new(limit: RequestRate) -> Pacer {
        Pacer {
            interval: limit.interval(),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Reserves the next slot: now when the pacer has been idle for an
    /// interval, else one interval after the slot before.
    pub(crate) fn reserve(&self) -> Instant {
        let mut next = self.lock();
        let slot = (*next).max(Instant::now());
        *next = slot + self.interval;
        slot
    }

    /// Waits for a reserved slot. The call must start as soon as this
    /// returns: a slot used late could bunch up with the ones after it.
    pub(crate) async fn wait_turn(&self) {
        tokio::time::sleep_until(self.reserve().into()).await;
    }

    /// Gives out no slot before `until`. A provider's Retry-After speaks for
    /// the whole account, not only for the call that drew it, so every
    /// task calling this module waits.
    pub(crate) fn hold_until(&self, until: Instant) {
        let mut next = self.lock();
        *next = (*next).max(until);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Instant> {
        // An Instant cannot be left half-written: a poisoned lock is fine.
        self.next_slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(requests: u32, per_ms: u64) -> Pacer {
        Pacer::new(RequestRate::new(requests, Duration::from_millis(per_ms)).unwrap())
    }

    #[test]
    fn no_window_holds_more_than_the_limit() {
        let pacer = pacer(5, 1000);
        let slots: Vec<Instant> = (0..23).map(|_| pacer.reserve()).collect();
        for (i, start) in slots.iter().enumerate() {
            let in_window = slots[i..]
                .iter()
                .take_while(|slot| slot.duration_since(*start) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 5, "{in_window} slots in the window from #{i}");
        }
        assert_eq!(
            slots[22].duration_since(slots[0]),
            Duration::from_millis(22 * 200),
            "no slower than needed"
        );
    }

    #[test]
    fn a_hold_pushes_every_later_slot_back() {
        let pacer = pacer(10, 1000);
        let first = pacer.reserve();
        let until = first + Duration::from_secs(7);
        pacer.hold_until(until);
        assert_eq!(pacer.reserve(), until);
        assert_eq!(pacer.reserve(), until + Duration::from_millis(100));
        // A hold that ends before the next slot changes nothing.
        pacer.hold_until(first);
        assert_eq!(pacer.reserve(), until + Duration::from_millis(200));
    }

    #[tokio::test]
    async fn callers_wait_their_turn() {
        let pacer = pacer(4, 200);
        let started = Instant::now();
        for _ in 0..5 {
            pacer.wait_turn().await;
        }
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
