//! X12 and EDIFACT interchanges as trees, so that EDI profiles are paths like XML's: each
//! segment is a node named by its tag, its elements are attributes (`@01`, and `@02.4` for the
//! fourth component of a composite), and segments nest by the envelopes and loops of the status
//! messages: ISA > GS > ST > LX (0200) > AT7 (0205, with its MS1, MS2) for X12 214, and
//! UNB > UNH > CNI (SG4) > STS (SG5) for EDIFACT IFTSTA. A message's records are held until its
//! trailer (SE, UNT), whose control count and reference must match, or they are rejected. A segment that belongs to no
//! open loop closes loops until one takes it, as an EDI parser reads loops by their first
//! segment. EDIFACT text in UNOA/UNOB/UNOC (ISO-8859-1) is decoded to UTF-8; X12 text is UTF-8,
//! and a byte that is not is kept as ISO-8859-1.

use std::borrow::Cow;

use csv_async::ByteRecord;
use tokio::io::AsyncRead;

use super::Assembler;
use crate::error::{Position, ReadError};
use crate::profile::{Format, Profile};
use crate::reader::Record;
use crate::reader::edi::{Segment, SegmentReader, Syntax};

/// Segments that open a node and keep it open until their closing segment or loop's end.
struct Container {
    tag: &'static [u8],
    /// Containers it may sit in (closed down to one of these before it opens).
    parents: &'static [&'static [u8]],
    /// The segment that closes it (an envelope's trailer), if any.
    closed_by: Option<&'static [u8]>,
    /// The only leaf segments it holds; `None` holds any.
    members: Option<&'static [&'static [u8]]>,
}

const X12: &[Container] = &[
    envelope(b"ISA", &[b""], b"IEA"),
    envelope(b"GS", &[b"ISA"], b"GE"),
    envelope(b"ST", &[b"GS"], b"SE"),
    loop_of(b"LX", &[b"ST"], None),
    loop_of(b"AT7", &[b"LX", b"ST"], Some(&[b"MS1", b"MS2"])),
];

/// Functional groups (UNG … UNE) are optional in EDIFACT: they are leaves, so a message sits
/// at `UNB/UNH` with or without them.
const EDIFACT: &[Container] = &[
    envelope(b"UNB", &[b""], b"UNZ"),
    envelope(b"UNH", &[b"UNB"], b"UNT"),
    loop_of(b"CNI", &[b"UNH"], None),
    loop_of(b"STS", &[b"CNI", b"UNH"], None),
];

const fn envelope(
    tag: &'static [u8],
    parents: &'static [&'static [u8]],
    closed_by: &'static [u8],
) -> Container {
    Container {
        tag,
        parents,
        closed_by: Some(closed_by),
        members: None,
    }
}

const fn loop_of(
    tag: &'static [u8],
    parents: &'static [&'static [u8]],
    members: Option<&'static [&'static [u8]]>,
) -> Container {
    Container {
        tag,
        parents,
        closed_by: None,
        members,
    }
}

/// A message (an X12 transaction set, an EDIFACT message) being read.
struct Message {
    /// Its header's control reference (ST-02, UNH-01), which the trailer repeats.
    reference: Vec<u8>,
    /// Segments so far, header included.
    segments: u64,
    /// Records numbered before it: its own come after.
    first_before: u64,
}

/// A kind of envelope around messages: an X12 interchange or functional group, an EDIFACT
/// interchange or group.
struct EnvelopeKind {
    syntax: Syntax,
    /// A group (GS, UNG) sits inside an interchange (ISA, UNB).
    group: bool,
    header: &'static [u8],
    trailer: &'static str,
    name: &'static str,
    /// What its trailer counts.
    counts: &'static str,
    /// Where its header's control reference is (ISA-13, GS-06, UNB-05, UNG-05), which the
    /// trailer repeats.
    reference_at: usize,
}

const ENVELOPES: &[EnvelopeKind] = &[
    EnvelopeKind {
        syntax: Syntax::X12,
        group: false,
        header: b"ISA",
        trailer: "IEA",
        name: "interchange",
        counts: "functional groups",
        reference_at: 13,
    },
    EnvelopeKind {
        syntax: Syntax::X12,
        group: true,
        header: b"GS",
        trailer: "GE",
        name: "functional group",
        counts: "transaction sets",
        reference_at: 6,
    },
    EnvelopeKind {
        syntax: Syntax::Edifact,
        group: false,
        header: b"UNB",
        trailer: "UNZ",
        name: "interchange",
        counts: "messages",
        reference_at: 5,
    },
    EnvelopeKind {
        syntax: Syntax::Edifact,
        group: true,
        header: b"UNG",
        trailer: "UNE",
        name: "group",
        counts: "messages",
        reference_at: 5,
    },
];

/// An envelope being read: its trailer must count what it held.
struct Envelope {
    kind: &'static EnvelopeKind,
    reference: Vec<u8>,
    /// Messages (transaction sets) directly inside it.
    messages: u64,
    /// Groups inside it.
    groups: u64,
}

impl Envelope {
    /// What its trailer should say: an X12 interchange counts its groups, an EDIFACT one its
    /// groups when it has any, else its messages.
    fn count(&self) -> (u64, &'static str) {
        match (self.kind.header, self.groups) {
            (b"ISA", n) => (n, self.kind.counts),
            (b"UNB", n) if n > 0 => (n, "groups"),
            _ => (self.messages, self.kind.counts),
        }
    }

    /// Why `trailer` does not close this envelope as it should, if it does not: an envelope
    /// inside it still open (`unclosed`), a count or a reference that is not the envelope's.
    fn disagreement(&self, trailer: &Segment, unclosed: Option<&Envelope>) -> Option<String> {
        let kind = self.kind;
        let (count, of) = self.count();
        let said = trailer.element(1).unwrap_or_default();
        Some(if let Some(inner) = unclosed {
            format!(
                "{} closes the {} while its {} has no {} trailer",
                kind.trailer, kind.name, inner.kind.name, inner.kind.trailer
            )
        } else if parse_count(said) != Some(count) {
            format!(
                "{}-01 says {} {of}, the {} has {count}",
                kind.trailer,
                String::from_utf8_lossy(said),
                kind.name,
            )
        } else if trailer.element(2).unwrap_or_default() != self.reference.as_slice() {
            format!(
                "{}-02 does not repeat the {}'s control reference {:?}",
                kind.trailer,
                kind.name,
                String::from_utf8_lossy(&self.reference),
            )
        } else {
            return None;
        })
    }
}

/// A message's header and trailer tags, and the element of the header holding its reference
/// (ST-02, UNH-01), which the trailer repeats.
fn message_tags(syntax: Syntax) -> (&'static [u8], &'static [u8], usize) {
    match syntax {
        Syntax::X12 => (b"ST", b"SE", 2),
        Syntax::Edifact => (b"UNH", b"UNT", 1),
    }
}

/// A control count: digits, leading zeros allowed.
fn parse_count(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.trim().parse().ok()
}

/// Streams records out of an EDI interchange.
pub struct EdiReader<R> {
    segments: SegmentReader<R>,
    syntax: Syntax,
    containers: &'static [Container],
    /// Open containers, outermost first (indexes into `containers`).
    open: Vec<usize>,
    assembler: Assembler,
    segment: Segment,
    /// The message (transaction set) being read, until its trailer.
    message: Option<Message>,
    /// Envelopes open around the message, outermost first.
    envelopes: Vec<Envelope>,
    /// The first envelope trailer whose count or reference disagreed: the file fails with it
    /// once every message after it has been read (each message vouches for its own records).
    control: Option<ReadError>,
    /// Text is ISO-8859-1 (EDIFACT's UNOA–UNOC, the default), not UTF-8 (UNOW, UNOY, X12).
    latin1: bool,
}

impl<R: AsyncRead + Unpin + Send> EdiReader<R> {
    pub fn new(reader: R, profile: &Profile) -> Self {
        let (syntax, containers) = match profile.format {
            Format::Edifact => (Syntax::Edifact, EDIFACT),
            _ => (Syntax::X12, X12),
        };
        let mut assembler = Assembler::new(profile);
        // A message's records wait for its trailer, which may reject them.
        assembler.hold_at_most(match syntax {
            Syntax::X12 => 3,
            Syntax::Edifact => 2,
        });
        // The document node: interchanges are depth 1, named by `record`'s first step.
        assembler.open("", &mut |_| None, Position::default());
        EdiReader {
            segments: SegmentReader::new(reader, syntax),
            syntax,
            containers,
            open: Vec::new(),
            assembler,
            segment: Segment::default(),
            message: None,
            envelopes: Vec::new(),
            control: None,
            latin1: syntax == Syntax::Edifact,
        }
    }

    pub fn headers(&self) -> ByteRecord {
        self.assembler.headers()
    }

    /// Reads the next record into `out`; `false` at the end of the interchange(s).
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        loop {
            if let Some(result) = self.assembler.next(out) {
                return result;
            }
            match self.segments.next(&mut self.segment).await {
                Ok(true) => self.place(),
                Ok(false) => self.end(),
                Err(err) => self.assembler.fail(err),
            }
        }
    }

    /// The file ended: every envelope must have been closed by its trailer, and have counted
    /// what it held.
    fn end(&mut self) {
        self.assembler.end();
        // The first envelope that went wrong is the file's error, before any truncation after it.
        if let Some(err) = self.control.take() {
            self.assembler.fail(err);
            return;
        }
        if let Some(&open) = self.open.last() {
            let tag = String::from_utf8_lossy(self.containers[open].tag).into_owned();
            self.assembler.fail(ReadError::Malformed {
                format: self.syntax.name(),
                line: self.segment.line,
                byte: self.segment.byte,
                reason: format!(
                    "the interchange ends inside `{tag}`: its trailer is missing (a truncated file)"
                ),
            });
        }
    }

    /// Opens, closes or adds the segment just read where the envelopes and loops put it.
    fn place(&mut self) {
        if self.segment.tag() == b"UNB" {
            // UNB-01.1, the syntax identifier, names the character set.
            self.latin1 = !matches!(self.segment.element(1), Some(b"UNOW" | b"UNOY"));
        }
        self.count_message();
        self.count_envelope();
        let tag = self.segment.tag();
        if let Some(closing) = self
            .open
            .iter()
            .rposition(|&c| self.containers[c].closed_by == Some(tag))
        {
            close_to(&mut self.open, &mut self.assembler, closing + 1);
            self.leaf();
            close_to(&mut self.open, &mut self.assembler, closing);
            return;
        }
        if let Some(index) = self.containers.iter().position(|c| c.tag == tag) {
            let parents = self.containers[index].parents;
            let depth = self
                .open
                .iter()
                .rposition(|&c| parents.contains(&self.containers[c].tag))
                .map_or(0, |at| at + 1);
            close_to(&mut self.open, &mut self.assembler, depth);
            self.open_segment();
            self.open.push(index);
            return;
        }
        while let Some(&top) = self.open.last() {
            match self.containers[top].members {
                Some(members) if !members.contains(&tag) => {
                    let depth = self.open.len() - 1;
                    close_to(&mut self.open, &mut self.assembler, depth);
                }
                _ => break,
            }
        }
        self.leaf();
    }

    /// Counts the segment into its message. At the trailer (SE, UNT), the count and the
    /// reference it gives must be the message's, or its records are rejected saying so.
    fn count_message(&mut self) {
        let (header, trailer, reference_at) = message_tags(self.syntax);
        let tag = self.segment.tag();
        let trailer_name = String::from_utf8_lossy(trailer);
        let envelope = ENVELOPES
            .iter()
            .any(|k| k.syntax == self.syntax && (k.header == tag || k.trailer.as_bytes() == tag));
        if let Some(open) = &self.message
            && (tag == header || envelope)
        {
            // The message ended without its trailer: nothing vouches for its records.
            let reason = format!(
                "the message ends without its {trailer_name} trailer: its records are not read"
            );
            self.assembler.reject_pending(open.first_before, &reason);
            self.message = None;
        }
        if tag == header {
            self.message = Some(Message {
                reference: self
                    .segment
                    .element(reference_at)
                    .unwrap_or_default()
                    .to_vec(),
                segments: 1,
                first_before: self.assembler.records(),
            });
            return;
        }
        let Some(message) = &mut self.message else {
            return;
        };
        message.segments += 1;
        if tag != trailer {
            return;
        }
        let said = self.segment.element(1).unwrap_or_default();
        let count = message.segments;
        let reason = if parse_count(said) != Some(count) {
            Some(format!(
                "{trailer_name}-01 says {} segments, the message has {count}: its records are not read",
                String::from_utf8_lossy(said),
            ))
        } else if self.segment.element(2).unwrap_or_default() != message.reference.as_slice() {
            Some(format!(
                "{trailer_name}-02 does not repeat the message's reference {:?}: its records are not read",
                String::from_utf8_lossy(&message.reference),
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            self.assembler.reject_pending(message.first_before, &reason);
        }
        self.message = None;
    }

    /// Counts messages and groups into their envelopes. At an envelope's trailer (GE, IEA,
    /// UNE, UNZ), the count and reference must be the envelope's; the first that is not fails the
    /// file at its end. The messages inside were each checked by their own trailer and are
    /// sent; an envelope is not held whole, which could be the whole file.
    fn count_envelope(&mut self) {
        let tag = self.segment.tag();
        if tag == message_tags(self.syntax).0 {
            if let Some(envelope) = self.envelopes.last_mut() {
                envelope.messages += 1;
            }
            return;
        }
        if let Some(kind) = ENVELOPES
            .iter()
            .find(|k| k.syntax == self.syntax && k.header == tag)
        {
            // An interchange opens at the top, a group in its interchange: anything still open
            // at that level lacks its trailer.
            let depth = usize::from(kind.group);
            if let Some(unclosed) = self.envelopes.get(depth) {
                let reason = format!(
                    "{} opens while the {} before it has no {} trailer",
                    String::from_utf8_lossy(kind.header),
                    unclosed.kind.name,
                    unclosed.kind.trailer
                );
                self.control_error(reason);
                self.envelopes.truncate(depth);
            }
            if let Some(outer) = self.envelopes.last_mut() {
                outer.groups += 1;
            }
            let reference = self.segment.element(kind.reference_at).unwrap_or_default();
            self.envelopes.push(Envelope {
                kind,
                reference: reference.to_vec(),
                messages: 0,
                groups: 0,
            });
            return;
        }
        let Some(at) = self
            .envelopes
            .iter()
            .rposition(|e| e.kind.trailer.as_bytes() == tag)
        else {
            return;
        };
        let mut closed = self.envelopes.split_off(at);
        let envelope = closed.remove(0);
        if let Some(reason) = envelope.disagreement(&self.segment, closed.first()) {
            self.control_error(reason);
        }
    }

    /// Keeps the first envelope error, at the segment just read, for the end of the file.
    fn control_error(&mut self, reason: String) {
        self.control.get_or_insert(ReadError::Malformed {
            format: self.syntax.name(),
            line: self.segment.line,
            byte: self.segment.byte,
            reason,
        });
    }

    fn leaf(&mut self) {
        self.open_segment();
        self.assembler.close();
    }

    fn open_segment(&mut self) {
        let segment = &self.segment;
        let latin1 = self.latin1;
        let position = Position {
            record: 0,
            line: segment.line,
            byte: segment.byte,
        };
        let tag = text(segment.tag(), latin1);
        let mut attribute = |name: &str| attribute(segment, name, latin1);
        self.assembler.open(&tag, &mut attribute, position);
    }
}

/// Closes open containers until `depth` remain.
fn close_to(open: &mut Vec<usize>, assembler: &mut Assembler, depth: usize) {
    while open.len() > depth {
        open.pop();
        assembler.close();
    }
}

/// `@05` is element 5; `@02.4` the fourth component of element 2. Borrowed from the segment
/// unless it needs decoding.
fn attribute<'s>(segment: &'s Segment, name: &str, latin1: bool) -> Option<Cow<'s, str>> {
    let (element, component) = match name.split_once('.') {
        Some((e, c)) => (e, c.parse::<usize>().ok()?.checked_sub(1)?),
        None => (name, 0),
    };
    let value = segment.component(element.parse().ok()?, component)?;
    Some(text(value, latin1))
}

/// EDI text as UTF-8: ISO-8859-1 maps each byte to the character of that number; UTF-8 text
/// that is not valid is read as ISO-8859-1 too.
fn text(bytes: &[u8], latin1: bool) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !latin1 || bytes.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}
