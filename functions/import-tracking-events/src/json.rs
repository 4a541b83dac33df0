//! The events' JSON, written straight into the message buffer.
//!
//! Encoding is the largest share of the import's CPU: a 200 MB file becomes about 1 GB of JSON.
//! Through serde (`sonic-rs`), every key of every event went through the serializer's string
//! escaping and every field through a generic call chain, about 30 % of the import's CPU. Here
//! the keys are byte literals and a value is checked eight bytes at a time for anything to
//! escape (carrier text rarely has any) and then copied whole: the import's CPU for 200 MB went
//! from ~4.1 s to ~3.85 s (user time, 2 cores). The output is byte for byte what `sonic-rs`
//! writes for the serde derive of the same types (the tests compare them, and the reference
//! file's 50 MB of output hashed the same before and after), so the queue contract in `schema/`,
//! generated from those types, stays the one source of truth.
//!
//! Every struct is destructured without `..`: a field added to a model is a compile error here
//! until it is written.

use shared::Verbatim;
use shared::models::{Dimensions, Geo, ImportedTrackingEvent, Service, TrackEvent, TrackingInfo};
use shared::verbatim::needs_escape;

/// A key of Connect's (snake_case: nothing to escape) as written after another member,
/// `,"name":`; `key!(text "name")` adds the opening quote of its string value, `,"name":"`.
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
    (text $name:literal) => {
        concat!(",\"", $name, "\":\"").as_bytes()
    };
}

/// Appends `event` as one JSON object to `out`.
#[cfg(test)]
pub fn write_event<S: AsRef<str>>(out: &mut Vec<u8>, event: &ImportedTrackingEvent<S>) {
    write_event_from(out, event, &Verbatim::default());
}

/// [`write_event`], copying as they are the values `verbatim` says need no escaping, and the
/// numbers it gives the text of.
pub fn write_event_from<S: AsRef<str>>(
    out: &mut Vec<u8>,
    event: &ImportedTrackingEvent<S>,
    verbatim: &Verbatim,
) {
    let ImportedTrackingEvent {
        tracking_info,
        update_method,
        error_messages,
        warning_messages,
    } = event;
    let mut o = Object::open(out, verbatim);
    if let Some(info) = tracking_info {
        o.key(key!("tracking_info"));
        write_info(o.out, info, verbatim);
    }
    if let Some(method) = update_method {
        o.key(key!("update_method"));
        string(o.out, method.as_str());
    }
    if let Some(messages) = error_messages {
        o.key(key!("error_messages"));
        strings(o.out, messages);
    }
    if let Some(messages) = warning_messages {
        o.key(key!("warning_messages"));
        strings(o.out, messages);
    }
    o.close();
}

fn write_info<S: AsRef<str>>(out: &mut Vec<u8>, info: &TrackingInfo<S>, verbatim: &Verbatim) {
    let TrackingInfo {
        carrier_name,
        tracking_number,
        standardized_status_code,
        standardized_status_detail_code,
        carrier_status_code,
        carrier_detail_code,
        carrier_status_description,
        shipped_datetime,
        estimated_delivery_datetime,
        actual_delivery_datetime,
        shipping_problem,
        shipping_problem_code,
        shipping_problem_description,
        error_description,
        weight,
        dimensions,
        service,
        packaging,
        package_count,
        events,
    } = info;
    let mut o = Object::open(out, verbatim);
    o.text(key!(text "carrier_name"), carrier_name);
    o.text(key!(text "tracking_number"), tracking_number);
    if let Some(code) = standardized_status_code {
        o.key(key!("standardized_status_code"));
        known_or_escaped(o.out, code.static_str().ok_or_else(|| code.as_str()));
    }
    if let Some(code) = standardized_status_detail_code {
        o.key(key!("standardized_status_detail_code"));
        known_or_escaped(o.out, code.static_str().ok_or_else(|| code.as_str()));
    }
    o.text(key!(text "carrier_status_code"), carrier_status_code);
    o.text(key!(text "carrier_detail_code"), carrier_detail_code);
    o.text(
        key!(text "carrier_status_description"),
        carrier_status_description,
    );
    o.text(key!(text "shipped_datetime"), shipped_datetime);
    o.text(
        key!(text "estimated_delivery_datetime"),
        estimated_delivery_datetime,
    );
    o.text(
        key!(text "actual_delivery_datetime"),
        actual_delivery_datetime,
    );
    if let Some(problem) = shipping_problem {
        o.key(key!("shipping_problem"));
        o.out
            .extend_from_slice(if *problem { b"true" } else { b"false" });
    }
    o.text(key!(text "shipping_problem_code"), shipping_problem_code);
    o.text(
        key!(text "shipping_problem_description"),
        shipping_problem_description,
    );
    o.text(key!(text "error_description"), error_description);
    o.number(key!("weight"), *weight, verbatim.weight);
    if let Some(dimensions) = dimensions {
        o.key(key!("dimensions"));
        let Dimensions {
            length,
            width,
            height,
        } = dimensions;
        let mut d = Object::open(o.out, verbatim);
        d.number(key!("length"), *length, verbatim.length);
        d.number(key!("width"), *width, verbatim.width);
        d.number(key!("height"), *height, verbatim.height);
        d.close();
    }
    if let Some(service) = service {
        o.key(key!("service"));
        let Service { code, name } = service;
        let mut s = Object::open(o.out, verbatim);
        s.text(key!(text "code"), code);
        s.text(key!(text "name"), name);
        s.close();
    }
    o.text(key!(text "packaging"), packaging);
    if let Some(count) = package_count {
        o.key(key!("package_count"));
        o.out
            .extend_from_slice(itoa::Buffer::new().format(*count).as_bytes());
    }
    if let Some(events) = events {
        o.key(key!("events"));
        o.out.push(b'[');
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            write_track_event(o.out, event, verbatim);
        }
        o.out.push(b']');
    }
    o.close();
}

fn write_track_event<S: AsRef<str>>(out: &mut Vec<u8>, event: &TrackEvent<S>, verbatim: &Verbatim) {
    let TrackEvent {
        event_datetime,
        event_datetime_local,
        event_code,
        carrier_detail_code,
        description,
        city,
        state,
        postal_code,
        country,
        company,
        signer,
        proof_of_delivery_url,
        geo,
        status_code,
        status_detail_code,
    } = event;
    let mut o = Object::open(out, verbatim);
    o.text(key!(text "event_datetime"), event_datetime);
    o.text(key!(text "event_datetime_local"), event_datetime_local);
    o.text(key!(text "event_code"), event_code);
    o.text(key!(text "carrier_detail_code"), carrier_detail_code);
    o.text(key!(text "description"), description);
    o.text(key!(text "city"), city);
    o.text(key!(text "state"), state);
    o.text(key!(text "postal_code"), postal_code);
    o.text(key!(text "country"), country);
    o.text(key!(text "company"), company);
    o.text(key!(text "signer"), signer);
    o.text(key!(text "proof_of_delivery_url"), proof_of_delivery_url);
    if let Some(Geo { lat, long }) = geo {
        o.key(key!("geo"));
        let mut g = Object::open(o.out, verbatim);
        g.number(key!("lat"), Some(*lat), verbatim.lat);
        g.number(key!("long"), Some(*long), verbatim.long);
        g.close();
    }
    if let Some(code) = status_code {
        o.key(key!("status_code"));
        known_or_escaped(o.out, code.static_str().ok_or_else(|| code.as_str()));
    }
    if let Some(code) = status_detail_code {
        o.key(key!("status_detail_code"));
        known_or_escaped(o.out, code.static_str().ok_or_else(|| code.as_str()));
    }
    o.close();
}

/// A JSON object being written: tracks whether a comma is due before the next key.
struct Object<'a, 'p> {
    out: &'a mut Vec<u8>,
    first: bool,
    verbatim: &'p Verbatim<'p>,
}

impl<'a, 'p> Object<'a, 'p> {
    fn open(out: &'a mut Vec<u8>, verbatim: &'p Verbatim<'p>) -> Self {
        out.push(b'{');
        Object {
            out,
            first: true,
            verbatim,
        }
    }

    /// `key` as [`key!`] writes it, its comma dropped when it is the object's first.
    ///
    /// Inlined into every caller, as are [`Object::text`] and [`Object::number`]: the key is then
    /// a constant, copied by a few moves in one piece instead of a call to `memcpy` between
    /// pushes of its punctuation (about a tenth of the import's CPU went to such small copies).
    #[inline(always)]
    fn key(&mut self, key: &'static [u8]) {
        let key = if self.first {
            self.first = false;
            &key[1..]
        } else {
            key
        };
        self.out.extend_from_slice(key);
    }

    /// `key` as `key!(text …)` writes it, with the value's opening quote.
    #[inline(always)]
    fn text<S: AsRef<str>>(&mut self, key: &'static [u8], value: &Option<S>) {
        if let Some(value) = value {
            self.key(key);
            let value = value.as_ref();
            string_after_quote(self.out, value, self.verbatim.is_plain(value));
        }
    }

    #[inline(always)]
    fn number(&mut self, key: &'static [u8], value: Option<f64>, text: Option<&str>) {
        if let Some(value) = value {
            self.key(key);
            match text {
                Some(text) => {
                    debug_assert_eq!(shared::verbatim::canonical(text), Some(value));
                    self.out.extend_from_slice(text.as_bytes());
                }
                None => number(self.out, value),
            }
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn strings<S: AsRef<str>>(out: &mut Vec<u8>, values: &[S]) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, value.as_ref());
    }
    out.push(b']');
}

/// As serde's JSON serializers write an `f64`: shortest round-trip digits, `null` when not finite.
fn number(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// What a byte becomes inside a JSON string: 0 for itself, else the letter after the backslash
/// (`u` for the `\u00XX` form). JSON requires escaping only `"`, `\` and control characters.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// A code: a known one (`Ok`) is one of the model's literals, which need no escaping (tested),
/// and is copied as it is; another is escaped.
#[inline]
fn known_or_escaped(out: &mut Vec<u8>, code: Result<&'static str, &str>) {
    let (text, plain) = match code {
        Ok(known) => (known, true),
        Err(other) => (other, false),
    };
    out.push(b'"');
    string_after_quote(out, text, plain);
}

#[inline]
fn string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    string_after_quote(out, value, false);
}

/// [`string`] once its opening quote is written: the escaped value and the closing quote.
/// `plain`: the value is known to need no escaping, and is not looked at. Inlined (a plain value
/// is a copy and a quote); escaping is out of line.
#[inline(always)]
fn string_after_quote(out: &mut Vec<u8>, value: &str, plain: bool) {
    let bytes = value.as_bytes();
    if plain || !needs_escape(bytes) {
        out.reserve(bytes.len() + 1);
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        escaped(out, bytes);
    }
}

/// `bytes` escaped, and the closing quote.
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 1);
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = ESCAPE[b as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[plain..i]);
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        plain = i + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use shared::models::{StandardizedStatusCode, StandardizedStatusDetailCode, UpdateMethod};

    use super::*;

    fn written<S: AsRef<str> + serde::Serialize>(event: &ImportedTrackingEvent<S>) -> String {
        let mut out = Vec::new();
        write_event(&mut out, event);
        String::from_utf8(out).expect("the writer emits UTF-8")
    }

    fn assert_same<S: AsRef<str> + serde::Serialize>(event: &ImportedTrackingEvent<S>) {
        let ours = written(event);
        let serde = sonic_rs::to_string(event).unwrap();
        assert_eq!(ours, serde);
        // And it is JSON that reads back as the same event.
        let back: ImportedTrackingEvent = serde_json::from_str(&ours).unwrap();
        assert_eq!(sonic_rs::to_string(&back).unwrap(), serde);
    }

    /// Every field set, every nested object present: order and spelling of every key.
    fn full(text: &str) -> ImportedTrackingEvent {
        let s = || Some(text.to_owned());
        ImportedTrackingEvent {
            tracking_info: Some(TrackingInfo {
                carrier_name: s(),
                tracking_number: s(),
                standardized_status_code: Some(StandardizedStatusCode::Delivered),
                standardized_status_detail_code: Some(
                    StandardizedStatusDetailCode::DeliveredToPickupPoint,
                ),
                carrier_status_code: s(),
                carrier_detail_code: s(),
                carrier_status_description: s(),
                shipped_datetime: s(),
                estimated_delivery_datetime: s(),
                actual_delivery_datetime: s(),
                shipping_problem: Some(true),
                shipping_problem_code: s(),
                shipping_problem_description: s(),
                error_description: s(),
                weight: Some(12.5),
                dimensions: Some(Dimensions {
                    length: Some(1.0),
                    width: None,
                    height: Some(1e-7),
                }),
                service: Some(Service {
                    code: s(),
                    name: None,
                }),
                packaging: s(),
                package_count: Some(4_000_000_000),
                events: Some(vec![
                    TrackEvent {
                        event_datetime: s(),
                        event_datetime_local: s(),
                        event_code: s(),
                        carrier_detail_code: s(),
                        description: s(),
                        city: s(),
                        state: s(),
                        postal_code: s(),
                        country: s(),
                        company: s(),
                        signer: s(),
                        proof_of_delivery_url: s(),
                        geo: Some(Geo {
                            lat: -33.8688,
                            long: 151.2093,
                        }),
                        status_code: Some(StandardizedStatusCode::Other("Q\"Q".into())),
                        status_detail_code: Some(StandardizedStatusDetailCode::Other(
                            "new\ncode".into(),
                        )),
                    },
                    TrackEvent::default(),
                ]),
            }),
            update_method: Some(UpdateMethod::Replace),
            error_messages: Some(vec![]),
            warning_messages: Some(vec![text.to_owned(), String::new()]),
        }
    }

    #[test]
    fn every_field_is_written_as_serde_writes_it() {
        assert_same(&full("plain"));
        assert_same(&ImportedTrackingEvent::<String>::default());
        let sparse = ImportedTrackingEvent {
            tracking_info: Some(TrackingInfo {
                tracking_number: Some(Cow::Borrowed("1Z")),
                shipping_problem: Some(false),
                events: Some(vec![]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_same(&sparse);
    }

    #[test]
    fn every_byte_and_character_is_escaped_as_serde_escapes_it() {
        let ascii: String = (0u8..0x80).map(char::from).collect();
        assert_same(&full(&ascii));
        for text in [
            "Zürich — Straße 12",
            "北京市",
            "emoji 📦 and \u{2028} separators \u{2029}",
            "\u{7f}\u{80}\u{ff}",
            "\\\"\\\"",
            "",
        ] {
            assert_same(&full(text));
        }
        for b in 0u8..0x80 {
            assert_same(&full(&char::from(b).to_string()));
        }
    }

    #[test]
    fn an_escape_is_found_in_every_lane_of_a_word() {
        for len in 1..=20 {
            for at in 0..len {
                for special in [0u8, 0x1f, b'"', b'\\', b'\n'] {
                    let mut text = vec![b'a'; len];
                    text[at] = special;
                    let text = String::from_utf8(text).unwrap();
                    assert_eq!(
                        written(&full(&text)),
                        sonic_rs::to_string(&full(&text)).unwrap()
                    );
                }
                // Bytes just outside the escaped ranges stay plain.
                let mut text = vec![b'a'; len];
                text[at] = b' ';
                text[len - 1 - at] = b'#';
                let text = String::from_utf8(text).unwrap();
                assert_eq!(
                    written(&full(&text)),
                    sonic_rs::to_string(&full(&text)).unwrap()
                );
            }
        }
    }

    #[test]
    fn numbers_are_written_as_serde_writes_them() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -90.0,
            180.0,
            52.520008,
            13.404954,
            0.1 + 0.2,
            1e-7,
            1e21,
            123456789.125,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
        ] {
            let mut event = full("x");
            let info = event.tracking_info.as_mut().unwrap();
            info.weight = Some(value);
            info.events.as_mut().unwrap()[0].geo = Some(Geo {
                lat: value,
                long: -value,
            });
            assert_eq!(written(&event), sonic_rs::to_string(&event).unwrap());
        }
    }

    /// An event as the encoder writes it: text borrowed from a record, copied unchecked when
    /// the record needs no escaping, and numbers written as their text. The same bytes as serde.
    #[test]
    fn record_text_and_verbatim_numbers_are_written_as_serde_writes_them() {
        for record in [
            "1Z999|Picked up, at dock|48.6|40.7608|-111.891|12.0",
            "1Z999|Said \"hello\"\t\u{1}|48.6|40.7608|-111.891|12.0",
        ] {
            let fields: Vec<&str> = record.split('|').collect();
            let number = |i: usize| shared::verbatim::canonical(fields[i]).unwrap();
            let event = ImportedTrackingEvent {
                tracking_info: Some(TrackingInfo {
                    tracking_number: Some(Cow::Borrowed(fields[0])),
                    carrier_status_description: Some(Cow::Borrowed(fields[1])),
                    carrier_name: Some(Cow::Borrowed("Not \"from\" the record")),
                    weight: Some(number(2)),
                    dimensions: Some(Dimensions {
                        length: Some(number(5)),
                        width: Some(0.1 + 0.2),
                        height: None,
                    }),
                    events: Some(vec![TrackEvent {
                        description: Some(Cow::Borrowed(fields[1])),
                        geo: Some(Geo {
                            lat: number(3),
                            long: number(4),
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let verbatim = Verbatim {
                plain: if record.contains('"') {
                    &[]
                } else {
                    record.as_bytes()
                },
                weight: Some(fields[2]),
                lat: Some(fields[3]),
                long: Some(fields[4]),
                length: Some(fields[5]),
                ..Default::default()
            };
            let mut out = Vec::new();
            write_event_from(&mut out, &event, &verbatim);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                sonic_rs::to_string(&event).unwrap()
            );
        }
    }

    /// Known codes are copied without being escaped: none of them has anything to escape.
    #[test]
    fn no_known_code_needs_escaping() {
        use shared::models::{StandardizedStatusCode, StandardizedStatusDetailCode};
        let statuses = StandardizedStatusCode::KNOWN.iter().map(|c| c.as_str());
        let details = StandardizedStatusDetailCode::KNOWN
            .iter()
            .map(|c| c.as_str());
        for code in statuses.chain(details) {
            assert!(!needs_escape(code.as_bytes()), "{code}");
        }
    }

    /// The import writes numbers with zmij: every text `canonical` accepts is what zmij writes
    /// for the value it reads as, so copying the text changes no byte.
    #[test]
    fn canonical_number_text_is_what_zmij_writes() {
        let mut checked = 0;
        for whole in [0u64, 1, 9, 10, 42, 99_999, 123_456_789, 999_999_999] {
            for places in 1..=8 {
                for fraction in (0..2_000).map(|n| n * 7_919 % 10u64.pow(places as u32)) {
                    for sign in ["", "-"] {
                        let text = format!("{sign}{whole}.{fraction:0places$}");
                        if let Some(value) = shared::verbatim::canonical(&text) {
                            let mut out = Vec::new();
                            number(&mut out, value);
                            assert_eq!(String::from_utf8(out).unwrap(), text);
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100_000, "only {checked} canonical texts");
    }
}
