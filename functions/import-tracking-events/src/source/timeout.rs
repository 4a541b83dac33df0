//! Timeouts for remote sources: a stalled server must fail the import, not hang the function
//! until Lambda kills it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::SourceError;

/// Runs `fut`, failing with [`SourceError::Timeout`] after `limit`.
pub(super) async fn within<T>(
    limit: Duration,
    uri: &str,
    op: &'static str,
    fut: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(SourceError::Timeout {
            uri: uri.to_owned(),
            op,
            after: limit,
        })
    })
}

/// Fails a read that waits longer than `limit` for the next bytes.
///
/// Only time spent waiting on the server counts: while the pipeline is busy (or back-pressured by
/// the sink) and not reading, no clock runs.
pub(super) struct IdleTimeout<R> {
    inner: R,
    limit: Duration,
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

impl<R> IdleTimeout<R> {
    pub fn new(inner: R, limit: Duration) -> Self {
        IdleTimeout {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
            armed: false,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for IdleTimeout<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.armed = false;
                Poll::Ready(result)
            }
            Poll::Pending => {
                if !this.armed {
                    this.timer.as_mut().reset(Instant::now() + this.limit);
                    this.armed = true;
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.armed = false;
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("the server sent no data for {:?}", this.limit),
                        )))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_stalled_read_times_out_and_a_flowing_one_does_not() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut reader = IdleTimeout::new(rx, Duration::from_millis(100));
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"abc")
            .await
            .unwrap();
        let mut buf = [0u8; 3];
        reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abc");
        // Not reading for longer than the limit is not a stall.
        tokio::time::sleep(Duration::from_millis(150)).await;
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"d")
            .await
            .unwrap();
        reader.read_exact(&mut buf[..1]).await.unwrap();
        let err = reader.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
