//! Where CSV records end, watched in the bytes on their way into the parser.
//!
//! csv-async is lenient in two ways that cost records: a quoted field that is never closed runs
//! silently to the end of the file (the record then fails on some unrelated column, or worse, is
//! accepted), and a record may grow without limit (an unclosed quote early in a large file holds
//! the rest of it in memory). This adapter follows csv-core's quoting rules (a quote opens a
//! field only at the field's start, `""` inside a quoted field is a quote) just far enough to say
//! whether the file ended inside a quoted field, and fails the read once one record exceeds
//! [`MAX_RECORD_BYTES`]. It looks only at quotes and newlines (memchr), so it costs the parser
//! next to nothing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// A record longer than this fails the file: no carrier writes one, and holding it whole is what
/// would take the process's memory. The same bound as a JSON line.
pub const MAX_RECORD_BYTES: u64 = super::lines::MAX_LINE_BYTES as u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside quotes (at a field's start or in an unquoted field).
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just read a quote inside a quoted field: the next byte says whether it closed the field
    /// or was the first of `""`.
    QuoteInQuoted,
}

/// A record too long to hold.
#[derive(Debug, thiserror::Error)]
#[error(
    "the record starting at byte {start} is longer than {limit} bytes (a quote that is never closed, or not a delimited text file)"
)]
pub struct RecordTooLong {
    pub start: u64,
    pub limit: u64,
}

/// Passes bytes through unchanged, tracking record ends and quoting.
pub struct RecordBounds<R> {
    inner: R,
    delimiter: u8,
    quote: u8,
    state: State,
    /// The last byte seen (`None` before the first): a quote after a delimiter, a newline or
    /// nothing opens a quoted field.
    last: Option<u8>,
    /// Bytes seen so far.
    offset: u64,
    /// Where the current record started.
    record_start: u64,
    /// Where the current (or last) quoted field's opening quote is.
    quote_at: u64,
    eof: bool,
}

impl<R> RecordBounds<R> {
    pub fn new(inner: R, delimiter: u8, quote: u8) -> Self {
        RecordBounds {
            inner,
            delimiter,
            quote,
            state: State::Unquoted,
            last: None,
            offset: 0,
            record_start: 0,
            quote_at: 0,
            eof: false,
        }
    }

    /// The byte offset of the quote that opened a field the file ended in, once the end of the
    /// file has been read; `None` while reading or when every quoted field was closed.
    pub fn unterminated_quote(&self) -> Option<u64> {
        (self.eof && self.state == State::Quoted).then_some(self.quote_at)
    }

    fn scan(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::Quoted => match memchr::memchr(self.quote, &chunk[i..]) {
                    Some(j) => {
                        i += j + 1;
                        self.state = State::QuoteInQuoted;
                    }
                    None => i = chunk.len(),
                },
                State::QuoteInQuoted => {
                    if chunk[i] == self.quote {
                        self.state = State::Quoted;
                        i += 1;
                    } else {
                        // Byte `i` is read again, outside quotes: it may end the record.
                        self.state = State::Unquoted;
                    }
                }
                State::Unquoted => match memchr::memchr2(self.quote, b'\n', &chunk[i..]) {
                    Some(j) => {
                        let at = i + j;
                        if chunk[at] == b'\n' {
                            self.record_start = self.offset + at as u64 + 1;
                        } else {
                            let before = if at > 0 {
                                Some(chunk[at - 1])
                            } else {
                                self.last
                            };
                            if before.is_none_or(|b| b == self.delimiter || b == b'\n') {
                                self.state = State::Quoted;
                                self.quote_at = self.offset + at as u64;
                            }
                        }
                        i = at + 1;
                    }
                    None => i = chunk.len(),
                },
            }
        }
        self.offset += chunk.len() as u64;
        if let Some(&b) = chunk.last() {
            self.last = Some(b);
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for RecordBounds<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let asked = buf.remaining() > 0;
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let this = &mut *self;
        let read = &buf.filled()[before..];
        if read.is_empty() {
            this.eof |= asked;
            return Poll::Ready(Ok(()));
        }
        this.scan(read);
        let record = this.offset - this.record_start;
        if record > MAX_RECORD_BYTES {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RecordTooLong {
                    start: this.record_start,
                    limit: MAX_RECORD_BYTES,
                },
            )));
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// Reads `input` through the adapter in pieces of `step` bytes.
    async fn scan(input: &[u8], step: usize) -> io::Result<RecordBounds<&[u8]>> {
        let mut bounds = RecordBounds::new(input, b',', b'"');
        let mut buf = vec![0; step];
        while bounds.read(&mut buf).await? > 0 {}
        Ok(bounds)
    }

    #[tokio::test]
    async fn a_quote_open_at_the_end_is_found_however_the_bytes_arrive() {
        let cases: [(&[u8], Option<u64>); 9] = [
            (b"a,b\n1,2\n", None),
            (b"a,b\n1,\"2, two\"\n", None),
            (b"a,b\n1,\"2 \"\"two\"\"\"\n", None),
            (b"a,b\n1,\"2\nmore", Some(6)),
            (b"\"a,b", Some(0)),
            // A quote inside an unquoted field is literal text.
            (b"a,b\n1,5\" pipe\n", None),
            (b"a,b\n1,5\" pipe,\"x\n", Some(14)),
            // A closing quote followed by text leaves the field; a later quote there is text.
            (b"a,b\n\"1\"x\",2\n", None),
            (b"a,b\n\"1\"\"", Some(4)),
        ];
        for (input, expected) in cases {
            for step in [1, 2, 3, 64] {
                let bounds = scan(input, step).await.unwrap();
                assert_eq!(
                    bounds.unterminated_quote(),
                    expected,
                    "{:?} in steps of {step}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[tokio::test]
    async fn a_record_longer_than_the_limit_fails_the_read() {
        let mut input = b"a,b\n1,\"".to_vec();
        input.resize(input.len() + MAX_RECORD_BYTES as usize, b'x');
        let err = scan(&input, 256 * 1024).await.err().expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("starting at byte 4"), "{err}");

        // The same length spread over many records is fine.
        let many = b"1,2\n".repeat(MAX_RECORD_BYTES as usize / 4 + 10);
        assert!(scan(&many, 256 * 1024).await.is_ok());
    }
}
