//! A source stream that survives a dropped connection: when the bytes stop with an error, or
//! end before the object's known size, the object is opened again at the first byte not yet
//! read (S3 `Range`, FTP `REST`, SFTP offset reads) and reading goes on as if nothing happened.
//!
//! It sits under decompression and parsing, so neither sees the cut: a gzip stream is continued
//! byte for byte, and no record is read twice or lost. Reopening checks the object's version, so
//! a file replaced meanwhile fails the import instead of splicing two files together.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::io::{AsyncRead, ReadBuf};

use super::{Opened, Source};
use crate::error::SourceError;

type Reopen<'a> = Pin<Box<dyn Future<Output = Result<Opened, SourceError>> + Send + 'a>>;

/// How often, and how patiently, a cut stream is reopened.
#[derive(Debug, Clone, Copy)]
pub struct ReopenPolicy {
    /// Reopens in a row without a byte read in between, before the cut is an error.
    pub attempts: usize,
    pub base_delay: Duration,
}

enum State<'a> {
    Reading(Pin<Box<dyn AsyncRead + Send>>),
    Waiting(Pin<Box<tokio::time::Sleep>>),
    Opening(Reopen<'a>),
}

/// The bytes of one object version, reopened at the current offset when the connection drops.
pub struct Reopening<'a> {
    source: &'a dyn Source,
    uri: String,
    version: String,
    size: Option<u64>,
    /// The next byte to read, counted from the start of the object.
    offset: u64,
    state: State<'a>,
    policy: ReopenPolicy,
    backoff: ExponentialBackoff,
    /// Reopens so far (for the summary and logs).
    reopened: u64,
}

impl<'a> Reopening<'a> {
    /// Wraps `opened`, which was opened at `offset`.
    pub fn new(
        source: &'a dyn Source,
        uri: &str,
        offset: u64,
        opened: Opened,
        policy: ReopenPolicy,
    ) -> Self {
        Reopening {
            source,
            uri: uri.to_owned(),
            version: opened.version,
            size: opened.size,
            offset,
            state: State::Reading(opened.body),
            policy,
            backoff: backoff(policy),
            reopened: 0,
        }
    }

    /// Schedules a reopen after `cause`, or gives up with it when the attempts are spent.
    fn cut(&mut self, cause: io::Error) -> Result<(), io::Error> {
        let Some(delay) = self.backoff.next() else {
            return Err(io::Error::new(
                cause.kind(),
                SourceError::Cut {
                    uri: self.uri.clone(),
                    offset: self.offset,
                    attempts: self.policy.attempts,
                    source: cause,
                },
            ));
        };
        tracing::warn!(
            source = %self.uri,
            offset = self.offset,
            delay_ms = delay.as_millis() as u64,
            error = %shared::report(&cause),
            "source connection lost; reopening at the next unread byte"
        );
        self.state = State::Waiting(Box::pin(tokio::time::sleep(delay)));
        Ok(())
    }
}

fn backoff(policy: ReopenPolicy) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(policy.base_delay)
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .with_max_times(policy.attempts)
        .build()
}

impl AsyncRead for Reopening<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Reading(body) => {
                    let before = buf.filled().len();
                    match ready!(body.as_mut().poll_read(cx, buf)) {
                        Ok(()) => {
                            let read = (buf.filled().len() - before) as u64;
                            if read > 0 {
                                this.offset += read;
                                // Progress: the next cut gets a fresh set of attempts.
                                this.backoff = backoff(this.policy);
                                return Poll::Ready(Ok(()));
                            }
                            match this.size {
                                Some(size) if this.offset < size => this.cut(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    format!("the stream ended at byte {} of {size}", this.offset),
                                ))?,
                                _ => return Poll::Ready(Ok(())),
                            }
                        }
                        Err(err) => this.cut(err)?,
                    }
                }
                State::Waiting(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    let (source, uri, offset) = (this.source, this.uri.clone(), this.offset);
                    this.reopened += 1;
                    this.state =
                        State::Opening(Box::pin(async move { source.open(&uri, offset).await }));
                }
                State::Opening(reopen) => match ready!(reopen.as_mut().poll(cx)) {
                    Ok(opened) if opened.version != this.version => {
                        return Poll::Ready(Err(io::Error::other(SourceError::Changed {
                            uri: this.uri.clone(),
                            was: this.version.clone(),
                            now: opened.version,
                        })));
                    }
                    Ok(opened) => this.state = State::Reading(opened.body),
                    Err(err) => this.cut(io::Error::other(err))?,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use tokio::io::AsyncReadExt;

    use super::*;

    /// Serves `data`, cutting each of the first `cuts.len()` opens after that many bytes.
    struct Cutting {
        data: Vec<u8>,
        cuts: Mutex<Vec<usize>>,
        opens: Mutex<Vec<u64>>,
        version: Mutex<String>,
    }

    /// A body that yields `bytes` then fails like a reset connection.
    struct Broken(std::io::Cursor<Vec<u8>>);

    impl AsyncRead for Broken {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let before = buf.filled().len();
            ready!(Pin::new(&mut self.0).poll_read(cx, buf))?;
            if buf.filled().len() == before {
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            Poll::Ready(Ok(()))
        }
    }

    #[async_trait]
    impl Source for Cutting {
        async fn open(&self, _uri: &str, offset: u64) -> Result<Opened, SourceError> {
            self.opens.lock().unwrap().push(offset);
            let rest = self.data[offset as usize..].to_vec();
            let cut = {
                let mut cuts = self.cuts.lock().unwrap();
                (!cuts.is_empty()).then(|| cuts.remove(0))
            };
            let body: Pin<Box<dyn AsyncRead + Send>> = match cut {
                Some(n) => Box::pin(Broken(std::io::Cursor::new(rest[..n].to_vec()))),
                None => Box::pin(std::io::Cursor::new(rest)),
            };
            Ok(Opened {
                body,
                version: self.version.lock().unwrap().clone(),
                size: Some(self.data.len() as u64),
            })
        }
    }

    const POLICY: ReopenPolicy = ReopenPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(1),
    };

    fn cutting(cuts: Vec<usize>) -> Cutting {
        Cutting {
            data: (0..100_000u32).map(|i| (i % 251) as u8).collect(),
            cuts: Mutex::new(cuts),
            opens: Mutex::new(vec![]),
            version: Mutex::new("v1".into()),
        }
    }

    async fn read_all(source: &Cutting, offset: u64) -> io::Result<Vec<u8>> {
        let opened = source.open("s3://b/k", offset).await.unwrap();
        let mut reader = Reopening::new(source, "s3://b/k", offset, opened, POLICY);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.map(|_| out)
    }

    #[tokio::test]
    async fn a_cut_stream_continues_at_the_next_unread_byte() {
        let source = cutting(vec![10_000, 0, 30_000]);
        let read = read_all(&source, 5).await.unwrap();
        assert_eq!(read, source.data[5..]);
        assert_eq!(*source.opens.lock().unwrap(), [5, 10_005, 10_005, 40_005]);
    }

    #[tokio::test]
    async fn cuts_without_progress_give_up_after_the_attempts() {
        let source = cutting(vec![100, 0, 0, 0]);
        let err = read_all(&source, 0).await.unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<SourceError>());
        assert!(
            matches!(
                inner,
                Some(SourceError::Cut {
                    offset: 100,
                    attempts: 2,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_file_replaced_meanwhile_is_an_error_not_a_splice() {
        let source = cutting(vec![100]);
        let opened = source.open("s3://b/k", 0).await.unwrap();
        *source.version.lock().unwrap() = "v2".into();
        let mut reader = Reopening::new(&source, "s3://b/k", 0, opened, POLICY);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).await.unwrap_err();
        assert!(err.to_string().contains("changed"), "{err}");
    }

    #[tokio::test]
    async fn an_early_end_before_the_known_size_is_a_cut() {
        struct Short(Cutting);
        #[async_trait]
        impl Source for Short {
            async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
                let mut opened = self.0.open(uri, offset).await?;
                if offset == 0 {
                    // A data connection closed cleanly after 500 bytes, as FTP does when cut.
                    opened.body = Box::pin(std::io::Cursor::new(self.0.data[..500].to_vec()));
                }
                Ok(opened)
            }
        }
        let source = Short(cutting(vec![]));
        let opened = source.open("ftp://h/f", 0).await.unwrap();
        let mut reader = Reopening::new(&source, "ftp://h/f", 0, opened, POLICY);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, source.0.data);
        assert_eq!(*source.0.opens.lock().unwrap(), [0, 500]);
    }
}
