//! Amazon SQS: one SendMessageBatch call per batch; entries SQS reports as failed are returned
//! for the caller to resend alone.

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::{FailedEntry, Sink};
use crate::envelope::Message;
use crate::error::SinkError;

#[derive(Debug, Clone)]
pub struct SqsSink {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsSink {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        SqsSink { client, queue_url }
    }
}

#[async_trait]
impl Sink for SqsSink {
    async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
        let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
        for (i, message) in entries.iter().enumerate() {
            let body = String::from_utf8(message.body()).map_err(SinkError::NotText)?;
            request = request.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .expect("id and body are set"),
            );
        }
        let output = request
            .send()
            .await
            .map_err(|e| SinkError::Sqs(Box::new(e)))?;
        let mut failed = Vec::with_capacity(output.failed.len());
        for f in output.failed {
            // Ids are ours ("0".."9"); an id we cannot place must not pass as delivered, so it
            // fails every entry of the batch instead.
            match f.id.parse::<usize>().ok().filter(|&i| i < entries.len()) {
                Some(index) => failed.push(FailedEntry {
                    index,
                    code: f.code,
                    message: f.message.unwrap_or_default(),
                }),
                None => {
                    return Ok((0..entries.len())
                        .map(|index| FailedEntry {
                            index,
                            code: f.code.clone(),
                            message: format!(
                                "SQS reported a failure for unknown entry id {:?}",
                                f.id
                            ),
                        })
                        .collect());
                }
            }
        }
        Ok(failed)
    }
}
