//! Writes each event as one JSON line, for inspecting an import locally.

use std::io::Write;

use async_trait::async_trait;

use super::{FailedEntry, Sink};
use crate::envelope::Message;
use crate::error::SinkError;

#[derive(Debug, Default)]
pub struct StdoutSink {
    // Batches may be sent concurrently; the lock keeps each batch's lines together.
    out: std::sync::Mutex<()>,
}

#[async_trait]
impl Sink for StdoutSink {
    async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
        let _guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
        for message in entries {
            for event in message.events() {
                out.write_all(event)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(SinkError::Stdout)?;
            }
        }
        out.flush().map_err(SinkError::Stdout)?;
        Ok(Vec::new())
    }

    fn writes_events(&self) -> bool {
        true
    }
}
