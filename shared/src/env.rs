//! Typed reading of environment configuration, shared by both functions so that every variable
//! is parsed (and every bad value reported) the same way.

use std::str::FromStr;

/// A configuration variable with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct EnvError {
    pub var: &'static str,
    pub reason: String,
}

/// The variable's value, trimmed; `None` when unset or blank.
pub fn value(get: &impl Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    get(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A number, or `default` when unset.
pub fn number<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, EnvError> {
    read(get, var, default, |v, _| {
        format!("{v:?} is not a whole number")
    })
}

/// A value of a type that says why a text is not one (`FromStr<Err = String>`), or `default`
/// when unset.
pub fn parsed<T: FromStr<Err = String>>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, EnvError> {
    read(get, var, default, |_, reason| reason)
}

/// The variable parsed as a `T`, or `default` when unset; `why` words a value that does not
/// parse.
fn read<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    why: impl FnOnce(&str, T::Err) -> String,
) -> Result<T, EnvError> {
    match value(get, var) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|err| EnvError {
            var,
            reason: why(&v, err),
        }),
    }
}

/// A boolean (`true/false`, `1/0`, `yes/no`, `on/off`), or `default` when unset.
pub fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, EnvError> {
    match value(get, var).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(EnvError {
                var,
                reason: format!("{v:?} is not a boolean"),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: Option<&str>) -> impl Fn(&str) -> Option<String> {
        let v = v.map(str::to_owned);
        move |_| v.clone()
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(number(&env(None), "N", 7u32), Ok(7));
        assert_eq!(number(&env(Some(" 12 ")), "N", 7u32), Ok(12));
        assert_eq!(number(&env(Some("  ")), "N", 7u32), Ok(7));
        let err = number(&env(Some("lots")), "N", 7u32).unwrap_err();
        assert_eq!(err.to_string(), "N: \"lots\" is not a whole number");
        assert_eq!(boolean(&env(Some("On")), "B", false), Ok(true));
        assert_eq!(boolean(&env(None), "B", true), Ok(true));
        assert!(boolean(&env(Some("maybe")), "B", false).is_err());
    }

    #[derive(Debug, PartialEq)]
    struct Even(u32);

    impl FromStr for Even {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            match s.parse::<u32>() {
                Ok(n) if n % 2 == 0 => Ok(Even(n)),
                _ => Err(format!("{s:?} is not even")),
            }
        }
    }

    #[test]
    fn a_type_parses_its_own_values_and_says_why_not() {
        assert_eq!(parsed(&env(None), "E", Even(2)), Ok(Even(2)));
        assert_eq!(parsed(&env(Some(" 4 ")), "E", Even(2)), Ok(Even(4)));
        let err = parsed(&env(Some("5")), "E", Even(2)).unwrap_err();
        assert_eq!(err.to_string(), "E: \"5\" is not even");
    }
}
