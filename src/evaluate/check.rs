//! Input checks shared by the metrics.

use crate::{Error, Result};

pub(crate) fn same_len(what: &str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::shape(format!("{what}: lengths of the two inputs"), a, b));
    }
    Ok(())
}

pub(crate) fn non_empty(what: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(what, "[]", "needs at least one sample"));
    }
    Ok(())
}

pub(crate) fn finite(what: &str, values: &[f64]) -> Result<()> {
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("{what} at index {i}"), value: *v });
    }
    Ok(())
}

/// Labels must lie in `0..k`.
pub(crate) fn labels_below(what: &str, labels: &[i64], k: usize) -> Result<()> {
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l < 0 || l as usize >= k) {
        return Err(Error::invalid(what, l, format!("at index {i}: labels must lie in 0..{k}")));
    }
    Ok(())
}
