//! The sink port: send one batch of messages, reporting which entries failed.
//!
//! Retrying failed entries, concurrency and accounting live in [`crate::deliver`]; an adapter
//! only translates one batch into its protocol.

mod null;
mod sqs;
mod stdout;

pub use null::NullSink;
pub use sqs::SqsSink;
pub use stdout::StdoutSink;

use async_trait::async_trait;

use crate::envelope::Message;
use crate::error::SinkError;

/// An entry the sink could not take; only these are sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    /// Index into the entries passed to [`Sink::send`].
    pub index: usize,
    pub code: String,
    pub message: String,
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Sends `entries` in one request. `Ok` lists the entries that failed individually.
    async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError>;

    /// Whether it reads each message's events one by one ([`Message::events`]) rather than
    /// its body: gzip'd messages then keep their events' bytes.
    fn writes_events(&self) -> bool {
        false
    }
}
