//! Whole JSON documents (a top-level array, or shipments each holding their events), streamed
//! with `actson`, a push parser, into the [`Assembler`].
//!
//! Arrays are transparent: each element of an array under key `events` is a node named
//! `events`, and each element of a top-level array is a root node. Scalars are their text as
//! written (numbers and booleans), `null` is empty. Nothing is held but the profile's values:
//! a 1 GB document streams like a 1 KB one.

use actson::feeder::JsonFeeder;
use actson::options::JsonParserOptionsBuilder;
use actson::{JsonEvent, JsonParser};
use csv_async::ByteRecord;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Assembler;
use crate::error::{Position, ReadError};
use crate::profile::Profile;
use crate::reader::Record;
use crate::reader::bounds::MAX_RECORD_BYTES;

/// Nesting deeper than this fails the file.
const MAX_DEPTH: usize = 256;

const CHUNK_BYTES: usize = 64 * 1024;

/// Streams records out of a JSON document.
pub struct JsonDocumentReader<R> {
    inner: R,
    parser: JsonParser<Chunk>,
    assembler: Assembler,
    /// Open arrays and objects; an array remembers the name its elements take.
    containers: Vec<Container>,
    /// The key just read, naming the value that follows.
    key: String,
    /// Bytes parsed when the last event came: a longer stretch without one is a value too long
    /// to hold.
    last_event: usize,
    seen_value: bool,
    /// A skipped byte-order mark, counted back into positions.
    bom: usize,
}

enum Container {
    Object,
    Array { name: String },
}

/// The bytes of one read, handed to the parser one at a time, counting lines.
#[derive(Default)]
struct Chunk {
    buf: Vec<u8>,
    at: usize,
    eof: bool,
    lines: u64,
}

impl JsonFeeder for Chunk {
    fn has_input(&self) -> bool {
        self.at < self.buf.len()
    }

    fn is_done(&self) -> bool {
        self.eof && !self.has_input()
    }

    fn next_input(&mut self) -> Option<u8> {
        let byte = *self.buf.get(self.at)?;
        self.at += 1;
        if byte == b'\n' {
            self.lines += 1;
        }
        Some(byte)
    }
}

impl<R: AsyncRead + Unpin + Send> JsonDocumentReader<R> {
    pub fn new(reader: R, profile: &Profile) -> Self {
        JsonDocumentReader {
            inner: reader,
            parser: JsonParser::new_with_options(
                Chunk::default(),
                JsonParserOptionsBuilder::default()
                    .with_max_depth(MAX_DEPTH)
                    .build(),
            ),
            assembler: Assembler::new(profile),
            containers: Vec::new(),
            key: String::new(),
            last_event: 0,
            seen_value: false,
            bom: 0,
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

    /// Where the parser is: its line and the byte just parsed.
    fn here(&self) -> Position {
        Position {
            record: 0,
            line: self.parser.feeder.lines + 1,
            byte: (self.parser.parsed_bytes() + self.bom).saturating_sub(1) as u64,
        }
    }

    fn malformed(&self, reason: String) -> ReadError {
        let here = self.here();
        ReadError::Malformed {
            format: "JSON",
            line: here.line,
            byte: here.byte,
            reason,
        }
    }

    /// Parses up to the next event and feeds it to the assembler.
    async fn step(&mut self) -> Result<(), ReadError> {
        let event = match self.parser.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => {
                self.assembler.end();
                return if self.seen_value {
                    Ok(())
                } else {
                    Err(self.malformed("no JSON value (an empty file)".into()))
                };
            }
            Err(actson::parser::ParserError::NoMoreInput) => {
                let reason = if self.seen_value {
                    "the document ends early (a truncated file)"
                } else {
                    "no JSON value (an empty file)"
                };
                return Err(self.malformed(reason.into()));
            }
            Err(err) => return Err(self.malformed(err.to_string())),
        };
        if event == JsonEvent::NeedMoreInput {
            return self.fill().await;
        }
        self.last_event = self.parser.parsed_bytes();
        self.event(event);
        Ok(())
    }

    /// Reads the next chunk of the file for the parser.
    async fn fill(&mut self) -> Result<(), ReadError> {
        if self.parser.parsed_bytes() - self.last_event > MAX_RECORD_BYTES as usize {
            return Err(self.malformed(format!(
                "a single value longer than {MAX_RECORD_BYTES} bytes"
            )));
        }
        let position = self.here();
        let chunk = &mut self.parser.feeder;
        let first = chunk.buf.is_empty() && !chunk.eof && chunk.lines == 0;
        chunk.buf.resize(CHUNK_BYTES, 0);
        chunk.at = 0;
        let n = match self.inner.read(&mut chunk.buf).await {
            Ok(n) => n,
            Err(source) => {
                chunk.buf.clear();
                return Err(ReadError::Io { position, source });
            }
        };
        chunk.buf.truncate(n);
        chunk.eof = n == 0;
        // RFC 8259 allows a parser to ignore a byte-order mark.
        if first && chunk.buf.starts_with(b"\xEF\xBB\xBF") {
            chunk.at = 3;
            self.bom = 3;
        }
        Ok(())
    }

    fn event(&mut self, event: JsonEvent) {
        match event {
            JsonEvent::FieldName => {
                self.key.clear();
                self.key.push_str(self.parser.current_str().unwrap_or(""));
            }
            JsonEvent::StartObject => {
                self.open_value();
                self.containers.push(Container::Object);
            }
            JsonEvent::StartArray => {
                self.seen_value = true;
                let name = value_name(&self.containers, &self.key).to_owned();
                self.containers.push(Container::Array { name });
            }
            JsonEvent::EndObject => {
                self.containers.pop();
                self.assembler.close();
            }
            JsonEvent::EndArray => {
                self.containers.pop();
            }
            JsonEvent::ValueString
            | JsonEvent::ValueInt
            | JsonEvent::ValueFloat
            | JsonEvent::ValueTrue
            | JsonEvent::ValueFalse
            | JsonEvent::ValueNull => {
                self.open_value();
                // Numbers as written, booleans as words, null as empty; a string that is not
                // UTF-8 is marked, not guessed.
                let (text, invalid) = match event {
                    JsonEvent::ValueTrue => ("true", false),
                    JsonEvent::ValueFalse => ("false", false),
                    JsonEvent::ValueNull => ("", false),
                    _ => match self.parser.current_str() {
                        Ok(text) => (text, false),
                        Err(_) => ("", true),
                    },
                };
                self.assembler.text(text, invalid);
                self.assembler.close();
            }
            JsonEvent::NeedMoreInput => {}
        }
    }

    /// A value that is a node (an object or a scalar) starts.
    fn open_value(&mut self) {
        self.seen_value = true;
        let position = self.here();
        let name = value_name(&self.containers, &self.key);
        self.assembler.open(name, &mut |_| None, position);
    }
}

/// The name of the value starting now: its key, its array's name, or none at the root.
fn value_name<'a>(containers: &'a [Container], key: &'a str) -> &'a str {
    match containers.last() {
        Some(Container::Object) => key,
        Some(Container::Array { name }) => name,
        None => "",
    }
}
