//! The protocol of an experiment: everything that makes two runs comparable (the
//! data, the test set, the model, how it trains), as a typed value.
//!
//! The engine stores the protocol in `study.json` and a hash of it in every row of
//! `results.jsonl`. Resuming compares the stored protocol with the new one **field
//! by field** (as values of the verb's own type, not as text), and an error names the
//! fields that differ; a row whose hash is not the current protocol's is refused.
//! The grid (sizes, arms, seeds) is not part of the protocol: it may grow between
//! resumes.

use crate::{Error, Result};
use std::path::Path;

/// What a protocol must be: a plain value that serialises, compares and prints.
/// Every verb's protocol struct is one through the blanket implementation.
pub trait Protocol: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Clone + Send + Sync {}

impl<T> Protocol for T where T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Clone + Send + Sync {}

/// A short, stable hash of a protocol: FNV-1a (64 bits) of its canonical JSON, in hex.
/// Stable across runs and machines for the same value; serde_json writes struct
/// fields in declaration order and maps come from ordered types in our protocols.
pub fn protocol_hash<P: serde::Serialize>(protocol: &P) -> Result<String> {
    let bytes = serde_json::to_vec(protocol)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    Ok(format!("{h:016x}"))
}

/// The fields (dotted paths) at which two protocols differ, for an error message.
/// Compares the serialised trees, so it works for any protocol type; empty when equal.
pub fn differences<P: serde::Serialize>(old: &P, new: &P) -> Result<Vec<String>> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value::Object;
        match (a, b) {
            (Object(x), Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    match (x.get(k), y.get(k)) {
                        (Some(u), Some(v)) => walk(&p, u, v, out),
                        _ => out.push(p),
                    }
                }
            }
            _ if a != b => out.push(format!("{} (was {a}, now {b})", if path.is_empty() { "protocol" } else { path })),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", &serde_json::to_value(old)?, &serde_json::to_value(new)?, &mut out);
    Ok(out)
}

/// Refuse to resume into `dir` when its `study.json` holds another protocol.
/// `stored` is the protocol read back from that file (None: no file yet).
pub(crate) fn check_same<P: Protocol>(file: &Path, stored: Option<&P>, now: &P) -> Result<()> {
    match stored {
        Some(old) if old != now => {
            let fields = differences(old, now)?;
            Err(Error::Format {
                path: file.to_path_buf(),
                reason: format!(
                    "holds an experiment with another protocol (differs in: {}); use another --out, or --restart to discard its results",
                    if fields.is_empty() { "its encoding".to_string() } else { fields.join("; ") }
                ),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct P {
        lr: f64,
        model: String,
        inner: Inner,
    }
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Inner {
        steps: usize,
    }

    #[test]
    fn hash_is_stable_and_differences_name_the_fields() {
        let a = P { lr: 1e-3, model: "cnn".into(), inner: Inner { steps: 400 } };
        let b = P { inner: Inner { steps: 200 }, ..a.clone() };
        assert_eq!(protocol_hash(&a).unwrap(), protocol_hash(&a.clone()).unwrap());
        assert_ne!(protocol_hash(&a).unwrap(), protocol_hash(&b).unwrap());
        assert_eq!(protocol_hash(&a).unwrap().len(), 16);
        assert!(differences(&a, &a).unwrap().is_empty());
        let d = differences(&a, &b).unwrap();
        assert_eq!(d, vec!["inner.steps (was 400, now 200)".to_string()]);
        let e = check_same(Path::new("x/study.json"), Some(&a), &b).unwrap_err().to_string();
        assert!(e.contains("x/study.json") && e.contains("inner.steps"), "{e}");
        assert!(check_same(Path::new("x"), Some(&a), &a).is_ok());
        assert!(check_same::<P>(Path::new("x"), None, &a).is_ok());
    }
}
