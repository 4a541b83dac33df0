//! EDI interchanges (X12, EDIFACT) read one segment at a time from any `AsyncRead`.
//!
//! The first step of the EDI readers: the delimiters come from the interchange itself (each ISA
//! segment, or a UNA service string advice, else EDIFACT's defaults), so a carrier's `|`, `^` or
//! newline terminators need no profile key; whitespace between segments (CRLF after each
//! terminator) is skipped; a terminator preceded by a release character is data. Memory stays at
//! one segment, capped like a record. Positions are the line and byte where a segment starts.

mod segment;

pub use self::segment::{Delimiters, EnvelopeError, ISA_LEN, Segment, Syntax, UNA_LEN};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::bounds::MAX_RECORD_BYTES;
use crate::error::{Position, ReadError};

/// Streams the segments of an X12 or EDIFACT file.
pub struct SegmentReader<R> {
    inner: R,
    /// Bytes read and not yet consumed: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    syntax: Syntax,
    delimiters: Option<Delimiters>,
    raw: Vec<u8>,
    line: u64,
    byte: u64,
}

impl<R: AsyncRead + Unpin + Send> SegmentReader<R> {
    pub fn new(reader: R, syntax: Syntax) -> Self {
        SegmentReader {
            inner: reader,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            eof: false,
            syntax,
            delimiters: None,
            raw: Vec::new(),
            line: 1,
            byte: 0,
        }
    }

    /// The delimiters in force: the last ISA's or UNA's (EDIFACT's defaults before any UNA).
    pub fn delimiters(&self) -> Option<Delimiters> {
        self.delimiters
    }

    /// Reads the next segment into `out`; `false` at the end of the file.
    pub async fn next(&mut self, out: &mut Segment) -> Result<bool, ReadError> {
        loop {
            self.skip_whitespace().await?;
            let head = self.fill(3).await?;
            if head.is_empty() {
                return Ok(false);
            }
            let head: [u8; 3] = [0, 1, 2].map(|i| head.get(i).copied().unwrap_or(0));
            let (line, byte) = (self.line, self.byte);
            let syntax = self.syntax;
            let bad = move |reason: String| malformed(syntax, line, byte, reason);
            match (self.syntax, &head) {
                (Syntax::X12, b"ISA") => {
                    let isa = self.take(ISA_LEN).await?;
                    let delimiters = Delimiters::from_isa(&isa).map_err(|e| bad(e.to_string()))?;
                    self.delimiters = Some(delimiters);
                    out.parse(&isa[..ISA_LEN - 1], &delimiters)
                        .map_err(|e| bad(e.to_string()))?;
                }
                (Syntax::Edifact, b"UNA") => {
                    let una = self.take(UNA_LEN).await?;
                    let delimiters = Delimiters::from_una(&una).map_err(|e| bad(e.to_string()))?;
                    self.delimiters = Some(delimiters);
                    continue;
                }
                _ => {
                    let delimiters = match (self.delimiters, self.syntax) {
                        (Some(d), _) => d,
                        (None, Syntax::Edifact) => Delimiters::EDIFACT,
                        (None, Syntax::X12) => {
                            return Err(
                                bad("an X12 interchange starts with an ISA segment".into()),
                            );
                        }
                    };
                    self.delimiters = Some(delimiters);
                    self.read_segment(&delimiters).await?;
                    out.parse(&self.raw, &delimiters)
                        .map_err(|e| bad(e.to_string()))?;
                }
            }
            out.line = line;
            out.byte = byte;
            if self.syntax == Syntax::Edifact && out.tag() == b"UNZ" {
                // The next interchange has its own UNA, or EDIFACT's defaults.
                self.delimiters = None;
            }
            return Ok(true);
        }
    }

    fn io(&self, source: std::io::Error) -> ReadError {
        ReadError::Io {
            position: Position {
                record: 0,
                line: self.line,
                byte: self.byte,
            },
            source,
        }
    }

    /// Consumes `n` buffered bytes, counting lines.
    fn consume(&mut self, n: usize) {
        let taken = &self.buf[self.start..self.start + n];
        self.line += memchr::memchr_iter(b'\n', taken).count() as u64;
        self.byte += n as u64;
        self.start += n;
    }

    /// The buffered bytes, at least `n` of them unless the file ends first.
    async fn fill(&mut self, n: usize) -> Result<&[u8], ReadError> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.end, self.start) = (self.end - self.start, 0);
            }
            let read = self.inner.read(&mut self.buf[self.end..]).await;
            match read {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    async fn skip_whitespace(&mut self) -> Result<(), ReadError> {
        loop {
            let buf = self.fill(1).await?;
            let n = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
                .count();
            let all = n == buf.len() && n > 0;
            self.consume(n);
            if !all {
                return Ok(());
            }
        }
    }

    /// Consumes exactly `n` bytes (fewer at the end of the file) and returns them.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        let available = self.fill(n).await?;
        let taken = available[..n.min(available.len())].to_vec();
        self.consume(taken.len());
        Ok(taken)
    }

    /// Reads one segment's bytes into `self.raw`, up to a terminator that is not released, and
    /// consumes the terminator.
    async fn read_segment(&mut self, delimiters: &Delimiters) -> Result<(), ReadError> {
        let (line, byte) = (self.line, self.byte);
        self.raw.clear();
        let mut released = false;
        loop {
            if self.fill(1).await?.is_empty() {
                return Err(malformed(
                    self.syntax,
                    line,
                    byte,
                    "the file ends inside a segment (a truncated file)".into(),
                ));
            }
            let buf = &self.buf[self.start..self.end];
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if released {
                    released = false;
                } else if Some(b) == delimiters.release {
                    released = true;
                } else if b == delimiters.segment {
                    end = Some(i);
                    break;
                }
            }
            let take = end.unwrap_or(buf.len());
            self.raw.extend_from_slice(&buf[..take]);
            self.consume(take + usize::from(end.is_some()));
            if self.raw.len() as u64 > MAX_RECORD_BYTES {
                return Err(malformed(
                    self.syntax,
                    line,
                    byte,
                    format!("a segment longer than {MAX_RECORD_BYTES} bytes"),
                ));
            }
            if end.is_some() {
                return Ok(());
            }
        }
    }
}

fn malformed(syntax: Syntax, line: u64, byte: u64, reason: String) -> ReadError {
    ReadError::Malformed {
        format: syntax.name(),
        line,
        byte,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every segment as (tag, line, byte, elements as text with components joined by `:`).
    async fn read_all(
        syntax: Syntax,
        bytes: &[u8],
    ) -> (Vec<(String, u64, u64, String)>, Option<ReadError>) {
        let mut reader = SegmentReader::new(bytes, syntax);
        let mut segment = Segment::default();
        let mut out = Vec::new();
        loop {
            match reader.next(&mut segment).await {
                Ok(true) => {
                    let elements: Vec<String> = (1..=segment.len())
                        .map(|e| {
                            (0..)
                                .map_while(|c| segment.component(e, c))
                                .map(|c| String::from_utf8_lossy(c).into_owned())
                                .collect::<Vec<_>>()
                                .join(":")
                        })
                        .collect();
                    out.push((
                        String::from_utf8_lossy(segment.tag()).into_owned(),
                        segment.line,
                        segment.byte,
                        elements.join("|"),
                    ));
                }
                Ok(false) => return (out, None),
                Err(err) => return (out, Some(err)),
            }
        }
    }

    #[tokio::test]
    async fn x12_delimiters_come_from_each_isa() {
        let first = "ISA|00|          |00|          |ZZ|CARRIERX       |ZZ|SHIPPERY       |250314|0930|U|00401|000000101|0|P|^\n\
                     GS|QM|CARRIERX|SHIPPERY|20250314|0930|101|X|004010\n\
                     AT7|X1|NS|||20250313|1420|CT\n\
                     MS1|CHICAGO^WEST|IL\n\
                     IEA|1|000000101\n";
        let second = "ISA*00*          *00*          *ZZ*CARRIERX       *ZZ*SHIPPERY       *250315*0930*^*00501*000000102*0*P*>~\r\n\
                      AT7*D1*NS***20250314*0912*ET~\r\nIEA*1*000000102~\r\n";
        let file = format!("{first}{second}");
        let (segments, end) = read_all(Syntax::X12, file.as_bytes()).await;
        assert!(end.is_none(), "{end:?}");
        let at = |needle: &str| file.find(needle).unwrap() as u64;
        let tags: Vec<(&str, u64, u64)> = segments
            .iter()
            .map(|(t, l, b, _)| (t.as_str(), *l, *b))
            .collect();
        assert_eq!(
            tags,
            [
                ("ISA", 1, 0),
                ("GS", 2, at("GS|")),
                ("AT7", 3, at("AT7|")),
                ("MS1", 4, at("MS1|")),
                ("IEA", 5, at("IEA|")),
                ("ISA", 6, at("ISA*")),
                ("AT7", 7, at("AT7*")),
                ("IEA", 8, at("IEA*")),
            ]
        );
        assert_eq!(segments[2].3, "X1|NS|||20250313|1420|CT");
        assert_eq!(segments[3].3, "CHICAGO:WEST|IL");
        assert_eq!(segments[6].3, "D1|NS|||20250314|0912|ET");
    }

    #[tokio::test]
    async fn edifact_una_release_characters_and_defaults() {
        let with_una = "UNA:+.? '\nUNB+UNOC:3+CARRIERX:ZZ+SHIPPERY:ZZ+250314:0930+IC0001'\n\
                        FTX+AAI+++Left at reception?: desk 2?'s'\nDTM+334:202503140912?+0100:205'\n";
        let (segments, end) = read_all(Syntax::Edifact, with_una.as_bytes()).await;
        assert!(end.is_none(), "{end:?}");
        assert_eq!(
            segments.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            ["UNB", "FTX", "DTM"]
        );
        assert_eq!(segments[0].1, 2);
        assert_eq!(segments[1].3, "AAI|||Left at reception: desk 2's");
        assert_eq!(segments[2].3, "334:202503140912+0100:205");

        let custom = "UNA|*,!^~UNH*1*IFTSTA|D|01B|UN~STS*1*21|||Held!*x~";
        let (segments, _) = read_all(Syntax::Edifact, custom.as_bytes()).await;
        assert_eq!(segments[0].3, "1|IFTSTA:D:01B:UN");
        assert_eq!(segments[1].3, "1|21:::Held*x");

        let defaults = "UNB+UNOA:2+A+B+250314:0930+1'UNH+1+IFTSTA:D:01B:UN'";
        let (segments, _) = read_all(Syntax::Edifact, defaults.as_bytes()).await;
        assert_eq!(segments[1].3, "1|IFTSTA:D:01B:UN");
    }

    #[tokio::test]
    async fn broken_interchanges_fail_with_their_position() {
        let short_isa = "ISA*00*  *00*~\nGS*QM~";
        let (_, end) = read_all(Syntax::X12, short_isa.as_bytes()).await;
        let err = end.unwrap().to_string();
        assert!(
            err.contains("the ISA segment is 21 characters, not 106"),
            "{err}"
        );

        let no_isa = "GS*QM*A*B~";
        let (_, end) = read_all(Syntax::X12, no_isa.as_bytes()).await;
        assert!(end.unwrap().to_string().contains("starts with an ISA"));

        // A released terminator is data: the segment runs on to the next real one, and a file
        // that ends inside a segment is truncated.
        let truncated = "UNH+1+IFTSTA'\nFTX+AAI+end?'\nUNT+2+1";
        let (segments, end) = read_all(Syntax::Edifact, truncated.as_bytes()).await;
        assert_eq!(segments.len(), 1);
        match end {
            Some(ReadError::Malformed {
                format,
                line,
                byte,
                reason,
            }) => {
                assert_eq!((format, line, byte), ("EDIFACT", 2, 14));
                assert!(reason.contains("ends inside a segment"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
