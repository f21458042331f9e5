//! Captures every log line of the test process, at trace level, so a test
//! can search it for secrets. Process-wide: the first test of a binary to
//! ask installs it, and every test of that binary reads the whole process's
//! log (so a secret any test leaks fails every test that looks for it).
//!
//! Lines pass through the host's redacting writer, as they do in the CLI
//! and in any embedder that follows the host's docs: what is captured is
//! exactly what the host's log output would hold.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything every thread logs, kept for inspection: once as text lines
/// and once as JSON lines (what `--log-format json` writes), so that a
/// secret masked in one format and not in the other is caught.
#[derive(Clone, Default)]
pub struct LogCapture {
    text: Buffer,
    json: Buffer,
}

/// One format's captured bytes.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The process's capture, installed as the global subscriber on the
    /// first call (later calls share it): trace level
    /// everywhere except the code generator's own chatter (register
    /// allocation, instruction selection), which sees no data and would
    /// make the test take minutes. Both formats go through the host's
    /// redacting writer.
    pub fn install() -> LogCapture {
        static CAPTURE: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
        CAPTURE.get_or_init(LogCapture::install_global).clone()
    }

    fn install_global() -> LogCapture {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;

        let capture = LogCapture::default();
        let filter = tracing_subscriber::EnvFilter::new(
            "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,\
             wasmtime_internal_cranelift=info,wasmtime_environ=info,wasmparser=info",
        );
        let text = capture.text.clone();
        let json = capture.json.clone();
        tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(provisioning_host::logging::redacting(move || text.clone()))
                    .with_ansi(false),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_span_list(true)
                    .with_writer(provisioning_host::logging::redacting(move || json.clone())),
            )
            .init();
        capture
    }

    /// All that was logged so far, in both formats.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.text.text(), self.json.text())
    }

    /// All that was logged so far as JSON lines.
    pub fn json_lines(&self) -> String {
        self.json.text()
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
