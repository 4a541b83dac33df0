//! S3 objects, streamed: GetObject's body is read as it arrives, never buffered whole.

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;

use super::{Location, Opened, Source};
use crate::error::SourceError;

#[derive(Debug, Clone)]
pub struct S3Source {
    client: aws_sdk_s3::Client,
}

impl S3Source {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Source { client }
    }
}

#[async_trait]
impl Source for S3Source {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        let Location::S3 { bucket, key } = Location::parse(uri)? else {
            return Err(SourceError::BadUri {
                uri: uri.to_owned(),
                reason: "not an s3:// URI",
            });
        };
        let mut request = self.client.get_object().bucket(bucket).key(key);
        if offset > 0 {
            request = request.range(format!("bytes={offset}-"));
        }
        let object = request.send().await.map_err(|err| {
            if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_)))
                || err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404)
            {
                SourceError::NotFound {
                    uri: uri.to_owned(),
                }
            } else {
                SourceError::S3 {
                    uri: uri.to_owned(),
                    source: Box::new(err),
                }
            }
        })?;
        let size = object
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|total| total.parse().ok())
            .or(object.content_length().map(|n| n as u64));
        let version = object
            .e_tag()
            .map(|e| e.trim_matches('"').to_owned())
            .unwrap_or_else(|| format!("{}+{:?}", size.unwrap_or(0), object.last_modified()));
        Ok(Opened {
            body: Box::pin(object.body.into_async_read()),
            version,
            size,
        })
    }
}
