//! Sends nothing: for measuring and dry runs. Messages are still fully encoded and batched, so
//! counts match what the SQS sink would send.

use async_trait::async_trait;

use super::{FailedEntry, Sink};
use crate::envelope::Message;
use crate::error::SinkError;

#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

#[async_trait]
impl Sink for NullSink {
    async fn send(&self, _entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
        Ok(Vec::new())
    }
}
