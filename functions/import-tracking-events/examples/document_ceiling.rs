//! The throughput ceiling for structured documents, as `csv_ceiling` is for CSV: the same parser
//! the import uses (`quick-xml` for XML, `actson` for JSON), reading the whole file and touching
//! every event, with nothing else; for X12, a bare split of the file at its segment terminator.
//! `scripts/bench-documents.sh` compares the import against it.
//!
//! ```text
//! cargo run --profile profiling --example document_ceiling -- xml|json|x12 FILE
//! ```
//!
//! Prints one JSON object: {"bytes":…,"events":…,"elapsed_ms":…,"mb_per_s":…}; events are the
//! closed `Event` elements (XML), the objects one level inside an array (JSON), or the AT7
//! segments (X12).

use std::time::Instant;

use actson::feeder::JsonFeeder;
use actson::{JsonEvent, JsonParser};
use quick_xml::events::Event;
use tokio::io::{AsyncReadExt, BufReader};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [format, path] = &args[..] else {
        eprintln!("usage: document_ceiling xml|json FILE");
        std::process::exit(2);
    };
    let started = Instant::now();
    let file = tokio::fs::File::open(path).await?;
    let bytes = file.metadata().await?.len();
    let events = match format.as_str() {
        "xml" => xml(file).await?,
        "json" => json(file).await?,
        "x12" => x12(file).await?,
        other => return Err(format!("unknown format {other}").into()),
    };
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{{\"bytes\":{bytes},\"events\":{events},\"elapsed_ms\":{},\"mb_per_s\":{:.1}}}",
        (elapsed * 1000.0) as u64,
        bytes as f64 / 1e6 / elapsed
    );
    Ok(())
}

async fn xml(file: tokio::fs::File) -> Result<u64, Box<dyn std::error::Error>> {
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(file));
    let mut buf = Vec::new();
    let mut events = 0;
    let mut text = 0usize;
    loop {
        buf.clear();
        match reader.read_event_into_async(&mut buf).await? {
            Event::End(end) if end.local_name().as_ref() == "Event" => events += 1,
            Event::Text(t) => text += t.len(),
            Event::Eof => break,
            _ => {}
        }
    }
    eprintln!("text bytes {text}");
    Ok(events)
}

/// Splits at the terminator (the ISA's 106th character) and counts the AT7 segments.
async fn x12(mut file: tokio::fs::File) -> Result<u64, Box<dyn std::error::Error>> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = [0u8; 106];
    file.read_exact(&mut head).await?;
    let terminator = head[105];
    let (mut events, mut segments) = (0u64, 1u64);
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        let mut start = 0;
        for end in memchr::memchr_iter(terminator, &carry) {
            let segment = carry[start..end].trim_ascii_start();
            segments += 1;
            if segment.starts_with(b"AT7") {
                events += 1;
            }
            start = end + 1;
        }
        carry.drain(..start);
    }
    eprintln!("segments {segments}");
    Ok(events)
}

#[derive(Default)]
struct Chunk {
    buf: Vec<u8>,
    at: usize,
    eof: bool,
}

impl JsonFeeder for Chunk {
    fn has_input(&self) -> bool {
        self.at < self.buf.len()
    }
    fn is_done(&self) -> bool {
        self.eof && !self.has_input()
    }
    fn next_input(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }
}

async fn json(mut file: tokio::fs::File) -> Result<u64, Box<dyn std::error::Error>> {
    let mut parser = JsonParser::new(Chunk::default());
    let (mut depth, mut events, mut text) = (0u32, 0u64, 0usize);
    while let Some(event) = parser.next_event()? {
        match event {
            JsonEvent::NeedMoreInput => {
                let chunk = &mut parser.feeder;
                chunk.buf.resize(64 * 1024, 0);
                chunk.at = 0;
                let n = file.read(&mut chunk.buf).await?;
                chunk.buf.truncate(n);
                chunk.eof = n == 0;
            }
            JsonEvent::StartObject | JsonEvent::StartArray => depth += 1,
            JsonEvent::EndObject => {
                depth -= 1;
                // Objects inside an events array: [ {shipment} -> events [ {event} ].
                if depth == 3 {
                    events += 1;
                }
            }
            JsonEvent::EndArray => depth -= 1,
            JsonEvent::ValueString | JsonEvent::FieldName => text += parser.current_str()?.len(),
            _ => {}
        }
    }
    eprintln!("text bytes {text}");
    Ok(events)
}
