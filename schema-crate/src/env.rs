//! Reading configuration from the environment, once, with a test seam.
//!
//! [`Env`] is a lookup (`name → value`): the process environment in production
//! ([`Env::from_env`]), a closure or a list of pairs in tests ([`Env::from_lookup`],
//! [`Env::from_pairs`]), so no test sets a process-wide variable. Its typed readers
//! return `Ok(None)` when the variable is unset and a [`ConfigError`] naming the variable
//! when it is set to something unusable; defaults stay with the caller
//! (`env.parse("PORT", "a port number")?.unwrap_or(DEFAULT_PORT)`).
//!
//! A set but empty variable counts as set for the typed readers (`PORT=` is an error, not
//! the default), and as unset for [`Env::non_empty`] and [`Env::required`].

use std::{fmt, str::FromStr, time::Duration};

use crate::config::ConfigError;

/// Longest part of a bad value quoted back in a [`ConfigError`], in characters.
const QUOTE_MAX_CHARS: usize = 64;

/// A lookup from variable name to value.
type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Where configuration comes from: a lookup from variable name to value.
pub struct Env<'a> {
    lookup: Box<Lookup<'a>>,
}

impl fmt::Debug for Env<'_> {
    // Values may be secrets: never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env<'static> {
    /// The process environment (a value that is not UTF-8 counts as unset).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Exactly these variables, for tests: `Env::from_pairs([("PORT", "8080")])`.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }
}

impl<'a> Env<'a> {
    /// Any lookup: a map, a closure over another source.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// The lookup itself, for APIs that take one (`DbTarget::from_lookup(env.lookup())`).
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| self.string(name)
    }

    /// The raw value, `None` when unset.
    pub fn string(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The value, `None` when unset or empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.string(name).filter(|value| !value.is_empty())
    }

    /// Whether the variable is set to something non-empty.
    pub fn is_set(&self, name: &str) -> bool {
        self.non_empty(name).is_some()
    }

    /// The value, or [`ConfigError::Missing`] with `hint` when unset or empty.
    pub fn required(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.non_empty(name)
            .ok_or(ConfigError::Missing { name, hint })
    }

    /// The value parsed as `T`; a value that does not parse is "`value` is not {what}".
    pub fn parse<T: FromStr>(
        &self,
        name: &'static str,
        what: &str,
    ) -> Result<Option<T>, ConfigError> {
        self.string(name)
            .map(|value| value.parse().map_err(|_| invalid(name, &value, what)))
            .transpose()
    }

    /// A whole number of at least `min`.
    pub fn u64_at_least(&self, name: &'static str, min: u64) -> Result<Option<u64>, ConfigError> {
        let what = match min {
            0 => "a whole number".to_owned(),
            1 => "a positive whole number".to_owned(),
            _ => format!("a whole number of at least {min}"),
        };
        self.string(name)
            .map(|value| {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| invalid(name, &value, &what))
            })
            .transpose()
    }

    /// `true`/`1` or `false`/`0`, in any case.
    pub fn bool(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        self.string(name)
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(invalid(name, &value, "true or false")),
            })
            .transpose()
    }

    /// A duration given in whole milliseconds, at least `min_ms`.
    pub fn millis(&self, name: &'static str, min_ms: u64) -> Result<Option<Duration>, ConfigError> {
        Ok(self.u64_at_least(name, min_ms)?.map(Duration::from_millis))
    }

    /// A duration given in whole seconds, at least `min_secs`.
    pub fn secs(&self, name: &'static str, min_secs: u64) -> Result<Option<Duration>, ConfigError> {
        Ok(self.u64_at_least(name, min_secs)?.map(Duration::from_secs))
    }
}

fn invalid(name: &'static str, value: &str, what: &str) -> ConfigError {
    let quoted = match value.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    };
    ConfigError::Invalid {
        name,
        reason: format!("`{quoted}` is not {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env<'static> {
        Env::from_pairs([
            ("PORT", "8080"),
            ("EMPTY", ""),
            ("BAD", "eighty"),
            ("ZERO", "0"),
            ("YES", "TRUE"),
            ("NO", "0"),
        ])
    }

    #[test]
    fn unset_is_none_and_set_values_parse() {
        let env = env();
        assert_eq!(env.parse::<u16>("PORT", "a port number"), Ok(Some(8080)));
        assert_eq!(env.parse::<u16>("UNSET", "a port number"), Ok(None));
        assert_eq!(env.u64_at_least("ZERO", 0), Ok(Some(0)));
        assert_eq!(env.bool("YES"), Ok(Some(true)));
        assert_eq!(env.bool("NO"), Ok(Some(false)));
        assert_eq!(env.bool("UNSET"), Ok(None));
        assert_eq!(env.millis("PORT", 1), Ok(Some(Duration::from_millis(8080))));
        assert_eq!(env.secs("PORT", 1), Ok(Some(Duration::from_secs(8080))));
    }

    #[test]
    fn bad_values_name_the_variable_and_quote_the_value() {
        let env = env();
        let err = env.parse::<u16>("BAD", "a port number").unwrap_err();
        assert_eq!(
            err.to_string(),
            "BAD is invalid: `eighty` is not a port number"
        );
        let err = env.u64_at_least("ZERO", 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ZERO is invalid: `0` is not a positive whole number"
        );
        let err = env.u64_at_least("PORT", 10_000).unwrap_err();
        assert!(err.to_string().contains("at least 10000"), "{err}");
        let err = env.bool("BAD").unwrap_err();
        assert_eq!(
            err.to_string(),
            "BAD is invalid: `eighty` is not true or false"
        );
        assert!(
            env.parse::<u16>("EMPTY", "a port number").is_err(),
            "empty is set"
        );
    }

    #[test]
    fn empty_counts_as_unset_for_required_values() {
        let env = env();
        assert_eq!(env.non_empty("EMPTY"), None);
        assert_eq!(env.string("EMPTY").as_deref(), Some(""));
        assert!(!env.is_set("EMPTY") && env.is_set("PORT"));
        let err = env.required("EMPTY", "set it").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                name: "EMPTY",
                hint: "set it"
            }
        );
        assert_eq!(env.required("PORT", "set it").as_deref(), Ok("8080"));
    }

    #[test]
    fn a_long_bad_value_is_quoted_cut_and_env_debug_shows_no_value() {
        let long = "x".repeat(10_000);
        let env = Env::from_pairs([("LONG", long.as_str()), ("SECRET", "hunter2")]);
        let err = env.u64_at_least("LONG", 0).unwrap_err().to_string();
        assert!(err.len() < 200 && err.contains('…'), "{err}");
        assert!(!format!("{env:?}").contains("hunter2"));
        let lookup = env.lookup();
        assert_eq!(lookup("SECRET").as_deref(), Some("hunter2"));
    }
}
