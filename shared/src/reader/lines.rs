//! Line-at-a-time reading for the line-based formats (JSON Lines, fixed width), with the
//! record positions every format reports and a cap on line length.
//!
//! Lines are read straight out of the buffered stream into one reused buffer, so memory stays at
//! one line however large the file; a line past [`MAX_LINE_BYTES`] is cut, not held.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::error::{Position, ReadError};

/// A line longer than this is rejected without being held whole: a file without newlines must
/// not take the process's memory with it.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Reads a stream line by line into [`LineReader::line`].
pub(super) struct LineReader<R> {
    inner: BufReader<R>,
    /// The current line, without its `\n` (a CRLF line keeps its `\r`).
    pub line: Vec<u8>,
    /// 1-based number of the next line, and the byte offset where it starts.
    next_line: u64,
    next_byte: u64,
    /// Drop a UTF-8 byte-order mark from the first line (UTF-8 files only).
    strip_bom: bool,
}

/// Where the current line was, and whether it was cut.
pub(super) struct Line {
    pub number: u64,
    pub byte: u64,
    /// The line exceeded [`MAX_LINE_BYTES`]; only its first bytes were kept.
    pub too_long: bool,
}

impl<R: AsyncRead + Unpin + Send> LineReader<R> {
    pub fn new(reader: R, strip_bom: bool) -> Self {
        LineReader {
            inner: BufReader::with_capacity(256 * 1024, reader),
            line: Vec::new(),
            next_line: 1,
            next_byte: 0,
            strip_bom,
        }
    }

    /// Reads the next line into `self.line`; `None` at the end of the file. `record` is the
    /// number the next record would have, for the position of a read error.
    pub async fn next(&mut self, record: u64) -> Result<Option<Line>, ReadError> {
        self.line.clear();
        let number = self.next_line;
        let byte = self.next_byte;
        let mut too_long = false;
        let mut consumed_any = false;
        loop {
            let buf = self
                .inner
                .fill_buf()
                .await
                .map_err(|source| ReadError::Io {
                    position: Position {
                        record,
                        line: number,
                        byte: self.next_byte,
                    },
                    source,
                })?;
            if buf.is_empty() {
                if !consumed_any {
                    return Ok(None);
                }
                break;
            }
            consumed_any = true;
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, Some(i + 1)),
                None => (buf.len(), None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            if take > room {
                too_long = true;
            }
            self.line.extend_from_slice(&buf[..take.min(room)]);
            let used = end.unwrap_or(take);
            self.inner.consume(used);
            self.next_byte += used as u64;
            if end.is_some() {
                break;
            }
        }
        self.next_line += 1;
        if number == 1 && self.strip_bom && self.line.starts_with(b"\xEF\xBB\xBF") {
            self.line.drain(..3);
        }
        Ok(Some(Line {
            number,
            byte,
            too_long,
        }))
    }
}
