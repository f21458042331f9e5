//! Keeps the calls to one provider under its published rate limit
//! ([`RequestRate`]): one [`RateLimiter`] per module name, kept by the
//! host's registry so that it outlives a hot swap of the module. Every
//! call that reaches the guest takes a [`Turn`] first, each attempt of a
//! retried read too; a call whose turn would come after its deadline is
//! refused before anything is sent ([`NoTurn`]), and a provider's
//! Retry-After holds every caller of the module
//! ([`RateLimiter::hold_until`]).
//!
//! Fixed spacing rather than a token bucket: one call every
//! `per / requests`. A bucket that starts full lets `requests` calls through
//! at once and then refills, so a window that straddles the burst can hold
//! nearly twice the limit, which is exactly what a provider counting a
//! sliding window answers with 429. Nobody gains from bursts: spacing gives
//! the same throughput over a run and never puts more than `requests` call
//! starts in any window of `per`.
//!
//! A provider counts requests as they arrive, though, not calls as they
//! start, and the time in between (an instance to make, the guest to run,
//! the network) differs from call to call. Spaced at exactly the provider's
//! rate, a call whose request gets there sooner after its start than that
//! of the call `requests` turns earlier lands inside that call's window and
//! is refused; under load, now and then one does (2 of 300 calls through
//! `provisioning serve` at the Webline simulator's own rate, in its test).
//! So a turn also waits for the window of the calls before it: a call
//! starts only while fewer than `requests` calls are running or ended less
//! than `per` ago. A request arrives between its call's start and its end,
//! so no window of `per` then holds more than `requests` of them, whatever
//! the network does; the price is one call's duration per window.
//!
//! A turn is also counted by window: it starts only once the turn
//! `requests` turns before it started at least one window plus a margin
//! ([`counted_window`]) ago. Spacing alone puts exactly one window between
//! a turn and the one `requests` before it, so any arrival jitter that
//! delays the earlier request or hurries the later one puts one request
//! too many into some window of the provider's; the margin absorbs that
//! jitter (a tenth of the window, at most [`MAX_ARRIVAL_MARGIN`]).
//!
//! Several hosts on one journal database share a provider account, and so
//! its limit: each turn is then also reserved in a [`SharedBudget`] kept in
//! that database, spaced after the latest turn any host reserved and
//! counted by window against the starts of the latest turns any host
//! reserved (the same rule as this host's own), and a provider's
//! Retry-After seen by one host holds them all. A turn's end is recorded
//! there too, and from then on it counts from its end less the margin when
//! that is later: a call whose request arrived late holds every host's
//! turns back. A call's turn is reserved at most [`RESERVE_AHEAD`] before
//! it starts, so that the turns a window before it have mostly ended by
//! then. The window of calls still running stays each host's own (a host
//! does not wait for another's calls to end). While the database cannot be
//! reached each host paces alone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::limits::RequestRate;

/// The most a turn's window is lengthened for arrival jitter (see
/// [`counted_window`]).
pub(crate) const MAX_ARRIVAL_MARGIN: Duration = Duration::from_millis(500);

/// How long after its start a turn counts toward the limit: the rate's
/// window plus a margin for the jitter of requests' arrivals (the time
/// from a turn's start to its request reaching the provider differs from
/// call to call, and between hosts): a tenth of the window, at most
/// [`MAX_ARRIVAL_MARGIN`]. The price is that margin per window of turns.
pub(crate) fn counted_window(rate: RequestRate) -> Duration {
    rate.per + arrival_margin(rate)
}

/// How long before its start a call's turn is reserved in a
/// [`SharedBudget`] at the most: reserved later, the turns `requests`
/// before it have ended and count from their ends ([`SharedBudget::ended`]).
const RESERVE_AHEAD: Duration = Duration::from_millis(100);

/// The margin of [`counted_window`].
fn arrival_margin(rate: RequestRate) -> Duration {
    (rate.per / 10).min(MAX_ARRIVAL_MARGIN)
}

/// Turns of a module reserved where every host of one journal sees them,
/// so that hosts sharing a provider account keep to its rate together.
/// Times are lengths from now as the budget's own clock measures them, so
/// that hosts' clocks need not agree.
pub(crate) trait SharedBudget: Send + Sync + 'static {
    /// Reserves the module's next turn: `interval` after the latest turn
    /// any host reserved, `window` after the start of the turn `requests`
    /// turns before it (or after its end less the margin, once it has
    /// ended), not before `ask.not_before` from now, not during a hold.
    /// Nothing is reserved when the turn would start more than
    /// `ask.max_wait` from now, or a hold lasts more than `ask.max_hold`.
    fn reserve(&self, module: &str, ask: BudgetAsk)
    -> BoxFuture<'static, anyhow::Result<Reserved>>;

    /// Records that the turn `turn` has ended now: it counts toward the
    /// window until `window` after its start or after its end less
    /// `margin`, whichever is later, so that a call whose request arrived
    /// late (a slow host, a slow network) holds the other hosts' turns
    /// back as it holds this host's.
    fn ended(
        &self,
        module: &str,
        turn: BudgetTurn,
        margin: Duration,
    ) -> BoxFuture<'static, anyhow::Result<()>>;

    /// Holds every host's turns of the module for `hold` from now (a
    /// provider's Retry-After).
    fn hold(&self, module: &str, hold: Duration) -> BoxFuture<'static, anyhow::Result<()>>;
}

/// What a turn asks of a [`SharedBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetAsk {
    /// The spacing of the module's turns (its rate's interval).
    pub(crate) interval: Duration,
    /// The turns a window may hold (the rate's `requests`).
    pub(crate) requests: u32,
    /// How long a turn counts toward the window ([`counted_window`]).
    pub(crate) window: Duration,
    /// The earliest start, from now (this host's own pacing).
    pub(crate) not_before: Duration,
    /// The latest start the caller takes, from now.
    pub(crate) max_wait: Duration,
    /// The longest hold the caller waits through, from now.
    pub(crate) max_hold: Duration,
}

/// What a [`SharedBudget`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reserved {
    /// The turn `turn` is reserved; it starts this long from now.
    At(Duration, BudgetTurn),
    /// Nothing reserved: the earliest turn is this far off.
    Refused(Duration),
}

/// A turn reserved in a [`SharedBudget`], as the budget knows it (its
/// start by the budget's clock, in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetTurn(pub(crate) i64);

/// Hands out turns for one module's calls, shared by every caller of it.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// The module's name, for the metrics.
    module: Arc<str>,
    state: Mutex<State>,
    /// Wakes the callers waiting for a running call to end: a turn ended,
    /// or the rate changed.
    changed: Notify,
    /// The budget shared with other hosts, when the host's journal keeps
    /// one; set once.
    shared: OnceLock<Arc<dyn SharedBudget>>,
}

impl std::fmt::Debug for dyn SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedBudget")
    }
}

/// A call's turn under its module's rate limit. The call counts as
/// running until the turn is dropped, and for one window after.
#[derive(Debug)]
pub(crate) struct Turn {
    limiter: Arc<RateLimiter>,
    id: u64,
    /// The turn as the shared budget knows it, when it was reserved there.
    shared: Option<BudgetTurn>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.limiter.end(self.id, self.shared);
    }
}

/// How long a caller may wait for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Within {
    /// Until the call's deadline, which its turn must not come after.
    Deadline(Instant),
    /// As long as the spacing and the window take (a usage sync, whose
    /// call's deadline starts with its turn), but not through a hold that
    /// ends more than this from now.
    Hold(Duration),
}

/// No turn within the caller's bound; nothing was reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoTurn {
    /// How long until the earliest turn (at least: calls still running
    /// may make it later).
    pub(crate) wait: Duration,
    /// The rate the module is paced by.
    pub(crate) rate: RequestRate,
}

impl NoTurn {
    /// The wait in whole seconds, rounded up (a Retry-After).
    pub(crate) fn retry_after_seconds(&self) -> u32 {
        let seconds = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        u32::try_from(seconds).unwrap_or(u32::MAX).max(1)
    }
}

/// How one call is paced: its module's limiter (`None`: the module has no
/// rate limit) and a turn its caller may have taken already for the first
/// attempt (a usage sync waits for it before the call's deadline starts).
#[derive(Debug, Default)]
pub(crate) struct Pacing {
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    pub(crate) first_turn: Option<Turn>,
}

impl Pacing {
    /// The turn for one attempt, waited for until `deadline` at most: the
    /// turn taken already, else a new one; `None` when the module is not
    /// paced.
    pub(crate) async fn turn(&mut self, deadline: Instant) -> Result<Option<Turn>, NoTurn> {
        if let Some(turn) = self.first_turn.take() {
            return Ok(Some(turn));
        }
        match &self.limiter {
            Some(limiter) => limiter.turn(Within::Deadline(deadline)).await.map(Some),
            None => Ok(None),
        }
    }

    /// Holds every caller of the module until `until` (a provider's
    /// Retry-After); nothing for a module that is not paced.
    pub(crate) async fn hold_until(&self, until: Instant) {
        if let Some(limiter) = &self.limiter {
            limiter.hold_until(until).await;
        }
    }
}

impl RateLimiter {
    /// A limiter for the module `module` whose first turn is now.
    pub(crate) fn new(module: &str, rate: RequestRate) -> Arc<RateLimiter> {
        Arc::new(RateLimiter {
            module: module.into(),
            state: Mutex::new(State::new(rate)),
            changed: Notify::new(),
            shared: OnceLock::new(),
        })
    }

    /// Reserves every turn in `budget` too, from the next turn on (once:
    /// a limiter keeps the first budget it is given).
    pub(crate) fn share(&self, budget: Arc<dyn SharedBudget>) {
        let _ = self.shared.set(budget);
    }

    /// Paces by `rate` from the next turn on. Nothing starts over: the
    /// spacing counts from the latest turn given and the window from the
    /// calls already made, each measured by the new rate.
    pub(crate) fn set_rate(&self, rate: RequestRate) {
        let mut state = self.lock();
        if state.rate == rate {
            return;
        }
        state.rate = rate;
        drop(state);
        self.changed.notify_waiters();
    }

    /// Gives out no turn before `until`. A provider's Retry-After speaks
    /// for the whole account, not only for the call that drew it, so every
    /// caller of this module waits, those whose turn was given but has not
    /// come yet too; with a shared budget, every host's callers, the hold
    /// on record there before this returns (so that the caller who drew
    /// the Retry-After hears of it after the other hosts can see it).
    pub(crate) async fn hold_until(&self, until: Instant) {
        {
            let mut state = self.lock();
            state.held_until = Some(state.held_until.map_or(until, |held| held.max(until)));
        }
        // Callers waiting for a running call may now be past their bound.
        self.changed.notify_waiters();
        if let Some(shared) = self.shared.get() {
            let hold = until.saturating_duration_since(Instant::now());
            if let Err(error) = shared.hold(&self.module, hold).await {
                tracing::warn!(module = %self.module, "the provider's Retry-After holds this host only: {error:#}");
            }
        }
    }

    /// Waits for a turn and returns it once it has come: the call must
    /// start then. A turn that would come after the caller's bound
    /// (`within`) is not reserved and not waited for: [`NoTurn`] says how
    /// far off it is. When the turn depends on calls still running, the
    /// caller waits for them to end, within its bound; a turn given but
    /// overtaken by a hold while waiting for it to come is given up and
    /// asked for again.
    ///
    /// Every turn taken is recorded in the metric
    /// [`crate::telemetry::RATE_LIMIT_WAIT_SECONDS`] (0 when it came at
    /// once), every call refused for its deadline in
    /// [`crate::telemetry::RATE_LIMIT_REFUSALS_TOTAL`].
    pub(crate) async fn turn(self: &Arc<Self>, within: Within) -> Result<Turn, NoTurn> {
        let asked = Instant::now();
        // The first look is at the moment of asking: a turn given at once
        // has waited 0.
        let mut first_look = Some(asked);
        loop {
            // Listening before looking, so that a call ending in between
            // is not missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let now = first_look.take().unwrap_or_else(Instant::now);
            let (plan, rate) = {
                let mut state = self.lock();
                (state.plan(now, within), state.rate)
            };
            match plan {
                Plan::Go { id, start } => {
                    // Made before waiting: a caller that gives up while it
                    // waits ends its turn.
                    let mut turn = Turn {
                        limiter: self.clone(),
                        id,
                        shared: None,
                    };
                    let start = match self.reserve_shared(id, start, within, rate).await {
                        Ok((start, shared)) => {
                            turn.shared = shared;
                            start
                        }
                        Err(no_turn) => {
                            if let Within::Deadline(_) = within {
                                crate::telemetry::record_rate_limit_refusal(&self.module);
                            }
                            return Err(no_turn);
                        }
                    };
                    tokio::time::sleep_until(start.into()).await;
                    if !self.lock().still_due(id, Instant::now()) {
                        continue;
                    }
                    let waited = start.saturating_duration_since(asked);
                    crate::telemetry::record_rate_limit_wait(&self.module, waited);
                    return Ok(turn);
                }
                Plan::Refuse(wait) => {
                    if let Within::Deadline(_) = within {
                        crate::telemetry::record_rate_limit_refusal(&self.module);
                    }
                    return Err(NoTurn { wait, rate });
                }
                Plan::WaitForEnd => match within {
                    Within::Deadline(deadline) => {
                        // At the deadline, the next look refuses.
                        let _ = tokio::time::timeout_at(deadline.into(), changed).await;
                    }
                    Within::Hold(_) => changed.await,
                },
            }
        }
    }

    /// The start of the turn `id`, given for `start` by this host, once it
    /// is reserved in the shared budget too (no sooner than `start`), with
    /// the turn as the budget knows it; the turn forgotten and refused when
    /// the budget has none within the caller's bound. Without a budget, or
    /// while it cannot be reached (the database is down: this host then
    /// paces alone), `start` as given.
    async fn reserve_shared(
        &self,
        id: u64,
        start: Instant,
        within: Within,
        rate: RequestRate,
    ) -> Result<(Instant, Option<BudgetTurn>), NoTurn> {
        let Some(shared) = self.shared.get() else {
            return Ok((start, None));
        };
        loop {
            let now = Instant::now();
            // A call's turn is reserved no sooner than RESERVE_AHEAD before
            // it starts (asked again then, when it is further off), so that
            // the turns before it that have ended count from their ends.
            let (max_wait, max_hold, left) = match within {
                Within::Deadline(deadline) => {
                    let left = deadline.saturating_duration_since(now);
                    (left.min(RESERVE_AHEAD), left, Some(left))
                }
                Within::Hold(longest) => (Duration::MAX, longest, None),
            };
            let ask = BudgetAsk {
                interval: rate.interval(),
                requests: rate.requests,
                window: counted_window(rate),
                not_before: start.saturating_duration_since(now),
                max_wait,
                max_hold,
            };
            return match shared.reserve(&self.module, ask).await {
                Ok(Reserved::At(delay, turn)) => {
                    let shared_start = Instant::now() + delay;
                    Ok((self.lock().reserved(id, shared_start), Some(turn)))
                }
                Ok(Reserved::Refused(wait)) if left.is_some_and(|left| wait <= left) => {
                    let until_asked = wait.saturating_sub(RESERVE_AHEAD);
                    tokio::time::sleep(until_asked.max(Duration::from_millis(1))).await;
                    continue;
                }
                Ok(Reserved::Refused(wait)) => {
                    self.lock().forget(id);
                    self.changed.notify_waiters();
                    Err(NoTurn { wait, rate })
                }
                Err(error) => {
                    tracing::warn!(module = %self.module, "the shared rate budget cannot be reached; pacing alone: {error:#}");
                    Ok((start, None))
                }
            };
        }
    }

    /// Marks the turn `id` as ended now, in the shared budget too when it
    /// was reserved there (`shared`; in the background: the caller does
    /// not wait for the database).
    fn end(&self, id: u64, shared: Option<BudgetTurn>) {
        let rate = {
            let mut state = self.lock();
            state.end(id, Instant::now());
            state.rate
        };
        self.changed.notify_waiters();
        let (Some(turn), Some(budget)) = (shared, self.shared.get()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let ended = budget.ended(&self.module, turn, arrival_margin(rate));
        let module = self.module.clone();
        runtime.spawn(async move {
            if let Err(error) = ended.await {
                tracing::warn!(module = %module, "the end of a turn could not be recorded in the shared rate budget: {error:#}");
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every statement leaves the state whole: a poisoned lock is fine.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The turns of one module, behind the limiter's lock. Every method takes
/// the time as an argument, so that the tests can choose it.
#[derive(Debug)]
struct State {
    rate: RequestRate,
    /// When the latest turn given starts.
    last_start: Option<Instant>,
    /// No turn starts before this (a provider's Retry-After).
    held_until: Option<Instant>,
    /// The turns whose window may still count, in the order given:
    /// running, or ended less than `per` ago.
    turns: VecDeque<Given>,
    next_id: u64,
}

/// A turn given.
#[derive(Debug)]
struct Given {
    id: u64,
    start: Instant,
    /// `None` while the call runs.
    ended: Option<Instant>,
}

/// What asking for a turn came to.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// The turn is given (reserved): it starts at `start`.
    Go { id: u64, start: Instant },
    /// No turn before the deadline; the earliest is this far off (at
    /// least). Nothing was reserved.
    Refuse(Duration),
    /// The turn depends on when calls still running end: ask again once
    /// one has.
    WaitForEnd,
}

impl State {
    fn new(rate: RequestRate) -> State {
        State {
            rate,
            last_start: None,
            held_until: None,
            turns: VecDeque::new(),
            next_id: 0,
        }
    }

    /// Gives the next turn, refuses it (past the caller's bound), or says
    /// to wait for a running call to end.
    fn plan(&mut self, now: Instant, within: Within) -> Plan {
        let (window, known) = self.window(now);
        let start = self.spaced(now).max(window);
        let too_late = match within {
            Within::Deadline(deadline) => start > deadline,
            Within::Hold(longest) => self
                .held_until
                .zip(now.checked_add(longest))
                .is_some_and(|(held, limit)| held > limit),
        };
        if start > now && too_late {
            return Plan::Refuse(start - now);
        }
        if !known {
            return Plan::WaitForEnd;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.last_start = Some(start);
        self.turns.push_back(Given {
            id,
            start,
            ended: None,
        });
        Plan::Go { id, start }
    }

    /// The earliest start the spacing and a hold allow: one interval after
    /// the latest turn.
    fn spaced(&self, now: Instant) -> Instant {
        let mut start = now;
        if let Some(last) = self.last_start {
            start = start.max(last + self.rate.interval());
        }
        if let Some(held) = self.held_until {
            start = start.max(held);
        }
        start
    }

    /// The earliest start the window of the calls before allows: the
    /// moment when fewer than `requests` of them are running or ended
    /// less than `per` before it, and the turn `requests` turns before
    /// started at least [`counted_window`] before it. With whether that
    /// moment is known; if not, it is a lower bound, as it depends on
    /// calls still running.
    fn window(&mut self, now: Instant) -> (Instant, bool) {
        let per = self.rate.per;
        let counted = counted_window(self.rate);
        self.turns.retain(|turn| {
            turn.ended.is_none_or(|ended| ended + per > now) || turn.start + counted > now
        });
        let requests = usize::try_from(self.rate.requests).unwrap_or(usize::MAX);
        let by_starts = self
            .window_of_starts(requests, counted)
            .map_or(now, |start| start.max(now));
        let (by_ends, known) = self.window_of_ends(now, requests);
        (by_starts.max(by_ends), known)
    }

    /// The earliest start that puts the turn `requests` turns before it
    /// (the `requests`-th latest start: a shared budget may have moved a
    /// turn past a later one) `counted` before it; `None` when fewer turns
    /// still count.
    fn window_of_starts(&self, requests: usize, counted: Duration) -> Option<Instant> {
        let mut starts: Vec<Instant> = self.turns.iter().map(|turn| turn.start).collect();
        let index = starts.len().checked_sub(requests)?;
        Some(*starts.select_nth_unstable(index).1 + counted)
    }

    /// The earliest start the ends of the calls before allow (see
    /// [`State::window`]), and whether it is known.
    fn window_of_ends(&self, now: Instant, requests: usize) -> (Instant, bool) {
        let per = self.rate.per;
        let counting = || {
            self.turns
                .iter()
                .filter(move |turn| turn.ended.is_none_or(|ended| ended + per > now))
        };
        let Some(free) = counting().count().checked_sub(requests) else {
            return (now, true);
        };
        // When each call's window closes; a start at the (free + 1)-th
        // earliest leaves fewer than `requests` of them open. An ended
        // call's closes `per` after its end, at most `per` after now; a
        // running call's not before `per` after now (or after its start,
        // when that is later): every ended call's comes first.
        let mut closed: Vec<Instant> = counting()
            .filter_map(|turn| turn.ended)
            .map(|ended| ended + per)
            .collect();
        if free < closed.len() {
            return (*closed.select_nth_unstable(free).1, true);
        }
        let mut open: Vec<Instant> = counting()
            .filter(|turn| turn.ended.is_none())
            .map(|turn| turn.start.max(now) + per)
            .collect();
        (*open.select_nth_unstable(free - closed.len()).1, false)
    }

    /// Whether the turn `id`, come at `now`, may start: no hold has begun
    /// over it since it was given. If one has, the turn is forgotten
    /// (nothing was sent under it).
    fn still_due(&mut self, id: u64, now: Instant) -> bool {
        if self.held_until.is_none_or(|held| held <= now) {
            return true;
        }
        if let Ok(index) = self.turns.binary_search_by_key(&id, |turn| turn.id) {
            self.turns.remove(index);
        }
        false
    }

    /// The turn `id` starts at `start` after all (the shared budget put it
    /// there), unless that is earlier than given: later turns are spaced
    /// from it. Its start.
    fn reserved(&mut self, id: u64, start: Instant) -> Instant {
        let Ok(index) = self.turns.binary_search_by_key(&id, |turn| turn.id) else {
            return start;
        };
        let turn = &mut self.turns[index];
        turn.start = turn.start.max(start);
        let start = turn.start;
        self.last_start = Some(self.last_start.map_or(start, |last| last.max(start)));
        start
    }

    /// Forgets the turn `id`: it was never used (nothing was sent).
    fn forget(&mut self, id: u64) {
        if let Ok(index) = self.turns.binary_search_by_key(&id, |turn| turn.id) {
            self.turns.remove(index);
        }
    }

    /// Marks the turn `id` as ended at `now`.
    fn end(&mut self, id: u64, now: Instant) {
        if let Ok(index) = self.turns.binary_search_by_key(&id, |turn| turn.id) {
            self.turns[index].ended = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(requests: u32, per_ms: u64) -> RequestRate {
        RequestRate::new(requests, Duration::from_millis(per_ms)).unwrap()
    }

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// A turn at `now` that must be given; its start.
    fn go(state: &mut State, now: Instant) -> (u64, Instant) {
        match state.plan(now, Within::Hold(Duration::MAX)) {
            Plan::Go { id, start } => (id, start),
            other => panic!("no turn at once: {other:?}"),
        }
    }

    #[test]
    fn turns_are_spaced_and_no_window_holds_more_than_the_limit() {
        let mut state = State::new(rate(5, 1000));
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..23 {
            // Every caller asks at t0; each call ends as soon as it starts.
            let (id, start) = go(&mut state, t0);
            state.end(id, start);
            starts.push(start);
        }
        for (i, start) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|slot| slot.duration_since(*start) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 5, "{in_window} starts in the window from #{i}");
        }
        // Spaced 200 ms apart, and every fifth turn a window and its
        // margin (1100 ms) after the one five before: no slower than that.
        assert_eq!(starts[5].duration_since(starts[0]), ms(1100));
        assert_eq!(
            starts[22].duration_since(starts[0]),
            ms(22 * 200 + 4 * 100),
            "no slower than needed"
        );
    }

    /// Callers always waiting, each call's request arriving some time
    /// after its start that varies from call to call (up to 40 ms, with
    /// turns 10 ms apart), the call ending 1 ms after its request arrived:
    /// no window holds more arrivals than the limit, as a provider
    /// counting a sliding window sees them, and the throughput is the
    /// rate less the window's margin (longer than a call here) per window.
    #[test]
    fn however_late_requests_arrive_no_window_holds_more_of_them_than_the_limit() {
        let limit = rate(100, 1000);
        let mut state = State::new(limit);
        let t0 = Instant::now();
        let mut now = t0;
        // (end, id) of the calls running, and every arrival.
        let mut running: Vec<(Instant, u64)> = Vec::new();
        let mut arrivals = Vec::new();
        let mut jitter: u64 = 7;
        while arrivals.len() < 400 {
            match state.plan(now, Within::Hold(Duration::MAX)) {
                Plan::Go { id, start } => {
                    jitter = (jitter * 1_103_515_245 + 12_345) % 2_147_483_648;
                    let arrival = start + Duration::from_micros(jitter % 40_000);
                    arrivals.push(arrival);
                    running.push((arrival + ms(1), id));
                    now = now.max(start);
                }
                Plan::WaitForEnd => {
                    running.sort();
                    let (end, id) = running.remove(0);
                    now = now.max(end);
                    state.end(id, end);
                }
                Plan::Refuse(wait) => panic!("refused without a deadline: {wait:?}"),
            }
            // Calls that have ended by now say so.
            running.retain(|&(end, id)| {
                let ended = end <= now;
                if ended {
                    state.end(id, end);
                }
                !ended
            });
        }
        arrivals.sort();
        for (i, first) in arrivals.iter().enumerate() {
            let in_window = arrivals[i..]
                .iter()
                .take_while(|at| at.duration_since(*first) < limit.per)
                .count();
            assert!(
                in_window <= 100,
                "{in_window} arrivals in the window from #{i}"
            );
        }
        // Three windows and their margins (100 ms, longer than a call) and
        // 99 intervals, plus the last request's way.
        let took = arrivals[399].duration_since(t0);
        assert!(
            took <= ms(3 * 1100 + 990 + 40),
            "400 calls at 100/s took {took:?}"
        );
    }

    #[test]
    fn a_hold_pushes_every_later_turn_back() {
        let mut state = State::new(rate(10, 1000));
        let t0 = Instant::now();
        let (id, first) = go(&mut state, t0);
        state.end(id, first);
        let until = first + Duration::from_secs(7);
        state.held_until = Some(until);
        let (_, second) = go(&mut state, t0);
        assert_eq!(second, until);
        let (_, third) = go(&mut state, t0);
        assert_eq!(third, until + ms(100));
    }

    #[test]
    fn a_turn_past_the_deadline_is_refused_and_nothing_is_reserved() {
        let mut state = State::new(rate(1, 5000));
        let t0 = Instant::now();
        let (id, first) = go(&mut state, t0);
        state.end(id, first + ms(20));
        let asked = t0 + ms(100);
        assert_eq!(
            state.plan(asked, Within::Deadline(asked + Duration::from_secs(3))),
            Plan::Refuse(ms(5400)),
            "the call before counts for 5 s and the margin (0.5 s) after it started"
        );
        // Refused turns take nothing: the next caller gets the same turn.
        let (_, next) = go(&mut state, asked);
        assert_eq!(next, first + ms(5500));
        let no_turn = NoTurn {
            wait: ms(5400),
            rate: state.rate,
        };
        assert_eq!(no_turn.retry_after_seconds(), 6);
    }

    #[test]
    fn a_turn_that_depends_on_a_running_call_waits_for_it_or_is_refused() {
        let mut state = State::new(rate(1, 1000));
        let t0 = Instant::now();
        let (id, _) = go(&mut state, t0);
        // The first call runs: the second turn comes a window after it
        // ends, which is not known yet.
        assert_eq!(
            state.plan(t0 + ms(10), Within::Hold(Duration::MAX)),
            Plan::WaitForEnd
        );
        assert_eq!(
            state.plan(t0 + ms(10), Within::Deadline(t0 + ms(500))),
            Plan::Refuse(ms(1090)),
            "a window and its margin after the first start: past the deadline whenever it ends"
        );
        state.end(id, t0 + ms(30));
        let (id, second) = go(&mut state, t0 + ms(40));
        assert_eq!(second, t0 + ms(1100), "the margin is longer than the call");
        state.end(id, second);
        let (id, third) = go(&mut state, second);
        assert_eq!(third, second + ms(1100));
        state.end(id, third + ms(300));
        let (_, fourth) = go(&mut state, third + ms(300));
        assert_eq!(fourth, third + ms(1300), "a window after a long call's end");
    }

    #[test]
    fn a_new_rate_applies_from_the_next_turn_without_starting_over() {
        let mut state = State::new(rate(1, 5000));
        let t0 = Instant::now();
        let (id, first) = go(&mut state, t0);
        state.end(id, first);
        let deadline = Within::Deadline(t0 + Duration::from_secs(3));
        assert!(matches!(state.plan(t0, deadline), Plan::Refuse(_)));
        // A faster rate: the next turn is one new interval after the last.
        state.rate = rate(10, 1000);
        let (_, second) = go(&mut state, t0);
        assert_eq!(second, first + ms(100));
        // A slower one counts from the turns given, too.
        state.rate = rate(1, 5000);
        assert_eq!(
            state.plan(second, Within::Hold(Duration::MAX)),
            Plan::WaitForEnd,
            "one turn per window, and the second call is running"
        );
    }

    #[test]
    fn a_hold_begun_after_a_turn_was_given_puts_it_back_and_may_refuse_a_sync() {
        let mut state = State::new(rate(10, 1000));
        let t0 = Instant::now();
        let (id, start) = go(&mut state, t0);
        state.held_until = Some(start + ms(500));
        assert!(!state.still_due(id, start), "held since it was given");
        assert!(state.turns.is_empty(), "and forgotten: nothing was sent");
        assert_eq!(
            state.plan(start, Within::Hold(ms(400))),
            Plan::Refuse(ms(500)),
            "a sync does not wait through a hold longer than it waits"
        );
        let (_, again) = go(&mut state, start);
        assert_eq!(again, start + ms(500));
    }

    #[tokio::test]
    async fn callers_wait_their_turn_and_a_hold_holds_every_caller() {
        let limiter = RateLimiter::new("test", rate(4, 200));
        let any_time = Within::Hold(Duration::MAX);
        let started = Instant::now();
        for _ in 0..5 {
            drop(limiter.turn(any_time).await.unwrap());
        }
        assert!(started.elapsed() >= ms(200));
        let held = Instant::now() + ms(300);
        limiter.hold_until(held).await;
        let refused = limiter
            .turn(Within::Deadline(Instant::now() + ms(100)))
            .await;
        assert!(refused.is_err(), "{refused:?}");
        drop(limiter.turn(any_time).await.unwrap());
        assert!(Instant::now() >= held);
    }
}
