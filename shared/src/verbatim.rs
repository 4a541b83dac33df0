//! What of a record can go into the events' JSON exactly as the file has it.
//!
//! Writing an event is most of an import's work per record. Two things about a record's text
//! spare much of it, each found once per record instead of once per value:
//! - **Plain text**: a record with no `"`, `\` or control character anywhere needs no JSON
//!   escaping in any of its values, which are then copied without being looked at. (A record
//!   with none of these has no NUL byte either, which the mapper rejects.)
//! - **Canonical numbers**: a weight or a coordinate is read as an `f64` and written back as the
//!   shortest decimal that reads as the same `f64` (serde's JSON writers' form: `48.6`,
//!   `40.7608`, `5.0`). Most carrier values are short decimals already in that form
//!   ([`canonical`]): their text is written, with no float formatting.
//!
//! The event's times, which the mapper writes, need no escaping either.
//!
//! The mapper fills a [`Verbatim`] for each event; the import's JSON writer uses it. The bytes
//! written are the same either way (tested against serde's and zmij's output).

/// What of one event's record can be written as it is.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Verbatim<'r> {
    /// The record's text when nothing in it needs JSON escaping, else empty.
    pub plain: &'r [u8],
    /// The event's times as the mapper wrote them (ISO 8601: nothing to escape), or empty.
    pub times: &'r [u8],
    /// The text of each of the event's numbers that is exactly how the JSON writes it; `None`
    /// where the event has no such number or its text is written another way.
    pub weight: Option<&'r str>,
    pub length: Option<&'r str>,
    pub width: Option<&'r str>,
    pub height: Option<&'r str>,
    pub lat: Option<&'r str>,
    pub long: Option<&'r str>,
}

impl Verbatim<'_> {
    /// Whether `value` lies inside the plain text or the times (and so needs no escaping).
    #[inline]
    pub fn is_plain(&self, value: &str) -> bool {
        let inside = value.as_bytes().as_ptr_range();
        let holds = |text: &[u8]| {
            let within = text.as_ptr_range();
            within.start <= inside.start && inside.end <= within.end
        };
        holds(self.plain) || holds(self.times)
    }
}

/// Whether any byte of `bytes` needs escaping in a JSON string (`"`, `\`, a control character),
/// eight bytes at a time.
#[inline]
pub fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte's high bit is set in the result when that byte of `x` is below `n` (n <= 0x80) —
    // exact as to whether any byte is.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * n as u64) & !x & HIGHS;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
        if below(x, 0x20) | below(x ^ (ONES * b'"' as u64), 1) | below(x ^ (ONES * b'\\' as u64), 1)
            != 0
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Powers of ten an `f64` holds exactly, up to the most fraction digits [`canonical`] takes.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The most significant digits [`canonical`] takes: any decimal with at most 15 reads as an
/// `f64` whose shortest form has exactly its digits (`f64::DIGITS`).
const MAX_DIGITS: usize = f64::DIGITS as usize;

/// The `f64` that `text` says, when `text` is exactly how the JSON writes that `f64`: an
/// optional `-`, the whole part without leading zeros, a point, and fraction digits without a
/// trailing zero (`N.0` for a whole number), at most 15 digits in all, and not so small or large
/// that the JSON would use an exponent. `None` for any other text (which may still be a number:
/// the caller then reads and writes it the general way).
pub fn canonical(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, bytes),
    };
    // 15 digits, a point and the `0` of `N.0` at most: the mantissa cannot overflow.
    if digits.len() > MAX_DIGITS + 2 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(b - b'0'),
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let point = point?;
    let (whole, fraction) = (&digits[..point], &digits[point + 1..]);
    let plain_whole = whole == b"0" || whole.first().is_some_and(|&b| b != b'0');
    let plain_fraction = fraction == b"0" || fraction.last().is_some_and(|&b| b != b'0');
    // The `.0` of a whole number is no digit of its value.
    let places = if fraction == b"0" { 0 } else { fraction.len() };
    if !plain_whole || !plain_fraction || whole.len() + places > MAX_DIGITS {
        return None;
    }
    if places == 0 {
        mantissa /= 10;
    }
    // Below 1e-4 the JSON writes an exponent (it does from 1e-5); -0.0 is left to the general
    // path. The whole part has at most 15 digits, far below where an exponent starts (1e16).
    if (whole == b"0" && fraction.starts_with(b"0000")) || (negative && mantissa == 0) {
        return None;
    }
    // Both operands are exact (the mantissa is below 2^53, the power of ten at most 1e15), so
    // the one division rounds correctly: the same `f64` as `str::parse` gives.
    let value = mantissa as f64 / POW10[places];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde's JSON writers (and the import's) write for `value`.
    fn written(value: f64) -> String {
        serde_json::to_string(&value).unwrap()
    }

    #[test]
    fn canonical_text_is_the_written_form_of_the_value_it_reads_as() {
        for text in [
            "48.6",
            "0.5",
            "5.0",
            "0.0",
            "40.7608",
            "-111.891",
            "0.0001",
            "123456789.123456",
            "-0.25",
            "999999999999999.0",
            "0.1",
            "1.0",
        ] {
            let value = canonical(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(value, text.parse::<f64>().unwrap(), "{text}");
            assert_eq!(written(value), text, "{text}");
        }
    }

    #[test]
    fn other_texts_are_left_to_the_general_path() {
        for text in [
            "",
            "-",
            ".",
            "48",
            "48.",
            ".5",
            "48.60",
            "048.6",
            "00.5",
            "-0.0",
            "0.00001",
            "1e5",
            "1.5e3",
            "+1.5",
            "1.2.3",
            "1,5",
            " 1.5",
            "1.5 ",
            "NaN",
            "inf",
            "1234567890123456.0",
            "0.1234567890123456",
            "١.٥",
        ] {
            assert_eq!(canonical(text), None, "{text:?}");
        }
    }

    /// Every text `canonical` accepts, over a spread of lengths and magnitudes, reads as
    /// `str::parse` reads it and is what the JSON would write; texts one edit away from
    /// canonical (a trailing zero, a leading zero) are refused.
    #[test]
    fn canonical_agrees_with_parse_and_the_writer_on_many_values() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..300_000 {
            let whole_digits = (next() % 10) as u32;
            let fraction_digits = 1 + (next() % 9) as usize;
            let whole = if whole_digits == 0 {
                0
            } else {
                next() % 10u64.pow(whole_digits)
            };
            let fraction = next() % 10u64.pow(fraction_digits as u32);
            let sign = if next() % 4 == 0 { "-" } else { "" };
            let text = format!("{sign}{whole}.{fraction:0fraction_digits$}");
            let Ok(parsed) = text.parse::<f64>() else {
                continue;
            };
            match canonical(&text) {
                Some(value) => {
                    accepted += 1;
                    assert_eq!(value.to_bits(), parsed.to_bits(), "{text}");
                    assert_eq!(written(value), text, "{text}");
                }
                // Refused: then the text is not the written form, or it is one of the cases
                // left out on purpose (more than 15 digits, tiny values, -0.0).
                None => assert!(
                    written(parsed) != text
                        || text.bytes().filter(u8::is_ascii_digit).count() > MAX_DIGITS
                        || parsed.abs() < 1e-4
                        || parsed == 0.0,
                    "{text} is canonical but refused"
                ),
            }
        }
        assert!(accepted > 100_000, "only {accepted} accepted");
    }
}
