//! The body of a file opened on a server: its bytes, then a closing step once they run out.
//!
//! FTP and SFTP both stream a file over a live connection that must be wound up at the end
//! (FTP awaits the transfer's completion reply and sends `QUIT`; SFTP closes the file and the
//! session), and both must do so from inside `poll_read`, since the pipeline only ever sees an
//! `AsyncRead`. [`CloseAtEof`] is that state machine, written once for both adapters.

use std::future::Future;
use std::io;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

type Closing = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;
type Close<R> = Box<dyn FnOnce(R) -> Closing + Send>;

/// Reads `R` to its end, then runs the closing step before reporting end of file.
///
/// The closing step runs once, on the first read that finds no more data (a read into a full
/// buffer proves nothing and never triggers it). Its error, if any, is that read's error;
/// afterwards every read reports end of file.
pub(super) struct CloseAtEof<R> {
    state: State<R>,
}

// The reader is held inline, not boxed again: the whole body already lives in one Box for the
// whole transfer (see `Opened::body`), and another would only add an indirection to every read.
enum State<R> {
    Reading { reader: R, close: Close<R> },
    Closing(Closing),
    Done,
}

impl<R> CloseAtEof<R> {
    /// `close` receives the reader once it is exhausted, with whatever else it captured.
    pub fn new<F, Fut>(reader: R, close: F) -> Self
    where
        F: FnOnce(R) -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        CloseAtEof {
            state: State::Reading {
                reader,
                close: Box::new(move |reader| Box::pin(close(reader))),
            },
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CloseAtEof<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Reading { reader, .. } => {
                    let before = buf.filled().len();
                    ready!(Pin::new(reader).poll_read(cx, buf))?;
                    if buf.filled().len() > before || buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let State::Reading { reader, close } =
                        mem::replace(&mut this.state, State::Done)
                    else {
                        unreachable!("matched Reading above");
                    };
                    this.state = State::Closing(close(reader));
                }
                State::Closing(closing) => {
                    let result = ready!(closing.as_mut().poll(cx));
                    this.state = State::Done;
                    return Poll::Ready(result);
                }
                State::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;

    /// A body over `data` whose closing step yields once, counts its runs and returns `result`.
    fn body(
        data: &'static [u8],
        result: fn() -> io::Result<()>,
    ) -> (CloseAtEof<&'static [u8]>, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let body = CloseAtEof::new(data, move |rest: &[u8]| async move {
            assert!(rest.is_empty(), "closed before the end");
            tokio::task::yield_now().await;
            counted.fetch_add(1, Ordering::SeqCst);
            result()
        });
        (body, runs)
    }

    #[tokio::test]
    async fn reads_everything_then_closes_once() {
        let (mut body, runs) = body(b"hello, world", || Ok(()));
        let mut start = [0u8; 5];
        body.read_exact(&mut start).await.unwrap();
        assert_eq!(&start, b"hello");
        assert_eq!(runs.load(Ordering::SeqCst), 0, "closed mid-file");
        let mut rest = Vec::new();
        body.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b", world");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(body.read(&mut [0u8; 8]).await.unwrap(), 0);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "closed twice");
    }

    #[tokio::test]
    async fn a_close_error_is_the_last_reads_error() {
        let (mut body, runs) = body(b"data", || Err(io::Error::other("no 226")));
        let mut all = Vec::new();
        let err = body.read_to_end(&mut all).await.unwrap_err();
        assert_eq!(err.to_string(), "no 226");
        assert_eq!(all, b"data");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(body.read(&mut [0u8; 8]).await.unwrap(), 0);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "closed twice");
    }

    #[tokio::test]
    async fn a_read_into_no_room_does_not_close() {
        let (mut body, runs) = body(b"", || Ok(()));
        std::future::poll_fn(|cx| {
            let mut none = ReadBuf::new(&mut []);
            Pin::new(&mut body).poll_read(cx, &mut none)
        })
        .await
        .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 0, "closed on an empty buffer");
        assert_eq!(body.read(&mut [0u8; 8]).await.unwrap(), 0);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
