//! The rate budget several hosts share through their PostgreSQL journal
//! ([`SharedBudget`]): one row per module name with the start of the latest
//! turn any host reserved, when each of the latest turns a window may hold
//! counts from (its start, raised to its end less the margin once it has
//! ended), and until when a provider's Retry-After holds them all, each
//! read and moved in one statement under the row's lock, by the database's
//! clock.

use std::time::Duration;

use futures::future::BoxFuture;

use super::postgres::{NOW_MS, PostgresJournal, connection};
use super::record::duration_ms;
use crate::rate::{BudgetAsk, BudgetTurn, Reserved, SharedBudget};

/// How long a turn waits for the database before the host paces alone:
/// short, since a call's deadline waits on it.
const BUDGET_TIMEOUT: Duration = Duration::from_secs(1);

/// Bounds that stand for "no bound" (a year), so that sums with the
/// database's clock stay within a `BIGINT`.
const FOREVER_MS: i64 = 365 * 24 * 3600 * 1000;

const TABLE: &str = "provisioning_rate_budget";

/// The schema's migration that makes the budget (PostgreSQL's schema 2).
pub(super) const MIGRATION: &str = "CREATE TABLE provisioning_rate_budget (
        module TEXT PRIMARY KEY,
        last_start_ms BIGINT NOT NULL,
        held_until_ms BIGINT NOT NULL DEFAULT 0
    );";

/// The schema's migration that counts turns by window (PostgreSQL's schema
/// 7): for each of the latest turns, as many as the rate's `requests` and
/// in the order reserved, when it counts from: its start, and once it has
/// ended, its end less the margin if that is later (see
/// [`SharedBudget::ended`]).
pub(super) const WINDOW_MIGRATION: &str = "ALTER TABLE provisioning_rate_budget
        ADD COLUMN window_starts_ms BIGINT[] NOT NULL DEFAULT '{}';";

fn bounded_ms(duration: Duration) -> i64 {
    duration_ms(duration).min(FOREVER_MS)
}

/// The spacing between turns (or a turn's window) in whole milliseconds,
/// rounded up: rounded down, the hosts together would call faster than the
/// rate asked for (80 a second is 12.5 ms apart; 12 would be 83 a second).
fn interval_ms(interval: Duration) -> i64 {
    i64::try_from(interval.as_nanos().div_ceil(1_000_000))
        .unwrap_or(i64::MAX)
        .min(FOREVER_MS)
}

impl SharedBudget for PostgresJournal {
    fn reserve(
        &self,
        module: &str,
        ask: BudgetAsk,
    ) -> BoxFuture<'static, anyhow::Result<Reserved>> {
        let module = module.to_string();
        let not_before = bounded_ms(ask.not_before);
        let interval = interval_ms(ask.interval);
        let requests = i32::try_from(ask.requests).unwrap_or(i32::MAX);
        let window = interval_ms(ask.window);
        let max_wait = bounded_ms(ask.max_wait);
        let max_hold = bounded_ms(ask.max_hold);
        self.run_async(
            "reserving a turn under the shared rate limit",
            BUDGET_TIMEOUT,
            move |pool| async move {
                let client = connection(&pool).await?;
                // The turn: spaced after the latest any host reserved, a
                // window after the `requests`-th latest time a turn counts
                // from (NULL, which GREATEST passes over, while fewer are
                // on record), not during a hold, not before this host's own
                // pacing allows.
                let start = format!(
                    "GREATEST({NOW_MS} + $2, last_start_ms + $3, held_until_ms,
                        (SELECT counted FROM unnest(window_starts_ms) AS counted
                         ORDER BY counted DESC OFFSET $6 - 1 LIMIT 1) + $7)"
                );
                loop {
                    let moved = client
                        .query_opt(
                            &format!(
                                "UPDATE {TABLE} SET last_start_ms = {start},
                                    window_starts_ms = (window_starts_ms || {start})
                                        [GREATEST(1, cardinality(window_starts_ms) + 2 - $6):]
                                 WHERE module = $1 AND {start} <= {NOW_MS} + $4
                                    AND held_until_ms <= {NOW_MS} + $5
                                 RETURNING last_start_ms - {NOW_MS}, last_start_ms"
                            ),
                            &[
                                &module,
                                &not_before,
                                &interval,
                                &max_wait,
                                &max_hold,
                                &requests,
                                &window,
                            ],
                        )
                        .await?;
                    if let Some(row) = moved {
                        return reserved(&row);
                    }
                    // Nothing moved: past the caller's bounds, or no row yet
                    // when the update looked (another host may have made it
                    // since: then the update is tried again).
                    let refused = client
                        .query_opt(
                            &format!(
                                "SELECT {start} - {NOW_MS},
                                    {start} <= {NOW_MS} + $4 AND held_until_ms <= {NOW_MS} + $5
                                 FROM {TABLE} WHERE module = $1"
                            ),
                            &[
                                &module,
                                &not_before,
                                &interval,
                                &max_wait,
                                &max_hold,
                                &requests,
                                &window,
                            ],
                        )
                        .await?;
                    if let Some(row) = refused {
                        if row.try_get::<_, bool>(1)? {
                            continue;
                        }
                        return Ok(Reserved::Refused(from_ms(row.try_get(0)?)));
                    }
                    // The module's first turn on this database.
                    let first = client
                        .query_opt(
                            &format!(
                                "INSERT INTO {TABLE} (module, last_start_ms, window_starts_ms)
                                 VALUES ($1, {NOW_MS} + $2, ARRAY[{NOW_MS} + $2])
                                 ON CONFLICT (module) DO NOTHING
                                 RETURNING last_start_ms - {NOW_MS}, last_start_ms"
                            ),
                            &[&module, &not_before],
                        )
                        .await?;
                    if let Some(row) = first {
                        return reserved(&row);
                    }
                    // Another host made the row meanwhile: take a turn after
                    // its.
                }
            },
        )
    }

    fn ended(
        &self,
        module: &str,
        turn: BudgetTurn,
        margin: Duration,
    ) -> BoxFuture<'static, anyhow::Result<()>> {
        let module = module.to_string();
        let margin = bounded_ms(margin);
        self.run_async(
            "recording the end of a turn in the shared rate limit",
            BUDGET_TIMEOUT,
            move |pool| async move {
                let client = connection(&pool).await?;
                // Starts are unique per module (spaced at least 1 ms
                // apart); a turn no longer among the latest is left alone.
                client
                    .execute(
                        &format!(
                            "UPDATE {TABLE} SET window_starts_ms = array_replace(
                                window_starts_ms, $2, GREATEST($2, {NOW_MS} - $3))
                             WHERE module = $1"
                        ),
                        &[&module, &turn.0, &margin],
                    )
                    .await?;
                Ok(())
            },
        )
    }

    fn hold(&self, module: &str, hold: Duration) -> BoxFuture<'static, anyhow::Result<()>> {
        let module = module.to_string();
        let hold = bounded_ms(hold);
        self.run_async(
            "holding the shared rate limit",
            BUDGET_TIMEOUT,
            move |pool| async move {
                let client = connection(&pool).await?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO {TABLE} (module, last_start_ms, held_until_ms)
                             VALUES ($1, 0, {NOW_MS} + $2)
                             ON CONFLICT (module) DO UPDATE
                             SET held_until_ms = GREATEST({TABLE}.held_until_ms, EXCLUDED.held_until_ms)"
                        ),
                        &[&module, &hold],
                    )
                    .await?;
                Ok(())
            },
        )
    }
}

/// A reserved turn from a row of its delay from now and its start.
fn reserved(row: &tokio_postgres::Row) -> anyhow::Result<Reserved> {
    Ok(Reserved::At(
        from_ms(row.try_get(0)?),
        BudgetTurn(row.try_get(1)?),
    ))
}

/// A length from the database's milliseconds (a negative one is now).
fn from_ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioning_test_postgres::PgServer;

    #[test]
    fn a_fraction_of_a_millisecond_between_turns_is_rounded_up() {
        assert_eq!(interval_ms(Duration::from_micros(12_500)), 13);
        assert_eq!(interval_ms(Duration::from_millis(12)), 12);
        assert_eq!(interval_ms(Duration::from_secs(3)), 3_000);
    }

    /// Two hosts' connections to a fresh database `name`.
    async fn two_hosts(name: &'static str) -> [PostgresJournal; 2] {
        tokio::task::spawn_blocking(move || {
            let url = PgServer::shared().database(name);
            [
                PostgresJournal::connect(&url).unwrap(),
                PostgresJournal::connect(&url).unwrap(),
            ]
        })
        .await
        .unwrap()
    }

    /// Turns `interval_ms` apart, at most `max_wait_ms` off, and a window
    /// that holds as many as they are (the window's own test sets one).
    fn ask(interval_ms: u64, max_wait_ms: u64) -> BudgetAsk {
        BudgetAsk {
            interval: Duration::from_millis(interval_ms),
            requests: u32::MAX,
            window: Duration::ZERO,
            not_before: Duration::ZERO,
            max_wait: Duration::from_millis(max_wait_ms),
            max_hold: Duration::from_millis(max_wait_ms),
        }
    }

    fn at(reserved: Reserved) -> Duration {
        at_turn(reserved).0
    }

    fn at_turn(reserved: Reserved) -> (Duration, BudgetTurn) {
        match reserved {
            Reserved::At(delay, turn) => (delay, turn),
            Reserved::Refused(wait) => panic!("refused, {wait:?} off"),
        }
    }

    /// Two hosts (two connections to one database) take turns of one
    /// module: each turn is spaced after the latest either took; a turn
    /// past a caller's bound reserves nothing; another module is apart.
    #[tokio::test(flavor = "multi_thread")]
    async fn hosts_on_one_database_space_their_turns_as_one() {
        let [first, second] = two_hosts("budget_spacing").await;
        let hosts = [&first, &second];
        let mut delays = Vec::new();
        for turn in 0..6 {
            let host = hosts[turn % 2];
            delays.push(at(host
                .reserve("webline", ask(1000, 60_000))
                .await
                .unwrap()));
        }
        // Asked at once, the turns lie one interval apart whichever host
        // took them (less the few milliseconds the asking took).
        for (turn, delay) in delays.iter().enumerate() {
            let expected = Duration::from_secs(turn as u64);
            assert!(
                *delay <= expected && expected - *delay < Duration::from_millis(500),
                "turn {turn} in {delay:?}, expected about {expected:?}: {delays:?}"
            );
        }
        // The next is 6 s off: refused within 2 s, and nothing reserved.
        match second.reserve("webline", ask(1000, 2000)).await.unwrap() {
            Reserved::Refused(wait) => assert!(wait > Duration::from_secs(5), "{wait:?}"),
            other => panic!("{other:?}"),
        }
        let seventh = at(first.reserve("webline", ask(1000, 60_000)).await.unwrap());
        assert!(seventh > Duration::from_millis(5500) && seventh <= Duration::from_secs(6));
        // Another module's budget is its own.
        let other = at(second.reserve("blesta", ask(1000, 60_000)).await.unwrap());
        assert!(other < Duration::from_millis(100), "{other:?}");
    }

    /// Turns counted by window across hosts: with 3 turns a window of 1 s
    /// (its margin included) spaced 10 ms apart, the fourth turn starts a
    /// window after the first whichever host took which, the seventh a
    /// window after the fourth; a host asking for fewer turns a window
    /// counts from the same starts.
    #[tokio::test(flavor = "multi_thread")]
    async fn hosts_on_one_database_count_their_turns_by_window() {
        let [first, second] = two_hosts("budget_window").await;
        let hosts = [&first, &second];
        let windowed = BudgetAsk {
            requests: 3,
            window: Duration::from_secs(1),
            ..ask(10, 60_000)
        };
        let mut delays = Vec::new();
        for turn in 0..7 {
            let host = hosts[turn % 2];
            delays.push(at(host.reserve("webline", windowed).await.unwrap()));
        }
        // Asked at once (less the few milliseconds the asking took).
        let expected = [0, 10, 20, 1000, 1010, 1020, 2000];
        for (turn, (delay, expected)) in delays.iter().zip(expected).enumerate() {
            let expected = Duration::from_millis(expected);
            assert!(
                *delay <= expected && expected - *delay < Duration::from_millis(300),
                "turn {turn} in {delay:?}, expected about {expected:?}: {delays:?}"
            );
        }
        // One turn a window: a window after the latest start.
        let alone = BudgetAsk {
            requests: 1,
            ..windowed
        };
        let next = at(first.reserve("webline", alone).await.unwrap());
        assert!(
            next > Duration::from_millis(2700) && next <= Duration::from_secs(3),
            "{next:?}: {delays:?}"
        );
    }

    /// A turn that ends late counts from its end less the margin: the next
    /// turn of one a window, on the other host, comes a window after that
    /// rather than after the turn's start.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_turn_that_ends_late_counts_from_its_end() {
        let [first, second] = two_hosts("budget_ended").await;
        let one = BudgetAsk {
            requests: 1,
            window: Duration::from_secs(1),
            ..ask(10, 60_000)
        };
        let (delay, turn) = at_turn(first.reserve("webline", one).await.unwrap());
        assert!(delay < Duration::from_millis(100), "{delay:?}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        first
            .ended("webline", turn, Duration::from_millis(100))
            .await
            .unwrap();
        // Counted from 300 ms after its start: the next turn 1300 ms after
        // it, some 900 ms from now (600 ms had the start counted).
        let next = at(second.reserve("webline", one).await.unwrap());
        assert!(
            next > Duration::from_millis(800) && next <= Duration::from_millis(950),
            "{next:?}"
        );
    }

    /// A hold recorded by one host pushes the other's next turn past it,
    /// and refuses a caller who would not wait that long.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_hold_from_one_host_holds_the_other() {
        let [first, second] = two_hosts("budget_hold").await;
        first
            .hold("webline", Duration::from_secs(30))
            .await
            .unwrap();
        match second.reserve("webline", ask(10, 5000)).await.unwrap() {
            Reserved::Refused(wait) => assert!(wait > Duration::from_secs(25), "{wait:?}"),
            other => panic!("{other:?}"),
        }
        // A caller that waits through holds (a usage sync's turn) gets the
        // first turn after it.
        let patient = BudgetAsk {
            max_wait: Duration::MAX,
            max_hold: Duration::MAX,
            ..ask(10, 0)
        };
        let delay = at(second.reserve("webline", patient).await.unwrap());
        assert!(
            delay > Duration::from_secs(25) && delay <= Duration::from_secs(30),
            "{delay:?}"
        );
        // A shorter hold does not shorten a longer one.
        first.hold("webline", Duration::from_secs(1)).await.unwrap();
        match first.reserve("webline", ask(10, 5000)).await.unwrap() {
            Reserved::Refused(wait) => assert!(wait > Duration::from_secs(25), "{wait:?}"),
            other => panic!("{other:?}"),
        }
    }

    /// Many turns asked at once from two hosts, the module's first among
    /// them (its row made by one while the others look): every one is
    /// reserved, none refused, each its own slot.
    #[tokio::test(flavor = "multi_thread")]
    async fn turns_asked_at_once_by_two_hosts_are_all_reserved_apart() {
        let hosts = two_hosts("budget_at_once").await.map(std::sync::Arc::new);
        let patient = BudgetAsk {
            max_wait: Duration::MAX,
            max_hold: Duration::from_secs(60),
            ..ask(10, 0)
        };
        let turns: Vec<_> = (0..64)
            .map(|i| {
                let host = hosts[i % 2].clone();
                tokio::spawn(async move { host.reserve("hostmenow", patient).await.unwrap() })
            })
            .collect();
        let mut delays = Vec::new();
        for turn in turns {
            delays.push(at(turn.await.unwrap()));
        }
        delays.sort();
        // 64 slots 10 ms apart: the last at least 630 ms off, less what
        // the asking took.
        assert!(
            delays[63] >= Duration::from_millis(500),
            "not one slot each: {delays:?}"
        );
    }
}
