//! How settings are spelled and checked, in one place.
//!
//! * A **setting** is a value the command line spells `name` or `name=number`
//!   (`crop=3`, `ridge=0.5`, `lora=8`). Each such type implements [`FromStr`] and
//!   [`Setting`], and the two round-trip: `x.setting().parse() == Ok(x)`. The
//!   command line takes its default lists from the library's `Default`s through
//!   [`settings`], so a default is written once.
//! * A **checked value** cannot be invalid: a tunable that a student sets (a
//!   probability, a rank, a learning rate) is built from unchecked parameters by
//!   [`ParamGuard::check`], which returns an error naming the bad value, in the
//!   spirit of linfa's `ParamGuard`. Architecture configs that have no invalid
//!   states stay plain structs with public fields and `Default`.
//!
//! [`FromStr`]: std::str::FromStr

use crate::{Error, Result};

/// A value with a command-line spelling that parses back to it.
pub trait Setting: std::str::FromStr<Err = Error> {
    /// The spelling, e.g. `crop=3`.
    fn setting(&self) -> String;
}

/// The spellings of `values`: the defaults a command-line flag shows.
pub fn settings<T: Setting>(values: &[T]) -> Vec<String> {
    values.iter().map(Setting::setting).collect()
}

/// Parameters that become a checked value of type `Checked` once validated.
pub trait ParamGuard {
    type Checked;
    /// Validate the parameters without consuming them; errors name the value.
    fn check_ref(&self) -> Result<()>;
    /// Validate and turn into the checked value.
    fn check(self) -> Result<Self::Checked>;
}

/// A `name[=value]` setting as the command line spells operations and models
/// (`crop=4`, `ridge=0.5`): the trimmed name, the value parsed as a finite number
/// (or `default` when absent), and whether a value was given. `what` names the kind
/// of setting in errors.
pub(crate) fn parse_setting(s: &str, what: &str, default: f64) -> Result<(String, f64, bool)> {
    match s.split_once('=') {
        None => Ok((s.trim().to_string(), default, false)),
        Some((name, v)) => {
            let value = v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
            let value = value.ok_or_else(|| Error::invalid(what, s, "expected NAME or NAME=NUMBER"))?;
            Ok((name.trim().to_string(), value, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_the_bad_value() {
        assert_eq!(parse_setting(" crop = 4 ", "op", 0.0).unwrap(), ("crop".into(), 4.0, true));
        assert_eq!(parse_setting("flip", "op", 1.5).unwrap(), ("flip".into(), 1.5, false));
        let e = parse_setting("crop=lots", "augmentation", 0.0).unwrap_err().to_string();
        assert!(e.contains("crop=lots") && e.contains("augmentation"), "{e}");
        assert!(parse_setting("noise=NaN", "augmentation", 0.0).is_err());
    }
}
