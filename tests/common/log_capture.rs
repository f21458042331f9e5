//! Captures every log line of the test process, at trace level, so a test
//! can search it for secrets. Process-wide: one test per binary uses it.
//!
//! Lines pass through the host's redacting writer, as they do in the CLI
//! and in any embedder that follows the host's docs: what is captured is
//! exactly what the host's log output would hold.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything every thread logs, kept for inspection.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs the capture as the global subscriber: trace level
    /// everywhere except the code generator's own chatter (register
    /// allocation, instruction selection), which sees no data and would
    /// make the test take minutes.
    pub fn install() -> LogCapture {
        let capture = LogCapture::default();
        let writer = capture.clone();
        let filter = tracing_subscriber::EnvFilter::new(
            "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,\
             wasmtime_internal_cranelift=info,wasmtime_environ=info,wasmparser=info",
        );
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(provisioning_host::logging::redacting(move || {
                writer.clone()
            }))
            .with_ansi(false)
            .init();
        capture
    }

    /// All that was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
