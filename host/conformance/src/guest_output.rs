//! What the module under test printed. The host captures a guest's stdout
//! and stderr per call and logs each line (masked) as an `info` event of
//! its own with a `stream` field; [`GuestOutput`] is a tracing layer that
//! keeps those lines, so the kit can search them for secrets.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The target of the host's events that carry a guest's output.
const GUEST_OUTPUT_TARGET: &str = "provisioning_host";

/// The guest output lines logged in this process; clones share them. Add
/// [`GuestOutput::layer`] to the process's subscriber, with a filter that
/// lets `provisioning_host=info` through to it.
#[derive(Clone, Default)]
pub struct GuestOutput {
    lines: Arc<Mutex<Vec<String>>>,
}

impl GuestOutput {
    /// An empty record.
    pub fn new() -> GuestOutput {
        GuestOutput::default()
    }

    /// The layer that records into this.
    pub fn layer(&self) -> GuestOutputLayer {
        GuestOutputLayer {
            output: self.clone(),
        }
    }

    /// Every line recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The tracing layer of a [`GuestOutput`].
pub struct GuestOutputLayer {
    output: GuestOutput,
}

impl<S: Subscriber> Layer<S> for GuestOutputLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        if *metadata.level() != Level::INFO || !metadata.target().starts_with(GUEST_OUTPUT_TARGET) {
            return;
        }
        let mut line = GuestLine::default();
        event.record(&mut line);
        if line.stream
            && let Some(message) = line.message
        {
            self.output.lock().push(message);
        }
    }
}

/// The fields of one event: whether it has a `stream`, and its message.
#[derive(Default)]
struct GuestLine {
    stream: bool,
    message: Option<String>,
}

impl Visit for GuestLine {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "stream" => self.stream = true,
            "message" => self.message = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "stream" => self.stream = true,
            "message" => self.message = Some(format!("{value:?}")),
            _ => {}
        }
    }
}
