//! The state store on S3: one object per connection under `STATE_BUCKET`/`STATE_PREFIX`, replaced
//! only with `If-Match` on the ETag read (or `If-None-Match: *` to create), so S3 itself refuses
//! the second of two racing writers.

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::AsyncReadExt;

use super::{State, StateStore, Versioned};
use crate::error::StateError;

/// A state document larger than this is refused rather than read: it is ours, and small.
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3StateStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3StateStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: String, prefix: String) -> Self {
        S3StateStore {
            client,
            bucket,
            prefix,
        }
    }

    fn key(&self, connection: &str) -> String {
        format!("{}{connection}.json", self.prefix)
    }

    fn uri(&self, connection: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(connection))
    }

    fn rejects_key(&self, connection: &str, import_id: &str, part: u64) -> String {
        format!(
            "{}{}",
            self.prefix,
            super::rejects_key(connection, import_id, part)
        )
    }
}

#[async_trait]
impl StateStore for S3StateStore {
    async fn load(&self, connection: &str, source: &str) -> Result<Versioned, StateError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(connection))
            .send()
            .await;
        let output = match got {
            Ok(output) => output,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(Versioned {
                    state: State::new(source),
                    tag: None,
                });
            }
            Err(err) => {
                return Err(StateError::S3Get {
                    uri: self.uri(connection),
                    source: Box::new(err),
                });
            }
        };
        let tag = output.e_tag().map(str::to_owned);
        let mut text = Vec::new();
        output
            .body
            .into_async_read()
            .take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut text)
            .await
            .map_err(|source| StateError::Read {
                uri: self.uri(connection),
                source,
            })?;
        if text.len() as u64 > MAX_STATE_BYTES {
            return Err(StateError::TooLarge {
                uri: self.uri(connection),
                limit: MAX_STATE_BYTES,
            });
        }
        let state = serde_json::from_slice(&text).map_err(|source| StateError::Corrupt {
            uri: self.uri(connection),
            source,
        })?;
        Ok(Versioned { state, tag })
    }

    async fn store(
        &self,
        connection: &str,
        state: &State,
        tag: Option<&str>,
    ) -> Result<String, StateError> {
        let body = serde_json::to_vec_pretty(state).expect("state serializes");
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(connection))
            .content_type("application/json")
            .body(ByteStream::from(body));
        put = match tag {
            Some(tag) => put.if_match(tag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_owned()),
            // 412: the ETag moved on; 409: a concurrent conditional write is in progress.
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
            {
                Err(StateError::Conflict {
                    connection: connection.to_owned(),
                })
            }
            Err(err) => Err(StateError::S3Put {
                uri: self.uri(connection),
                source: Box::new(err),
            }),
        }
    }

    async fn store_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
        body: Vec<u8>,
    ) -> Result<(), StateError> {
        let key = self.rejects_key(connection, import_id, part);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|source| StateError::S3Put {
                uri: format!("s3://{}/{key}", self.bucket),
                source: Box::new(source),
            })?;
        Ok(())
    }

    async fn load_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let key = self.rejects_key(connection, import_id, part);
        let uri = format!("s3://{}/{key}", self.bucket);
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let output = match got {
            Ok(output) => output,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(err) => {
                return Err(StateError::S3Get {
                    uri,
                    source: Box::new(err),
                });
            }
        };
        let mut body = Vec::new();
        output
            .body
            .into_async_read()
            .take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut body)
            .await
            .map_err(|source| StateError::Read {
                uri: uri.clone(),
                source,
            })?;
        if body.len() as u64 > MAX_STATE_BYTES {
            return Err(StateError::TooLarge {
                uri,
                limit: MAX_STATE_BYTES,
            });
        }
        Ok(Some(body))
    }
}
