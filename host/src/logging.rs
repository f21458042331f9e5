//! Keeps secrets out of every log line, whoever writes it.
//!
//! The host masks what it logs itself, but other crates log too: wasi-http,
//! for one, traces the arguments of the guest's HTTP calls at TRACE level,
//! and a path with a query string can carry an API key. So the host keeps a
//! process-wide register of the secrets that are live (the secret settings
//! of every loaded module, the passwords and generated credentials of every
//! call in flight), and [`redacting`] wraps a `tracing-subscriber` writer so
//! that each formatted line is masked against that register before it is
//! written.
//!
//! ```no_run
//! tracing_subscriber::fmt()
//!     .with_writer(provisioning_host::logging::redacting(std::io::stderr))
//!     .init();
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, RwLock};

use tracing_subscriber::fmt::MakeWriter;

use crate::redact::Redactor;

/// Live secrets, by the id of the guard that keeps them registered.
static LIVE_SECRETS: LazyLock<RwLock<BTreeMap<u64, Redactor>>> =
    LazyLock::new(|| RwLock::new(BTreeMap::new()));

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Keeps a set of secrets in the register until dropped: the host's own
/// (a module's settings, a call's passwords), and an embedder's (serve's
/// token).
#[derive(Debug)]
pub struct LiveSecrets {
    id: u64,
}

impl LiveSecrets {
    /// Registers what `redactor` masks.
    pub fn register(redactor: &Redactor) -> LiveSecrets {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if !redactor.is_empty() {
            LIVE_SECRETS
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(id, redactor.clone());
        }
        LiveSecrets { id }
    }
}

impl Drop for LiveSecrets {
    fn drop(&mut self) {
        LIVE_SECRETS
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.id);
    }
}

/// `text` with every live secret masked.
pub fn redact_live(text: &str) -> String {
    let live = LIVE_SECRETS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    live.values()
        .fold(text.to_string(), |text, redactor| redactor.redact(&text))
}

/// Wraps a `tracing-subscriber` writer so that every line written through it
/// has the live secrets masked.
pub fn redacting<M>(inner: M) -> RedactingMakeWriter<M> {
    RedactingMakeWriter { inner }
}

/// A [`MakeWriter`] whose writers mask live secrets; see [`redacting`].
#[derive(Debug, Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            buffer: Vec::new(),
        }
    }
}

/// Collects one event's text and writes it, masked, when dropped: a secret
/// split across two `write` calls is still caught.
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = redact_live(&String::from_utf8_lossy(&self.buffer));
        // A logger has nowhere to report its own failure to write.
        let _ = self.inner.write_all(text.as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_secrets_are_masked_until_their_guard_drops() {
        let guard = LiveSecrets::register(&Redactor::new().with(["s3cr3t-value-1"]));
        assert_eq!(redact_live("key=s3cr3t-value-1"), "key=[redacted]");
        drop(guard);
        assert_eq!(redact_live("key=s3cr3t-value-1"), "key=s3cr3t-value-1");
    }

    #[test]
    fn the_writer_masks_a_secret_split_across_writes() {
        let _guard = LiveSecrets::register(&Redactor::new().with(["split-secret-42"]));
        let mut out = Vec::new();
        {
            let mut writer = RedactingWriter {
                inner: &mut out,
                buffer: Vec::new(),
            };
            writer.write_all(b"a split-se").unwrap();
            writer.write_all(b"cret-42 b\n").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "a [redacted] b\n");
    }
}
