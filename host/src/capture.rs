//! A guest's stdout or stderr, captured in memory up to a cap per call:
//! unlike wasmtime's `MemoryOutputPipe`, it can be emptied between two
//! calls of one reused instance, so that each call logs its own output and
//! gets the whole cap.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// One output stream of a store; clones share the buffer.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    capacity: usize,
    buffer: Arc<Mutex<BytesMut>>,
}

impl CapturedOutput {
    /// An empty capture holding at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> CapturedOutput {
        CapturedOutput {
            capacity,
            buffer: Arc::new(Mutex::new(BytesMut::new())),
        }
    }

    /// What was written since the last [`CapturedOutput::take`].
    pub(crate) fn contents(&self) -> Bytes {
        self.lock().clone().freeze()
    }

    /// Whether the cap is reached (the guest's next write fails).
    pub(crate) fn is_full(&self) -> bool {
        self.lock().len() >= self.capacity
    }

    /// Empties the capture, so that the next call starts with its whole cap.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // A poisoned lock only means a writer panicked mid-append; the
        // bytes are still a valid (possibly short) capture.
        self.buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        let mut buffer = self.lock();
        if bytes.len() > self.capacity - buffer.len() {
            return Err(StreamError::Trap(wasmtime::format_err!(
                "output beyond the cap of {} bytes",
                self.capacity
            )));
        }
        buffer.extend_from_slice(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        let used = self.lock().len();
        if used < self.capacity {
            Ok(self.capacity - used)
        } else {
            Err(StreamError::Closed)
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut buffer = self.lock();
        let amount = buf.len().min(self.capacity - buffer.len());
        buffer.extend_from_slice(&buf[..amount]);
        Poll::Ready(Ok(amount))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleared_capture_has_its_whole_cap_again() {
        let mut out = CapturedOutput::new(4);
        out.write(Bytes::from_static(b"abcd")).unwrap();
        assert!(out.is_full());
        assert!(out.write(Bytes::from_static(b"e")).is_err());
        out.clear();
        assert!(!out.is_full());
        out.write(Bytes::from_static(b"efgh")).unwrap();
        assert_eq!(&out.contents()[..], b"efgh");
    }
}
