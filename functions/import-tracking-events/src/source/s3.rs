//! S3 objects, streamed: GetObject's body is read as it arrives, never buffered whole.
//!
//! Listing pages through ListObjectsV2; `after_import` move/delete is not offered for S3 (bucket
//! lifecycle rules do that job better), so `finish` keeps the trait's "unsupported" answer.

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;
use chrono::{DateTime, Utc};

use super::pattern::Pattern;
use super::{Listed, Location, Opened, Source};
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

    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        let Location::S3 { bucket, key } = Location::parse(pattern_uri)? else {
            return Err(SourceError::BadUri {
                uri: pattern_uri.to_owned(),
                reason: "not an s3:// URI",
            });
        };
        let pattern = Pattern::parse(pattern_uri, &key)?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(format!("{}{}", pattern.dir, pattern.literal_prefix()))
            // Objects "below" the directory come back as common prefixes, not as matches.
            .delimiter("/")
            .into_paginator()
            .send();
        let mut listed = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|source| SourceError::S3List {
                uri: pattern_uri.to_owned(),
                source: Box::new(source),
            })?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some(name) = key.strip_prefix(pattern.dir.as_str()) else {
                    continue;
                };
                if !pattern.matches(name) {
                    continue;
                }
                let size = object.size().unwrap_or(0).max(0) as u64;
                listed.push(Listed {
                    uri: format!("s3://{bucket}/{key}"),
                    // The same string open() derives from GetObject's ETag.
                    version: object.e_tag().map_or_else(
                        || format!("{size}+{:?}", object.last_modified()),
                        |e| e.trim_matches('"').to_owned(),
                    ),
                    size,
                    modified: object
                        .last_modified()
                        .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
                });
            }
        }
        listed.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(listed)
    }
}
