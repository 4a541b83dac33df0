//! What the workspace's tests share, in one place instead of copies (a dev-dependency only):
//! the Lambda Runtime API stand-in that runs the real Lambda binaries as Lambda would
//! ([`runtime_api`]), an in-memory writer for a tracing subscriber ([`LogBuffer`]), and the
//! settings of the local AWS stand-in that `scripts/test.sh` starts ([`moto`]), and the carrier
//! answers the tests and the sample stand-in share ([`fixtures`], [`carrier_stand_in`]).

pub mod carrier_stand_in;
pub mod fixtures;
pub mod moto;
pub mod runtime_api;

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything a tracing subscriber writes, kept in memory for a test to search.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// Everything tracing writes on this thread, at every level, while it is alive.
pub struct LogCapture {
    buffer: LogBuffer,
    _guard: tracing::subscriber::DefaultGuard,
}

/// Starts capturing. `#[tokio::test]` runs on one thread, so every log line of such a test
/// lands here.
pub fn capture_logs() -> LogCapture {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    LogCapture {
        buffer,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl LogCapture {
    /// What was logged so far.
    pub fn text(&self) -> String {
        self.buffer.text()
    }
}
