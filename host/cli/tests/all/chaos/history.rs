//! What a run recorded: every operation's request and answer with their
//! times, every liveness probe, every fault as it really happened, and
//! every secret seen where none may be.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::schedule::{Fault, Op};

/// One operation as it happened.
#[derive(Clone, Debug)]
pub struct Event {
    /// The client that sent it.
    pub client: usize,
    /// What was scheduled.
    pub op: Op,
    /// Milliseconds from the start of the run: sent, answered.
    pub start_ms: u64,
    pub end_ms: u64,
    /// The requests sent and their answers: the status (`None` for no
    /// answer: a refused connection, a timeout) and the body.
    pub calls: Vec<Call>,
}

/// One HTTP exchange of an operation.
#[derive(Clone, Debug)]
pub struct Call {
    /// `METHOD path`.
    pub route: String,
    /// The JSON sent.
    pub request: Value,
    /// The status, `None` when no answer came.
    pub status: Option<u16>,
    /// The answer (JSON, a string when not JSON, the error without one).
    pub body: Value,
}

/// A liveness probe.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    /// The host probed.
    pub host: usize,
    /// When it was sent, from the start.
    pub at_ms: u64,
    /// How long the answer took (the probe's timeout when none came).
    pub latency: Duration,
}

/// A fault as it really happened: when it began and ended.
#[derive(Clone, Debug)]
pub struct Window {
    /// The fault.
    pub fault: Fault,
    /// From the start of the run.
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The history of one run; shared by the clients, the probes and the
/// nemesis.
pub struct History {
    started: Instant,
    /// Operations in the order they ended.
    pub events: Mutex<Vec<Event>>,
    /// Liveness probes.
    pub probes: Mutex<Vec<Probe>>,
    /// Faults as they happened.
    pub windows: Mutex<Vec<Window>>,
    /// Secrets found where none may be: (where, which secret's first
    /// characters).
    pub leaks: Mutex<Vec<(String, String)>>,
}

impl History {
    /// An empty history whose clock starts now.
    pub fn new() -> History {
        History {
            started: Instant::now(),
            events: Mutex::new(Vec::new()),
            probes: Mutex::new(Vec::new()),
            windows: Mutex::new(Vec::new()),
            leaks: Mutex::new(Vec::new()),
        }
    }

    /// Milliseconds since the start of the run.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The offset of `instant` from the start of the run, in
    /// milliseconds (0 for one before it).
    pub fn offset_of(&self, instant: Instant) -> u64 {
        instant.saturating_duration_since(self.started).as_millis() as u64
    }

    /// The instant of offset `ms`.
    pub fn instant(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    /// Records each of `secrets` found in `text`, seen at `place`.
    pub fn scan(&self, place: &str, text: &str, secrets: &[String]) {
        for secret in secrets {
            if text.contains(secret.as_str()) {
                let shown: String = secret.chars().take(6).collect();
                self.leaks
                    .lock()
                    .unwrap()
                    .push((place.to_string(), format!("{shown}…")));
            }
        }
    }
}
