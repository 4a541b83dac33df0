//! Paths into structured carrier files (XML, JSON documents): where a profile's `record` is and
//! where each column's value sits, relative to the record or from the root.
//!
//! One grammar serves both formats, so a carrier team learns it once: steps separated by `/`,
//! `..` to the parent, `@name` as the last step for an XML attribute, a leading `/` for a path
//! from the root, `.` for the node itself. Parsing is pure and happens when the profile loads, so
//! a bad path fails before any file is read; the readers compile the same text again.

use std::fmt;

/// Separates a column's alternative paths, as a profile's array of paths is kept: the first
/// that has a value is taken (`tracking_number = ["../L11[@02=2I]/@01", "../B10/@01"]`).
pub const ALTERNATIVES: &str = " | ";

/// A column's path, normalized: how many levels up from the record, then which steps down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePath {
    /// `true` for a path from the root (`/TrackingFile/Header/Carrier`).
    pub absolute: bool,
    /// Levels above the record (`..` steps), always 0 for absolute paths.
    pub up: usize,
    /// Names to descend through after going up (element local names or object keys).
    pub steps: Vec<String>,
    /// An XML attribute of the node reached (`@id`).
    pub attribute: Option<String>,
    /// `Name[@attr=value]` on the last named step: only a node whose attribute `attr` is
    /// `value` matches (the first such node wins), e.g. `../L11[@02=2I]/@01`.
    pub predicate: Option<Condition>,
}

/// A record path: the names from the root, and the condition its node must meet.
pub type RecordPath = (Vec<String>, Option<Condition>);

/// A step's condition on one of the node's attributes: `[@02=2I]` (that value) or `[@01]`
/// (any value but an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub attribute: String,
    /// `None`: present and not empty.
    pub value: Option<String>,
}

impl Condition {
    /// Whether a node meets it, `attribute` looking its attributes up.
    pub fn holds(&self, attribute: &mut crate::reader::Attributes<'_>) -> bool {
        let found = attribute(&self.attribute);
        match &self.value {
            Some(value) => found.as_deref() == Some(value.as_str()),
            None => found.is_some_and(|v| !v.trim().is_empty()),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "[@{}={value}]", self.attribute),
            None => write!(f, "[@{}]", self.attribute),
        }
    }
}

/// Why a path is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("is empty")]
    Empty,
    #[error("has an empty step (`//` or a trailing `/`)")]
    EmptyStep,
    #[error("`{0}`: an attribute step must be the last one and name an attribute")]
    Attribute(String),
    #[error("goes above the root with `..`")]
    AboveRoot,
    #[error("a record path cannot use `..` or `@`: it names elements or keys from the root")]
    RecordStep,
    #[error("`{0}`: a condition `[@name=value]` goes on the last named step only")]
    Predicate(String),
}

impl NodePath {
    /// Parses a column path, e.g. `Where/City`, `../../@id`, `/TrackingFile/Header/Carrier`.
    pub fn parse(text: &str) -> Result<NodePath, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let absolute = text.starts_with('/');
        let body = if absolute { &text[1..] } else { text };
        let mut path = NodePath {
            absolute,
            up: 0,
            steps: Vec::new(),
            attribute: None,
            predicate: None,
        };
        if body.is_empty() {
            return if absolute {
                Ok(path)
            } else {
                Err(PathError::Empty)
            };
        }
        let parts: Vec<&str> = body.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            match *part {
                "" => return Err(PathError::EmptyStep),
                "." => {}
                ".." if path.predicate.is_some() => {
                    // `a[@x=y]/..` would drop the step its condition is on.
                    return Err(PathError::Predicate(text.to_owned()));
                }
                ".." => match path.steps.pop() {
                    Some(_) => {}
                    None if absolute => return Err(PathError::AboveRoot),
                    None => path.up += 1,
                },
                attr if attr.starts_with('@') => {
                    if i + 1 != parts.len() || attr.len() == 1 {
                        return Err(PathError::Attribute((*part).to_owned()));
                    }
                    path.attribute = Some(attr[1..].to_owned());
                }
                step => {
                    if path.predicate.is_some() {
                        return Err(PathError::Predicate((*part).to_owned()));
                    }
                    let (name, predicate) = split_predicate(step)?;
                    path.steps.push(name.to_owned());
                    path.predicate = predicate;
                }
            }
        }
        Ok(path)
    }

    /// Parses a profile's `record` path: names from the root, or `.` for the root itself, and
    /// a condition a node must meet to be a record (`AT7[@01]`: an AT7 with a status code).
    pub fn parse_record(text: &str) -> Result<RecordPath, PathError> {
        let path = NodePath::parse(text.strip_prefix('/').unwrap_or(text))?;
        if path.up > 0 || path.attribute.is_some() || text.split('/').any(|s| s == "..") {
            return Err(PathError::RecordStep);
        }
        Ok((path.steps, path.predicate))
    }
}

/// `Name[@attr=value]` → (`Name`, the condition); a plain name as it is.
fn split_predicate(step: &str) -> Result<(&str, Option<Condition>), PathError> {
    let Some(open) = step.find('[') else {
        return Ok((step, None));
    };
    let condition = step[open..]
        .strip_prefix("[@")
        .and_then(|c| c.strip_suffix(']'))
        .map(|c| match c.split_once('=') {
            Some((attr, value)) => (attr, Some(value.to_owned())),
            None => (c, None),
        })
        .filter(|(attr, _)| !attr.is_empty() && open > 0);
    match condition {
        Some((attr, value)) => Ok((
            &step[..open],
            Some(Condition {
                attribute: attr.to_owned(),
                value,
            }),
        )),
        None => Err(PathError::Predicate(step.to_owned())),
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<&str> = Vec::new();
        parts.extend(std::iter::repeat_n("..", self.up));
        let last = self
            .predicate
            .as_ref()
            .and_then(|condition| Some(format!("{}{condition}", self.steps.last()?)));
        let named = self.steps.len() - usize::from(last.is_some());
        parts.extend(self.steps[..named].iter().map(String::as_str));
        parts.extend(last.as_deref());
        let attribute = self.attribute.as_ref().map(|a| format!("@{a}"));
        parts.extend(attribute.as_deref());
        let joined = parts.join("/");
        match (self.absolute, joined.is_empty()) {
            (true, _) => write!(f, "/{joined}"),
            (false, true) => f.write_str("."),
            (false, false) => f.write_str(&joined),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> NodePath {
        NodePath::parse(text).unwrap()
    }

    fn path(absolute: bool, up: usize, steps: &[&str], attribute: Option<&str>) -> NodePath {
        NodePath {
            absolute,
            up,
            steps: steps.iter().map(|s| (*s).to_owned()).collect(),
            attribute: attribute.map(str::to_owned),
            predicate: None,
        }
    }

    #[test]
    fn paths_normalize_to_levels_up_and_steps_down() {
        assert_eq!(parsed("Code"), path(false, 0, &["Code"], None));
        assert_eq!(
            parsed("Where/City"),
            path(false, 0, &["Where", "City"], None)
        );
        assert_eq!(parsed("../../@id"), path(false, 2, &[], Some("id")));
        assert_eq!(parsed("../Ref/./x"), path(false, 1, &["Ref", "x"], None));
        assert_eq!(parsed("a/../../b"), path(false, 1, &["b"], None));
        assert_eq!(parsed("."), path(false, 0, &[], None));
        assert_eq!(parsed("@code"), path(false, 0, &[], Some("code")));
        assert_eq!(
            parsed("/TrackingFile/Header/Carrier"),
            path(true, 0, &["TrackingFile", "Header", "Carrier"], None)
        );
    }

    #[test]
    fn a_condition_on_the_last_step_picks_among_siblings() {
        let p = parsed("../../L11[@02=2I]/@01");
        assert_eq!((p.up, p.steps.clone()), (2, vec!["L11".to_owned()]));
        assert_eq!(
            p.predicate,
            Some(Condition {
                attribute: "02".into(),
                value: Some("2I".into())
            })
        );
        assert_eq!(p.attribute.as_deref(), Some("01"));
        assert_eq!(p.to_string(), "../../L11[@02=2I]/@01");
        assert_eq!(parsed("Ref[@type=TRK]").to_string(), "Ref[@type=TRK]");
        let present = parsed("AT7[@01]").predicate.unwrap();
        assert_eq!(present.to_string(), "[@01]");
        assert!(present.holds(&mut |_| Some("X1".into())));
        assert!(!present.holds(&mut |_| Some(" ".into())));
        assert!(!present.holds(&mut |_| None));
        for bad in [
            "A[@]",
            "A[@x=1]/B",
            "A[x=1]",
            "[@x=1]",
            "A[@=1]",
            "A[@x=1",
            "A[@x=1]/..",
        ] {
            assert!(
                matches!(NodePath::parse(bad), Err(PathError::Predicate(_))),
                "{bad}: {:?}",
                NodePath::parse(bad)
            );
        }
        let (steps, condition) = NodePath::parse_record("A/B[@x]").unwrap();
        assert_eq!(
            (steps.len(), condition.unwrap().to_string()),
            (2, "[@x]".to_owned())
        );
    }

    #[test]
    fn malformed_paths_say_why() {
        assert_eq!(NodePath::parse(""), Err(PathError::Empty));
        assert_eq!(NodePath::parse("a//b"), Err(PathError::EmptyStep));
        assert_eq!(NodePath::parse("a/"), Err(PathError::EmptyStep));
        assert_eq!(
            NodePath::parse("@id/x"),
            Err(PathError::Attribute("@id".into()))
        );
        assert_eq!(
            NodePath::parse("a/@"),
            Err(PathError::Attribute("@".into()))
        );
        assert_eq!(NodePath::parse("/a/../.."), Err(PathError::AboveRoot));
    }

    #[test]
    fn record_paths_name_nodes_from_the_root() {
        assert_eq!(
            NodePath::parse_record("TrackingFile/Shipment/Events/Event")
                .unwrap()
                .0,
            ["TrackingFile", "Shipment", "Events", "Event"]
        );
        assert_eq!(
            NodePath::parse_record("/shipments/events").unwrap().0,
            ["shipments", "events"]
        );
        assert!(NodePath::parse_record(".").unwrap().0.is_empty());
        assert_eq!(NodePath::parse_record("a/../b"), Err(PathError::RecordStep));
        assert_eq!(NodePath::parse_record("a/@id"), Err(PathError::RecordStep));
    }

    #[test]
    fn a_path_displays_in_its_normal_form() {
        for (text, shown) in [
            ("../../@id", "../../@id"),
            ("a/../b", "b"),
            (".", "."),
            ("/A/B", "/A/B"),
            ("Where/./City", "Where/City"),
        ] {
            assert_eq!(NodePath::parse(text).unwrap().to_string(), shown);
        }
    }
}
