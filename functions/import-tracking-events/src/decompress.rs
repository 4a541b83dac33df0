//! Carrier files often arrive gzip'd, not always named `.gz`. The first bytes decide: a gzip
//! stream is decompressed while it streams (async-compression), anything else passes through.

use std::io;
use std::pin::Pin;

use async_compression::tokio::bufread::GzipDecoder;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, BufReader, ReadBuf};

/// gzip's magic number (RFC 1952, ID1 ID2).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How a source's bytes were encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
}

/// A byte stream, borrowing its source for as long as it may need to reopen it.
pub type Body<'a> = Pin<Box<dyn AsyncRead + Send + 'a>>;

/// Looks at the first bytes of `body` and returns a reader of its plain content.
pub async fn detect(mut body: Body<'_>) -> io::Result<(Body<'_>, Compression)> {
    // A stream may hand over its first byte alone, so read until two are in or the stream ends.
    let mut head = [0u8; 2];
    let mut have = 0;
    while have < head.len() {
        let n = body.read(&mut head[have..]).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let whole = std::io::Cursor::new(head[..have].to_vec()).chain(body);
    if have == 2 && head == GZIP_MAGIC {
        let whole = Ended {
            inner: whole,
            ended: false,
        };
        let mut decoder = GzipDecoder::new(BufReader::with_capacity(64 * 1024, whole));
        // `cat a.gz b.gz` is a valid gzip file; without this only its first member is read.
        decoder.multiple_members(true);
        Ok((Box::pin(Gunzip(decoder)), Compression::Gzip))
    } else {
        Ok((Box::pin(whole), Compression::None))
    }
}

/// The decoder's own word for a stream that stops mid-member is a bare "unexpected end of file",
/// which reads like a network fault; the file itself is cut short.
#[derive(Debug, thiserror::Error)]
#[error("the gzip stream ends before its end marker: the file is truncated")]
pub struct Truncated(#[source] io::Error);

/// A gzip decoder whose early end of stream says so ([`Truncated`]).
struct Gunzip<R: AsyncBufRead>(GzipDecoder<R>);

impl<R: AsyncRead + Unpin> AsyncRead for Gunzip<BufReader<Ended<R>>> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            // Only when the source itself ended cleanly: its own errors pass as they are.
            Poll::Ready(Err(err))
                if err.kind() == io::ErrorKind::UnexpectedEof
                    && self.0.get_ref().get_ref().ended =>
            {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    Truncated(err),
                )))
            }
            other => other,
        }
    }
}

/// Remembers whether its reader reached the end of its stream.
struct Ended<R> {
    inner: R,
    ended: bool,
}

impl<R: AsyncRead + Unpin> AsyncRead for Ended<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let asked = buf.remaining() > 0;
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && asked && buf.filled().len() == before {
            self.ended = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// A reader that yields one byte per read, the worst case for sniffing.
    struct Trickle(Vec<u8>, usize);
    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if self.1 < self.0.len() {
                let b = self.0[self.1];
                buf.put_slice(&[b]);
                self.1 += 1;
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    async fn plain(body: Vec<u8>, trickle: bool) -> (Vec<u8>, Compression) {
        let body: Body = if trickle {
            Box::pin(Trickle(body, 0))
        } else {
            Box::pin(std::io::Cursor::new(body))
        };
        let (mut reader, compression) = detect(body).await.unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        (out, compression)
    }

    #[tokio::test]
    async fn gzip_is_found_by_its_magic_bytes_not_its_name() {
        let text = b"TrackingNumber,EventCode\n1Z,DL\n".repeat(1000);
        for trickle in [false, true] {
            assert_eq!(
                plain(gzip(&text), trickle).await,
                (text.clone(), Compression::Gzip)
            );
            assert_eq!(
                plain(text.clone(), trickle).await,
                (text.clone(), Compression::None)
            );
        }
        for short in [&b""[..], b"\x1f", b"a"] {
            assert_eq!(
                plain(short.to_vec(), true).await,
                (short.to_vec(), Compression::None)
            );
        }
    }

    #[tokio::test]
    async fn concatenated_members_are_one_file() {
        let mut two = gzip(b"a,b\n1,2\n");
        two.extend(gzip(b"3,4\n"));
        assert_eq!(plain(two, false).await.0, b"a,b\n1,2\n3,4\n");
    }

    #[tokio::test]
    async fn a_truncated_stream_is_an_error_not_a_short_file() {
        let full = gzip(&b"1Z,DL\n".repeat(10_000));
        let cut = full[..full.len() / 2].to_vec();
        let (mut reader, _) = detect(Box::pin(std::io::Cursor::new(cut))).await.unwrap();
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
