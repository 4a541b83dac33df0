//! XML carrier files, streamed with `quick-xml` into the [`Assembler`].
//!
//! Safe by construction: `quick-xml` never loads a DTD nor expands an entity it was not told
//! about, and a DOCTYPE that declares entities fails the file (`InvalidFile`), so neither an
//! external entity (XXE) nor an expansion bomb can make a carrier file read, reach or grow
//! anything. Only the five predefined entities and character references are decoded.
//!
//! The declared encoding is honoured: a single-byte one (windows-1252, ISO-8859-1, …) is
//! transcoded to UTF-8 on the way in by [`Transcode`], which maps positions back to the file's
//! own bytes. Lines are counted in the events' raw text.

use std::pin::Pin;
use std::task::{Context, Poll};

use csv_async::ByteRecord;
use encoding_rs::Encoding;
use quick_xml::events::{BytesStart, Event};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader, ReadBuf};

use super::Assembler;
use crate::error::{Position, ReadError};
use crate::profile::{Profile, TextEncoding};
use crate::reader::Record;
use crate::reader::bounds::MAX_RECORD_BYTES;

/// Nesting deeper than this fails the file: no carrier's status file needs it, and each level
/// costs memory.
const MAX_DEPTH: usize = 256;

/// How much of the file's start is searched for the XML declaration.
const PROLOG_BYTES: usize = 1024;

/// Streams records out of an XML document.
pub struct XmlReader<R> {
    state: State<R>,
    assembler: Assembler,
    default_encoding: TextEncoding,
    buf: Vec<u8>,
    /// Lines before the current event's start.
    lines: u64,
    root_seen: bool,
}

enum State<R> {
    /// Not started: the prolog is read first, for the encoding.
    Start(Option<R>),
    Reading(Box<quick_xml::Reader<BufReader<Transcode<R>>>>),
}

impl<R: AsyncRead + Unpin + Send> XmlReader<R> {
    pub fn new(reader: R, profile: &Profile) -> Self {
        XmlReader {
            state: State::Start(Some(reader)),
            assembler: Assembler::new(profile),
            default_encoding: profile.encoding,
            buf: Vec::new(),
            lines: 0,
            root_seen: false,
        }
    }

    pub fn headers(&self) -> ByteRecord {
        self.assembler.headers()
    }

    /// Reads the next record into `out`; `false` at the end of the document.
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        loop {
            if let Some(result) = self.assembler.next(out) {
                return result;
            }
            if let Err(err) = self.step().await {
                self.assembler.fail(err);
            }
        }
    }

    /// Reads one event and feeds it to the assembler.
    async fn step(&mut self) -> Result<(), ReadError> {
        let reader = match &mut self.state {
            State::Reading(reader) => reader,
            State::Start(inner) => {
                let inner = inner.take().expect("started once");
                let transcode = Transcode::start(inner, self.default_encoding).await?;
                let mut reader = quick_xml::Reader::from_reader(BufReader::new(transcode));
                reader.config_mut().check_end_names = true;
                self.state = State::Reading(Box::new(reader));
                // The document node: the root element is depth 1, named by `record`'s first step.
                self.assembler.open("", &mut |_| None, Position::default());
                return Ok(());
            }
        };
        let start = reader.buffer_position();
        let transcode = reader.get_mut().get_mut();
        transcode.event_start = start;
        let byte = transcode.file_offset(start);
        let position = Position {
            record: 0,
            line: self.lines + 1,
            byte,
        };
        self.buf.clear();
        let event = match reader.read_event_into_async(&mut self.buf).await {
            Ok(event) => event,
            Err(quick_xml::Error::Io(_)) if reader.get_ref().get_ref().too_long => {
                self.buf = Vec::new();
                return Err(malformed(
                    position.line,
                    position.byte,
                    format!("one text, tag or comment is longer than {MAX_RECORD_BYTES} bytes"),
                ));
            }
            Err(quick_xml::Error::Io(io)) => {
                let source = std::sync::Arc::try_unwrap(io).unwrap_or_else(|shared| {
                    std::io::Error::new(shared.kind(), shared.to_string())
                });
                return Err(ReadError::Io { position, source });
            }
            Err(err) => {
                let at = reader.error_position();
                let skipped = self.buf.len().min(at.saturating_sub(start) as usize);
                let lines = memchr::memchr_iter(b'\n', &self.buf[..skipped]).count() as u64;
                let byte = reader.get_mut().get_mut().file_offset(at);
                return Err(malformed(position.line + lines, byte, err.to_string()));
            }
        };
        self.lines += newlines(&event);
        feed(&mut self.assembler, &mut self.root_seen, event, position)
    }
}

/// One event into the assembler (the end of the document ends it), or why the document is not
/// well-formed.
fn feed(
    assembler: &mut Assembler,
    root_seen: &mut bool,
    event: Event<'_>,
    position: Position,
) -> Result<(), ReadError> {
    let bad = |reason: String| malformed(position.line, position.byte, reason);
    match event {
        Event::Start(start) | Event::Empty(start) if assembler.depth() == Some(0) && *root_seen => {
            return Err(bad(format!(
                "a second root element `<{}>`",
                crate::error::excerpt(start.name().as_ref())
            )));
        }
        Event::Start(start) => open(assembler, root_seen, &start, position)?,
        Event::Empty(start) => {
            open(assembler, root_seen, &start, position)?;
            assembler.close();
        }
        Event::End(_) => assembler.close(),
        Event::Text(text) => assembler.text(&text.xml10_content(), false),
        Event::CData(data) => assembler.text(&data.xml10_content(), false),
        Event::GeneralRef(reference) => {
            let resolved = match reference.resolve_char_ref() {
                Ok(Some(c)) => c,
                Ok(None) => match predefined(&reference) {
                    Some(c) => c,
                    None => {
                        return Err(bad(format!(
                            "undefined entity `&{};` (only XML's five and character references are read)",
                            crate::error::excerpt(&reference)
                        )));
                    }
                },
                Err(err) => return Err(bad(err.to_string())),
            };
            assembler.text(resolved.encode_utf8(&mut [0; 4]), false);
        }
        Event::DocType(doctype) if doctype.contains("<!ENTITY") => {
            return Err(bad(
                "the DOCTYPE declares entities; DTDs and entities are never loaded or expanded"
                    .into(),
            ));
        }
        Event::Eof => end_of_document(assembler, *root_seen, position)?,
        Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
    }
    Ok(())
}

/// A start tag: its local name and attributes into the assembler.
fn open(
    assembler: &mut Assembler,
    root_seen: &mut bool,
    start: &BytesStart<'_>,
    position: Position,
) -> Result<(), ReadError> {
    if assembler.depth().is_some_and(|d| d >= MAX_DEPTH) {
        return Err(malformed(
            position.line,
            position.byte,
            format!("elements nested deeper than {MAX_DEPTH}"),
        ));
    }
    *root_seen = true;
    let mut broken = None;
    let mut attribute = |wanted: &str| -> Option<std::borrow::Cow<'_, str>> {
        for attr in start.attributes() {
            let attr = match attr {
                Ok(attr) => attr,
                Err(err) => {
                    broken = Some(err.to_string());
                    return None;
                }
            };
            // Namespace declarations are not attributes of the data.
            let key = attr.key.as_ref();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            if attr.key.local_name().as_ref() == wanted {
                return match attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
                    Ok(value) => Some(value.into_owned().into()),
                    Err(err) => {
                        broken = Some(err.to_string());
                        None
                    }
                };
            }
        }
        None
    };
    let name = start.local_name();
    assembler.open(name.as_ref(), &mut attribute, position);
    match broken {
        None => Ok(()),
        Some(reason) => Err(malformed(position.line, position.byte, reason)),
    }
}

fn end_of_document(
    assembler: &mut Assembler,
    root_seen: bool,
    position: Position,
) -> Result<(), ReadError> {
    let bad = |reason: &str| malformed(position.line, position.byte, reason.to_owned());
    if !root_seen {
        return Err(bad("no root element (an empty or truncated file)"));
    }
    if assembler.depth() != Some(0) {
        return Err(bad(
            "the document ends inside an element (a truncated file)",
        ));
    }
    assembler.end();
    Ok(())
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

fn malformed(line: u64, byte: u64, reason: String) -> ReadError {
    ReadError::Malformed {
        format: "XML",
        line,
        byte,
        reason,
    }
}

/// Newlines in an event's raw text: with the markup around it (which has none), every byte of
/// the document is in exactly one event.
fn newlines(event: &Event<'_>) -> u64 {
    let raw: &str = match event {
        Event::Start(e) | Event::Empty(e) => e,
        Event::End(e) => e,
        Event::Text(e) | Event::Comment(e) | Event::DocType(e) => e,
        Event::CData(e) => e,
        Event::Decl(e) => e,
        Event::PI(e) => e,
        Event::GeneralRef(e) => e,
        Event::Eof => "",
    };
    memchr::memchr_iter(b'\n', raw.as_bytes()).count() as u64
}

/// Bytes on their way to the XML parser: passed through when the document is UTF-8, else
/// decoded from a single-byte encoding, remembering where characters grew so positions can be
/// mapped back onto the file.
struct Transcode<R> {
    inner: R,
    decoder: Option<encoding_rs::Decoder>,
    /// Bytes read from the file and not yet handed on (the prolog, then each chunk).
    raw: Vec<u8>,
    raw_at: usize,
    decoded: Vec<u8>,
    decoded_at: usize,
    /// UTF-8 bytes produced so far.
    produced: u64,
    growth: GrowthMap,
    eof: bool,
    /// The decoder has been told the input ended; it decodes nothing more.
    finished: bool,
    /// Bytes handed to the parser, and where its current event started: one event may not
    /// make the parser buffer more than [`MAX_EVENT_BYTES`].
    handed: u64,
    event_start: u64,
    too_long: bool,
}

/// The most one XML event (a text, a tag, a comment, a DOCTYPE) may hold: quick-xml buffers an
/// event whole, so this bounds its memory. Beyond it the file fails.
const MAX_EVENT_BYTES: u64 = MAX_RECORD_BYTES + 1024 * 1024;

/// Where decoded characters took more bytes than the file's: (a `<` in the output, extra bytes
/// before it), oldest first.
#[derive(Default)]
struct GrowthMap {
    entries: std::collections::VecDeque<(u64, u64)>,
    /// Extra bytes of the entries already passed.
    base: u64,
    total: u64,
}

impl<R: AsyncRead + Unpin + Send> Transcode<R> {
    /// Reads the prolog and picks the encoding: the declaration's, else the profile's.
    async fn start(mut inner: R, default: TextEncoding) -> Result<Transcode<R>, ReadError> {
        let mut raw = Vec::with_capacity(PROLOG_BYTES);
        let io = |source| ReadError::Io {
            position: Position::default(),
            source,
        };
        while raw.len() < PROLOG_BYTES && !raw.windows(2).any(|w| w == b"?>") {
            let mut chunk = [0u8; 256];
            let n = inner.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
        let encoding = declared_encoding(&raw, default)?;
        Ok(Transcode {
            inner,
            decoder: encoding.map(Encoding::new_decoder_without_bom_handling),
            raw,
            raw_at: 0,
            decoded: Vec::new(),
            decoded_at: 0,
            produced: 0,
            growth: Default::default(),
            eof: false,
            finished: false,
            handed: 0,
            event_start: 0,
            too_long: false,
        })
    }

    /// The file offset of a position in the UTF-8 output; positions are asked in order.
    fn file_offset(&mut self, output: u64) -> u64 {
        let growth = &mut self.growth;
        while let Some(&(end, total)) = growth.entries.front() {
            if end > output {
                break;
            }
            growth.base = total;
            growth.entries.pop_front();
        }
        output - growth.base
    }

    /// Decodes the raw bytes held into `decoded`, noting where characters grew.
    fn decode(&mut self, last: bool) {
        let Some(decoder) = &mut self.decoder else {
            return;
        };
        let src = &self.raw[self.raw_at..];
        let room = decoder
            .max_utf8_buffer_length(src.len())
            .unwrap_or(src.len() * 3);
        self.decoded.clear();
        self.decoded.resize(room, 0);
        self.decoded_at = 0;
        let (_, read, written, _) = decoder.decode_to_utf8(src, &mut self.decoded, last);
        self.raw_at += read;
        self.decoded.truncate(written);
        let growth = &mut self.growth;
        // Positions are asked only where markup starts (`<`): one entry per tag, however
        // much accented text lies between.
        for (i, &b) in self.decoded.iter().enumerate() {
            match b {
                b'<' => growth
                    .entries
                    .push_back((self.produced + i as u64, growth.total)),
                0xF0.. => growth.total += 3,
                0xE0.. => growth.total += 2,
                0xC0.. => growth.total += 1,
                _ => {}
            }
        }
        self.produced += self.decoded.len() as u64;
        self.finished = last;
    }
}

impl<R: AsyncRead + Unpin + Send> AsyncRead for Transcode<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.handed > this.event_start + MAX_EVENT_BYTES {
            this.too_long = true;
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "an XML event longer than the limit",
            )));
        }
        let before = buf.filled().len();
        let poll = this.fill(cx, buf);
        this.handed += (buf.filled().len() - before) as u64;
        poll
    }
}

impl<R: AsyncRead + Unpin + Send> Transcode<R> {
    /// Hands the parser the next bytes: passed through, or decoded.
    fn fill(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self;
        loop {
            if this.decoder.is_none() && this.raw_at < this.raw.len() {
                let n = buf.remaining().min(this.raw.len() - this.raw_at);
                buf.put_slice(&this.raw[this.raw_at..this.raw_at + n]);
                this.raw_at += n;
                return Poll::Ready(Ok(()));
            }
            if this.decoder.is_none() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            if this.decoded_at < this.decoded.len() {
                let n = buf.remaining().min(this.decoded.len() - this.decoded_at);
                buf.put_slice(&this.decoded[this.decoded_at..this.decoded_at + n]);
                this.decoded_at += n;
                return Poll::Ready(Ok(()));
            }
            if this.finished {
                return Poll::Ready(Ok(()));
            }
            if this.raw_at < this.raw.len() || this.eof {
                let last = this.eof;
                this.decode(last);
                if this.decoded.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            this.raw.resize(64 * 1024, 0);
            this.raw_at = 0;
            let mut read = ReadBuf::new(&mut this.raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => {
                    this.raw.clear();
                    return Poll::Pending;
                }
                Poll::Ready(Err(err)) => {
                    this.raw.clear();
                    return Poll::Ready(Err(err));
                }
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    this.raw.truncate(n);
                    this.eof = n == 0;
                }
            }
        }
    }
}

/// The encoding named by the XML declaration at the start of `head`, else `default`: `None`
/// for UTF-8 (read as it is), or a single-byte decoder.
fn declared_encoding(
    head: &[u8],
    default: TextEncoding,
) -> Result<Option<&'static Encoding>, ReadError> {
    let bad = |reason: String| malformed(1, 0, reason);
    if head.starts_with(&[0xFE, 0xFF]) || head.starts_with(&[0xFF, 0xFE]) {
        return Err(bad("UTF-16 documents are not supported; send UTF-8".into()));
    }
    if head.starts_with(b"\xEF\xBB\xBF") {
        return Ok(None);
    }
    let label = head.strip_prefix(b"<?xml").and_then(|decl| {
        let end = decl.windows(2).position(|w| w == b"?>")?;
        let decl = &decl[..end];
        let at = decl.windows(8).position(|w| w == b"encoding")?;
        let rest = decl[at + 8..].trim_ascii_start().strip_prefix(b"=")?;
        let rest = rest.trim_ascii_start();
        let quote = *rest.first()?;
        let value = &rest[1..];
        Some(&value[..value.iter().position(|&b| b == quote)?])
    });
    let encoding = match label {
        None => return Ok(default.decoder()),
        Some(label) => Encoding::for_label(label).ok_or_else(|| {
            bad(format!(
                "unknown encoding {:?} in the XML declaration",
                String::from_utf8_lossy(label)
            ))
        })?,
    };
    if encoding == encoding_rs::UTF_8 {
        Ok(None)
    } else if encoding.is_single_byte() {
        Ok(Some(encoding))
    } else {
        Err(bad(format!(
            "encoding {} is not supported; send UTF-8 or a single-byte encoding such as windows-1252",
            encoding.name()
        )))
    }
}
