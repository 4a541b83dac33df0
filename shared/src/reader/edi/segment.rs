//! EDI segments, pure: the delimiters an interchange declares (X12's fixed-width ISA, EDIFACT's
//! UNA service string advice or its defaults) and one segment's text split into elements and
//! components, release characters applied. No I/O: the reader hands in one segment's bytes.

use std::ops::Range;

/// Which EDI family an interchange belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    X12,
    Edifact,
}

impl Syntax {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Syntax::X12 => "X12",
            Syntax::Edifact => "EDIFACT",
        }
    }
}

/// The characters that structure an interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub element: u8,
    pub component: u8,
    pub segment: u8,
    /// X12 from 00402 on (ISA-11), EDIFACT syntax 4 (UNA's fifth character when not a space).
    pub repetition: Option<u8>,
    /// EDIFACT's release character (`?`): the next character is literal.
    pub release: Option<u8>,
}

/// The length of an X12 ISA segment, terminator included.
pub const ISA_LEN: usize = 106;
/// `UNA` and its six characters.
pub const UNA_LEN: usize = 9;

/// Why an interchange's service segment cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error(
        "the ISA segment is {0} characters, not 106: an X12 interchange starts with a fixed-width ISA"
    )]
    ShortIsa(usize),
    #[error(
        "the ISA segment is not X12's fixed 106 characters: its element separator {element:?} is not at character {at}"
    )]
    IsaLayout { element: char, at: usize },
    #[error(
        "the ISA segment's delimiters are not distinct (element {element:?}, component {component:?}, segment {segment:?})"
    )]
    IsaDelimiters {
        element: char,
        component: char,
        segment: char,
    },
    #[error("the UNA service string advice is cut short: it needs six characters after `UNA`")]
    ShortUna,
    #[error("a release character ends the segment: it releases nothing")]
    DanglingRelease,
}

impl Delimiters {
    /// EDIFACT's defaults when there is no UNA: `:+.? '`.
    pub const EDIFACT: Delimiters = Delimiters {
        element: b'+',
        component: b':',
        segment: b'\'',
        repetition: None,
        release: Some(b'?'),
    };

    /// The delimiters an ISA segment declares: the element separator right after `ISA`, the
    /// component separator at ISA-16, the segment terminator after it, the repetition separator
    /// at ISA-11 when the version (ISA-12) is 00402 or later.
    pub fn from_isa(isa: &[u8]) -> Result<Delimiters, EnvelopeError> {
        if isa.len() < ISA_LEN {
            return Err(EnvelopeError::ShortIsa(isa.len()));
        }
        let (element, component, segment) = (isa[3], isa[104], isa[105]);
        // Every ISA field has a fixed width, so its separators sit at fixed characters.
        const SEPARATORS: [usize; 16] = [
            3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103,
        ];
        if let Some(&at) = SEPARATORS.iter().find(|&&at| isa[at] != element) {
            return Err(EnvelopeError::IsaLayout {
                element: char::from(element),
                at,
            });
        }
        if element == component || element == segment || component == segment {
            return Err(EnvelopeError::IsaDelimiters {
                element: char::from(element),
                component: char::from(component),
                segment: char::from(segment),
            });
        }
        let version = &isa[84..89];
        let repetition = (version >= b"00402".as_slice() && isa[82] != element)
            .then_some(isa[82])
            .filter(|r| !r.is_ascii_alphanumeric());
        Ok(Delimiters {
            element,
            component,
            segment,
            repetition,
            release: None,
        })
    }

    /// The delimiters a UNA segment sets: component, element, decimal mark (not a delimiter),
    /// release, repetition (space: none), segment terminator.
    pub fn from_una(una: &[u8]) -> Result<Delimiters, EnvelopeError> {
        let [
            b'U',
            b'N',
            b'A',
            component,
            element,
            _decimal,
            release,
            repetition,
            segment,
            ..,
        ] = *una
        else {
            return Err(EnvelopeError::ShortUna);
        };
        Ok(Delimiters {
            element,
            component,
            segment,
            repetition: (repetition != b' ').then_some(repetition),
            release: (release != b' ').then_some(release),
        })
    }
}

/// One segment: its text with release characters removed, split into elements, each a run of
/// components. Reused from segment to segment (no allocation once warm).
#[derive(Debug, Clone, Default)]
pub struct Segment {
    text: Vec<u8>,
    /// Byte ranges of every component in `text`, element after element.
    components: Vec<Range<usize>>,
    /// Per element (the tag is element 0), its components' range in `components`.
    elements: Vec<Range<usize>>,
    /// 1-based line and byte offset where the segment starts in the file.
    pub line: u64,
    pub byte: u64,
}

impl Segment {
    /// The segment's tag (`ISA`, `AT7`, `STS`).
    pub fn tag(&self) -> &[u8] {
        self.component(0, 0).unwrap_or_default()
    }

    /// Data elements, not counting the tag.
    pub fn len(&self) -> usize {
        self.elements.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Component `component` (0-based) of element `element` (1-based, as EDI counts: `AT7-05`
    /// is element 5; 0 is the tag). `None` when the segment has no such element or component.
    pub fn component(&self, element: usize, component: usize) -> Option<&[u8]> {
        let range = self.elements.get(element)?;
        let at = range.start.checked_add(component)?;
        (at < range.end).then(|| &self.text[self.components[at].clone()])
    }

    /// Element `element`'s first component: the whole value of a simple element.
    pub fn element(&self, element: usize) -> Option<&[u8]> {
        self.component(element, 0)
    }

    /// Splits `raw` (one segment without its terminator) into `self`, applying the release
    /// character. Repetitions are kept inside their element's text.
    pub fn parse(&mut self, raw: &[u8], delimiters: &Delimiters) -> Result<(), EnvelopeError> {
        self.text.clear();
        self.components.clear();
        self.elements.clear();
        let mut component_start = 0;
        let mut element_start = 0;
        let mut bytes = raw.iter();
        while let Some(&b) = bytes.next() {
            if Some(b) == delimiters.release {
                let &released = bytes.next().ok_or(EnvelopeError::DanglingRelease)?;
                self.text.push(released);
            } else if b == delimiters.element {
                self.components.push(component_start..self.text.len());
                self.elements.push(element_start..self.components.len());
                (component_start, element_start) = (self.text.len(), self.components.len());
            } else if b == delimiters.component {
                self.components.push(component_start..self.text.len());
                component_start = self.text.len();
            } else {
                self.text.push(b);
            }
        }
        self.components.push(component_start..self.text.len());
        self.elements.push(element_start..self.components.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISA: &[u8] = b"ISA*00*          *00*          *ZZ*CARRIERX       *ZZ*SHIPPERY       *250314*0930*^*00501*000000101*0*P*>~";

    #[test]
    fn an_isa_declares_its_own_delimiters() {
        assert_eq!(ISA.len(), ISA_LEN);
        assert_eq!(
            Delimiters::from_isa(ISA).unwrap(),
            Delimiters {
                element: b'*',
                component: b'>',
                segment: b'~',
                repetition: Some(b'^'),
                release: None,
            }
        );
        // Before 00402, ISA-11 is the standards identifier `U`, not a separator.
        let old = String::from_utf8(ISA.to_vec())
            .unwrap()
            .replace("*^*00501*", "*U*00401*")
            .replace('*', "|")
            .replace('~', "\n");
        let d = Delimiters::from_isa(old.as_bytes()).unwrap();
        assert_eq!((d.element, d.segment, d.repetition), (b'|', b'\n', None));
        assert_eq!(
            Delimiters::from_isa(&ISA[..80]),
            Err(EnvelopeError::ShortIsa(80))
        );
        // A receiver ID cut short: the 106 characters read run into the next segment.
        let short = String::from_utf8(ISA.to_vec())
            .unwrap()
            .replace("SHIPPERY       *", "SHIPPERY*")
            + "GS*QM*A*B~";
        assert_eq!(
            Delimiters::from_isa(short.as_bytes()),
            Err(EnvelopeError::IsaLayout {
                element: '*',
                at: 81
            })
        );
    }

    #[test]
    fn una_sets_the_delimiters_and_a_space_means_none() {
        assert_eq!(
            Delimiters::from_una(b"UNA:+.? '").unwrap(),
            Delimiters::EDIFACT
        );
        let d = Delimiters::from_una(b"UNA|*,!^~").unwrap();
        assert_eq!(
            (d.component, d.element, d.release, d.repetition, d.segment),
            (b'|', b'*', Some(b'!'), Some(b'^'), b'~')
        );
        assert_eq!(Delimiters::from_una(b"UNA:+"), Err(EnvelopeError::ShortUna));
    }

    #[test]
    fn a_segment_splits_into_elements_and_components_with_releases_applied() {
        let mut s = Segment::default();
        s.parse(
            b"FTX+AAI+++Left at reception?: desk 2?+?'??",
            &Delimiters::EDIFACT,
        )
        .unwrap();
        assert_eq!(s.tag(), b"FTX");
        assert_eq!(s.len(), 4);
        assert_eq!(s.element(1), Some(b"AAI".as_slice()));
        assert_eq!(s.element(2), Some(b"".as_slice()));
        assert_eq!(
            s.element(4),
            Some(b"Left at reception: desk 2+'?".as_slice())
        );
        assert_eq!(s.element(5), None);

        s.parse(b"STS+1+21:::Delivered", &Delimiters::EDIFACT)
            .unwrap();
        assert_eq!(s.component(2, 0), Some(b"21".as_slice()));
        assert_eq!(s.component(2, 3), Some(b"Delivered".as_slice()));
        assert_eq!(s.component(2, 4), None);

        assert_eq!(
            s.parse(b"FTX+AAI+value?", &Delimiters::EDIFACT),
            Err(EnvelopeError::DanglingRelease)
        );
    }
}
