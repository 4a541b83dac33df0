//! Records out of a document tree (XML, a JSON document), one node event at a time.
//!
//! The format readers turn their parser's events into `open` / `text` / `close` calls on an
//! [`Assembler`]; the assembler knows the profile's `record` path and column paths, and nothing
//! of XML or JSON. It streams: it keeps only the values the profile asks for, of the one ancestor
//! that the profile's `..` paths reach (the *hold*, e.g. one `Shipment`), and hands out a hold's
//! records when it closes, because an ancestor's value may come after its records. A hold whose
//! kept values outgrow [`MAX_RECORD_BYTES`] has its records rejected, and reading goes on.
//!
//! Depths: a JSON root value is depth 0 and its keys depth 1; an XML reader opens a nameless
//! document node at depth 0, so the root element is depth 1 and `record` paths start with its
//! name in both formats.

mod edi;
mod json;
#[cfg(test)]
mod tests;
mod xml;

pub use self::edi::EdiReader;
pub use self::json::JsonDocumentReader;
pub use self::xml::XmlReader;

use std::collections::VecDeque;
use std::sync::Arc;

use csv_async::ByteRecord;

use super::bounds::MAX_RECORD_BYTES;
use super::{Attributes, Record};
use crate::error::{Position, ReadError};
use crate::path::{ALTERNATIVES, Condition, NodePath};
use crate::profile::{Column, Format, Profile, record_depth};

/// What the size limit counts for each node kept: its record or loop, apart from its values.
const INSTANCE_BYTES: u64 = 64;

/// A value buffer larger than this is released, not reused, when its slot is.
const REUSED_TEXT_BYTES: usize = 64 * 1024;

/// A column path, compiled: which anchor it starts from, and the nodes below it.
#[derive(Debug, Clone)]
struct Anchored {
    steps: Vec<String>,
    attribute: Option<String>,
    /// The last step's condition on one of its attributes.
    predicate: Option<Condition>,
    column: usize,
}

impl Anchored {
    /// Whether the node just opened, below an anchor through `below`, is this path's node.
    fn matches(&self, below: &[Frame], attribute: &mut Attributes<'_>) -> bool {
        self.steps.len() == below.len()
            && self.steps.iter().zip(below).all(|(s, f)| *s == f.name)
            && self.predicate.as_ref().is_none_or(|c| c.holds(attribute))
    }
}

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The record (level 0) or its ancestor `level` up.
    Level(usize),
    /// A path from the root.
    Absolute,
}

/// The profile's paths, compiled for one document.
#[derive(Debug, Clone)]
struct Shape {
    /// Names at depths 1..=`record_depth` (XML `record = "."`: any root element).
    record: Vec<String>,
    record_depth: usize,
    any_root: bool,
    /// The depth of the hold: the highest ancestor a `..` path reaches.
    hold_depth: usize,
    /// Paths per level above the record (0 = the record itself).
    levels: Vec<Vec<Anchored>>,
    absolute: Vec<Anchored>,
    /// Per path (each has its slot), where it starts.
    sources: Vec<Source>,
    /// Per header: its paths' slots, the first with a value wins.
    outputs: Vec<Vec<usize>>,
    /// A header whose alternatives follow another's choice (`follower`, `leader`): the format
    /// code of `event_datetime` is read from the alternative its value came from.
    follows: Option<(usize, usize)>,
    /// The column paths as the profile wrote them: the records' header.
    headers: Vec<String>,
    format: Format,
    /// Why the records of a hold past the limit are rejected (it names the hold).
    oversized: Arc<str>,
    /// What a record's node must meet to be a record.
    condition: Option<Condition>,
    /// The depth of a document's top-level nodes: XML's root element and EDI's interchanges
    /// (1, under the document node), a JSON root value or top-level array element (0).
    top_depth: usize,
}

impl Shape {
    fn new(profile: &Profile) -> Shape {
        let record = profile.record.clone().unwrap_or_default();
        let record_depth = record_depth(profile.format, &record);
        let mut headers: Vec<String> = Vec::new();
        for column in profile.columns.values() {
            if let Column::Name(text) = column
                && !headers.contains(text)
            {
                headers.push(text.clone());
            }
        }
        let mut levels: Vec<Vec<Anchored>> = vec![Vec::new()];
        let mut absolute = Vec::new();
        let mut sources = Vec::new();
        let mut outputs = Vec::new();
        // Each header is one path, or alternatives (`a | b`): one slot per path.
        let paths = headers.iter().flat_map(|h| {
            outputs.push(Vec::new());
            let output = outputs.len() - 1;
            h.split(ALTERNATIVES).map(move |text| (output, text))
        });
        let paths: Vec<(usize, &str)> = paths.collect();
        for (column, (output, text)) in paths.into_iter().enumerate() {
            outputs[output].push(column);
            // A validated profile's paths parse; anything else reads as an empty value.
            let path = NodePath::parse(text).unwrap_or(NodePath {
                absolute: true,
                up: 0,
                steps: vec![String::new(); record_depth + 64],
                attribute: None,
                predicate: None,
            });
            let anchored = Anchored {
                steps: path.steps,
                attribute: path.attribute,
                predicate: path.predicate,
                column,
            };
            if path.absolute {
                absolute.push(anchored);
                sources.push(Source::Absolute);
            } else {
                let up = path.up.min(record_depth);
                if levels.len() <= up {
                    levels.resize_with(up + 1, Vec::new);
                }
                levels[up].push(anchored);
                sources.push(Source::Level(up));
            }
        }
        let hold_depth = record_depth - (levels.len() - 1);
        let follows = follows(profile, &headers, &outputs);
        Shape {
            format: profile.format,
            oversized: oversized(profile.format, &record, hold_depth),
            any_root: profile.format.has_document_node() && record.is_empty(),
            condition: profile.record_condition.clone(),
            top_depth: usize::from(profile.format.has_document_node()),
            record,
            record_depth,
            hold_depth,
            levels,
            absolute,
            sources,
            outputs,
            follows,
            headers,
        }
    }

    /// Whether a node named `name` at `depth`, under a parent on the record's path, is on it.
    fn on_record_path(&self, depth: usize, name: &str, attribute: &mut Attributes<'_>) -> bool {
        let named = depth == 0
            || (depth <= self.record_depth
                && ((self.any_root && depth == 1)
                    || self.record.get(depth - 1).is_some_and(|n| n == name)));
        // A record's node must meet the record's condition, if any, to be one.
        named
            && (depth != self.record_depth
                || self.condition.as_ref().is_none_or(|c| c.holds(attribute)))
    }
}

/// `event_datetime_format` follows `event_datetime` when both are alternatives of the same
/// number (`["DTM[@01.1=334]/@01.2", "../../DTM[@01.1=137]/@01.2"]` and the same DTMs' `@01.3`):
/// a format code must come from the DTM the value came from, or be missing.
fn follows(
    profile: &Profile,
    headers: &[String],
    outputs: &[Vec<usize>],
) -> Option<(usize, usize)> {
    use crate::profile::Field;
    let output = |field: Field| match profile.columns.get(&field)? {
        Column::Name(text) => headers.iter().position(|h| h == text),
        _ => None,
    };
    let (leader, follower) = (
        output(Field::EventDateTime)?,
        output(Field::EventDateTimeFormat)?,
    );
    (leader != follower
        && outputs[leader].len() > 1
        && outputs[leader].len() == outputs[follower].len())
    .then_some((follower, leader))
}

/// The reason a hold past the limit gives its records, naming the hold at `depth`.
fn oversized(format: Format, record: &[String], depth: usize) -> Arc<str> {
    let step = |d: usize| record.get(d.wrapping_sub(1)).map_or("", String::as_str);
    let hold = match (format, depth) {
        (Format::Xml, 1) if record.is_empty() => "the root element".to_owned(),
        (Format::Xml, d) => format!("the `{}` element", step(d)),
        (Format::X12 | Format::Edifact, d) => format!("the `{}` loop", step(d)),
        (_, 0) => "the document".to_owned(),
        (_, d) => format!("the `{}` object", step(d)),
    };
    format!("{hold} holding this record is larger than {MAX_RECORD_BYTES} bytes; its records are not read").into()
}

/// One kept value.
#[derive(Debug, Clone, Default)]
struct Slot {
    /// A node matched the path: later matches are ignored (the first one wins).
    matched: bool,
    text: String,
    /// The text was not valid UTF-8 and is a lossy copy.
    invalid: bool,
}

impl Slot {
    /// Unmatched and empty again; a large value's buffer is released, not kept for the next
    /// hold.
    fn reset(&mut self) {
        self.matched = false;
        if self.text.capacity() > REUSED_TEXT_BYTES {
            self.text = String::new();
        } else {
            self.text.clear();
        }
        self.invalid = false;
    }
}

/// The kept values of one anchor node (a record or one of its held ancestors).
#[derive(Debug, Clone, Default)]
struct Values {
    slots: Vec<Slot>,
}

/// Where a node's text goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    Anchor { instance: usize, column: usize },
    Absolute { column: usize },
}

#[derive(Debug, Default)]
struct Frame {
    name: String,
    on_record_path: bool,
    /// This node's kept values, if it is a record or a held ancestor.
    instance: Option<usize>,
    targets: Vec<Target>,
}

/// A record whose values may still be coming.
#[derive(Debug, Clone, Default)]
struct Pending {
    position: Position,
    /// Where its chain starts in [`Assembler::chains`]: the instances of the record, then of
    /// each ancestor up to the hold, one per level.
    chain: usize,
    /// Why it is rejected: its hold outgrew the limit (values not kept), or the format's reader
    /// saw something around it (an EDI message whose control count does not match).
    reason: Option<Arc<str>>,
}

/// How a document's reading ended.
#[derive(Debug)]
enum Ending {
    End,
    Failed(ReadError),
}

/// Assembles records from node events, following a profile's paths.
#[derive(Debug)]
pub(crate) struct Assembler {
    shape: Shape,
    frames: Vec<Frame>,
    /// Depth of the top frame + 1 (frames are reused, not dropped).
    len: usize,
    /// Values of the current hold's anchors.
    instances: Vec<Values>,
    used: usize,
    absolute: Values,
    pending: Vec<Pending>,
    ready: VecDeque<Pending>,
    /// The pending records' instance chains, back to back (no allocation per record).
    chains: Vec<usize>,
    /// Set when the current hold outgrew the limit; its records are rejected as they open.
    oversized: bool,
    /// Bytes kept for the current hold: values and a fixed cost per pending record.
    held_bytes: u64,
    /// How reading ended, told by the format's reader: reported once the records before it
    /// are out.
    ending: Option<Ending>,
    records: u64,
}

impl Assembler {
    pub fn new(profile: &Profile) -> Assembler {
        let shape = Shape::new(profile);
        let absolute = Values {
            slots: vec![Slot::default(); shape.sources.len()],
        };
        Assembler {
            shape,
            frames: Vec::new(),
            len: 0,
            instances: Vec::new(),
            used: 0,
            absolute,
            pending: Vec::new(),
            ready: VecDeque::new(),
            chains: Vec::new(),
            oversized: false,
            held_bytes: 0,
            ending: None,
            records: 0,
        }
    }

    /// The next ready record into `out` (`Some(Ok(true))`), or how reading ended once every
    /// record before that is out; `None` while the format's reader must read on. What the
    /// readers' `read` returns.
    pub fn next(&mut self, out: &mut Record) -> Option<Result<bool, ReadError>> {
        if self.pop_ready(out) {
            return Some(Ok(true));
        }
        let ending = self.ending.take()?;
        // After its error, a broken document reads as ended.
        self.ending = Some(Ending::End);
        Some(match ending {
            Ending::Failed(err) => Err(err),
            Ending::End => Ok(false),
        })
    }

    /// The document ended (its records are handed out first).
    pub fn end(&mut self) {
        self.ending.get_or_insert(Ending::End);
    }

    /// The document broke: `err` ends reading once the records before it are out.
    pub fn fail(&mut self, err: ReadError) {
        self.ending = Some(Ending::Failed(err));
    }

    /// The column paths every record's fields follow, as a header the mapper binds to.
    pub fn headers(&self) -> ByteRecord {
        ByteRecord::from(self.shape.headers.clone())
    }

    /// The depth of the node open at the top (0 for a JSON root or XML's document node).
    pub fn depth(&self) -> Option<usize> {
        self.len.checked_sub(1)
    }

    /// A node opens. `attribute` looks up one of its XML attributes by local name;
    /// `position` is where it starts (its record number is filled in here).
    pub fn open(&mut self, name: &str, attribute: &mut Attributes<'_>, mut position: Position) {
        let depth = self.len;
        let parent_on_path = depth == 0 || self.frames[depth - 1].on_record_path;
        if self.frames.len() == depth {
            self.frames.push(Frame::default());
        }
        let on_path = parent_on_path && self.shape.on_record_path(depth, name, attribute);
        let frame = &mut self.frames[depth];
        frame.name.clear();
        frame.name.push_str(name);
        frame.on_record_path = on_path;
        frame.instance = None;
        frame.targets.clear();
        self.len += 1;
        let anchor = on_path && depth >= self.shape.hold_depth && depth <= self.shape.record_depth;
        // An oversized hold keeps nothing: its records are only numbered and rejected.
        if anchor && !self.oversized {
            let instance = self.new_instance();
            self.frames[depth].instance = Some(instance);
            // Every kept node counts, not only records: a hold of a million empty loops is as
            // large as one of a million records.
            self.held_bytes += INSTANCE_BYTES + 32 * self.shape.sources.len() as u64;
        }
        if anchor && depth == self.shape.record_depth {
            self.records += 1;
            position.record = self.records;
            self.hold_record(depth, position);
        }
        if !self.oversized {
            self.match_anchored(depth, attribute);
        }
        self.match_absolute(depth, attribute);
        self.check_size();
    }

    /// Text directly inside the node open at the top (an XML text, CDATA or reference; a JSON
    /// scalar). `invalid` marks a lossy copy of bytes that were not UTF-8.
    pub fn text(&mut self, text: &str, invalid: bool) {
        let Some(frame) = self.len.checked_sub(1).map(|top| &self.frames[top]) else {
            return;
        };
        if frame.targets.is_empty() || self.oversized {
            return;
        }
        for target in &frame.targets {
            let slot = match *target {
                Target::Anchor { instance, column } => {
                    self.held_bytes += text.len() as u64;
                    &mut self.instances[instance].slots[column]
                }
                // One value for the whole file: kept up to the limit of one record.
                Target::Absolute { column } => {
                    let slot = &mut self.absolute.slots[column];
                    if (slot.text.len() + text.len()) as u64 > MAX_RECORD_BYTES {
                        continue;
                    }
                    slot
                }
            };
            slot.text.push_str(text);
            slot.invalid |= invalid;
        }
        self.check_size();
    }

    /// The node open at the top closes. Closing a hold makes its records ready.
    pub fn close(&mut self) {
        let Some(top) = self.len.checked_sub(1) else {
            return;
        };
        self.len = top;
        if self.frames[top].instance.is_some() && top == self.shape.hold_depth {
            self.ready.extend(self.pending.drain(..));
            self.oversized = false;
            self.held_bytes = 0;
            if self.ready.is_empty() {
                self.reset_hold();
            }
        }
    }

    /// Moves the next ready record into `out`; `false` when none is ready.
    pub fn pop_ready(&mut self, out: &mut Record) -> bool {
        let Some(pending) = self.ready.pop_front() else {
            return false;
        };
        out.position = pending.position;
        out.invalid_utf8.clear();
        out.malformed = None;
        let mut fields = std::mem::take(&mut out.fields);
        fields.clear();
        if let Some(reason) = &pending.reason {
            out.malformed = Some(reason.to_string());
        } else {
            // The alternative the leading header took, for the one that follows it.
            let mut leader_took = 0;
            for (output, paths) in self.shape.outputs.iter().enumerate() {
                let mut slots = paths
                    .iter()
                    .map(|&column| match self.shape.sources[column] {
                        Source::Level(up) => {
                            &self.instances[self.chains[pending.chain + up]].slots[column]
                        }
                        Source::Absolute => &self.absolute.slots[column],
                    });
                // The first alternative with a value, else the last (empty) one; a follower
                // takes its leader's.
                let chosen = match self.shape.follows {
                    Some((follower, leader)) if follower == output && leader < output => {
                        leader_took
                    }
                    _ => slots
                        .clone()
                        .position(|slot| !slot.text.trim().is_empty())
                        .unwrap_or(paths.len() - 1),
                };
                if self
                    .shape
                    .follows
                    .is_some_and(|(_, leader)| leader == output)
                {
                    leader_took = chosen;
                }
                let slot = slots.nth(chosen).expect("a header has a path");
                if slot.invalid {
                    out.invalid_utf8.push(output);
                }
                fields.push_field(slot.text.trim());
            }
        }
        out.fields = fields;
        // The values of a closed hold are done with once its records are out.
        if self.ready.is_empty() && self.len <= self.shape.hold_depth {
            self.reset_hold();
        }
        true
    }

    /// A record opened at `depth`: pending until its hold closes, or rejected at once when the
    /// hold is already too large.
    fn hold_record(&mut self, depth: usize, position: Position) {
        if self.oversized {
            self.ready.push_back(Pending {
                position,
                chain: 0,
                reason: Some(self.shape.oversized.clone()),
            });
            return;
        }
        let chain = self.chains.len();
        let frames = &self.frames;
        self.chains.extend(
            (0..=depth - self.shape.hold_depth).filter_map(|up| frames[depth - up].instance),
        );
        self.pending.push(Pending {
            position,
            chain,
            reason: None,
        });
        self.held_bytes += INSTANCE_BYTES;
    }

    /// Rejects the records numbered after `after` that are still held, with `reason`.
    pub fn reject_pending(&mut self, after: u64, reason: &str) {
        let reason: Arc<str> = reason.into();
        for pending in self
            .pending
            .iter_mut()
            .filter(|p| p.position.record > after)
        {
            pending.reason = Some(reason.clone());
        }
    }

    /// Records numbered so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Holds records at least up to their ancestor at `depth` (before any node opens), so a
    /// reader can still reject them when that ancestor ends (an EDI message's trailer).
    pub fn hold_at_most(&mut self, depth: usize) {
        if depth >= 1 && depth < self.shape.hold_depth {
            self.shape.hold_depth = depth;
            self.shape.oversized = oversized(self.shape.format, &self.shape.record, depth);
        }
    }

    /// Every record of the last hold is out: its values and chains can be reused.
    fn reset_hold(&mut self) {
        self.used = 0;
        self.chains.clear();
    }

    fn new_instance(&mut self) -> usize {
        let columns = self.shape.sources.len();
        if self.instances.len() == self.used {
            self.instances.push(Values::default());
        }
        let values = &mut self.instances[self.used];
        values.slots.resize_with(columns, Slot::default);
        values.slots.iter_mut().for_each(Slot::reset);
        self.used += 1;
        self.used - 1
    }

    /// Matches the new node at `depth` against the paths of every anchor above or at it.
    fn match_anchored(&mut self, depth: usize, attribute: &mut Attributes<'_>) {
        let shape = &self.shape;
        if self.used == 0 || depth < shape.hold_depth {
            return;
        }
        let top = depth.min(shape.record_depth);
        let mut targets = std::mem::take(&mut self.frames[depth].targets);
        for anchor_depth in shape.hold_depth..=top {
            let Some(instance) = self.frames[anchor_depth].instance else {
                continue;
            };
            let level = shape.record_depth - anchor_depth;
            let Some(paths) = shape.levels.get(level) else {
                continue;
            };
            let below = &self.frames[anchor_depth + 1..=depth];
            for path in paths {
                let slot = &mut self.instances[instance].slots[path.column];
                if slot.matched || !path.matches(below, attribute) {
                    continue;
                }
                slot.matched = true;
                match &path.attribute {
                    Some(name) => {
                        if let Some(value) = attribute(name) {
                            self.held_bytes += value.len() as u64;
                            slot.text.push_str(&value);
                        }
                    }
                    None => targets.push(Target::Anchor {
                        instance,
                        column: path.column,
                    }),
                }
            }
        }
        self.frames[depth].targets = targets;
    }

    /// Matches the new node against the paths from the root.
    fn match_absolute(&mut self, depth: usize, attribute: &mut Attributes<'_>) {
        if depth == self.shape.top_depth {
            // Paths from the root read each top-level node's own values (an EDI file's
            // interchanges, a JSON array's elements).
            self.absolute.slots.iter_mut().for_each(Slot::reset);
        }
        if depth == 0 {
            return;
        }
        let mut targets = std::mem::take(&mut self.frames[depth].targets);
        let below = &self.frames[1..=depth];
        for path in &self.shape.absolute {
            let slot = &mut self.absolute.slots[path.column];
            if slot.matched || !path.matches(below, attribute) {
                continue;
            }
            slot.matched = true;
            match &path.attribute {
                Some(name) => slot.text.push_str(&attribute(name).unwrap_or_default()),
                None => targets.push(Target::Absolute {
                    column: path.column,
                }),
            }
        }
        self.frames[depth].targets = targets;
    }

    /// Past the limit, the hold's records are rejected at once and its values dropped, so
    /// memory stays flat however large the hold.
    fn check_size(&mut self) {
        if self.oversized || self.held_bytes <= MAX_RECORD_BYTES {
            return;
        }
        self.oversized = true;
        for values in &mut self.instances[..self.used] {
            for slot in &mut values.slots {
                slot.text = String::new();
            }
        }
        let reason = &self.shape.oversized;
        self.ready.extend(self.pending.drain(..).map(|mut p| {
            p.reason = Some(reason.clone());
            p
        }));
    }
}
