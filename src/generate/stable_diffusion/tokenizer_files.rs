//! The files a CLIP tokenizer is read from: `vocab.json` + `merges.txt`, or the HF
//! `tokenizers` format's `tokenizer.json`, and the special-token settings of
//! `tokenizer_config.json` / `special_tokens_map.json`. Every error names the file and
//! the place in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::IoContext;
use crate::{Error, Result};

/// Reads and parses a JSON file, the error naming the file.
pub(super) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("is not valid JSON: {e}")))
}

/// A special-token entry of a tokenizer config: a string, an `AddedToken` object with
/// `content`, or null.
pub(super) fn token_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// A vocabulary id from JSON: a non-negative integer.
fn json_id(v: &Value, path: &Path, what: &str) -> Result<i64> {
    v.as_u64()
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| Error::format(path, format!("{what}: id {v} is not a non-negative integer")))
}

/// What a folder's files say, before the tokenizer is assembled.
pub(super) struct Parts {
    pub(super) vocab: HashMap<String, i64>,
    /// Merges in rank order, with the file and the place in it (for errors).
    pub(super) merges: Vec<(String, String, PathBuf, String)>,
    /// `(content, id, normalized)` of added tokens listed by the files.
    pub(super) added: Vec<(String, i64, bool)>,
    /// The file the vocabulary came from (named when a default special token is missing).
    pub(super) vocab_path: PathBuf,
}

/// `vocab.json` + `merges.txt`.
pub(super) fn read_vocab_merges(vocab_path: &Path, merges_path: &Path) -> Result<Parts> {
    let vocab_json = read_json(vocab_path)?;
    let obj = vocab_json
        .as_object()
        .ok_or_else(|| Error::format(vocab_path, "is not a JSON object of token to id"))?;
    let mut vocab = HashMap::with_capacity(obj.len());
    for (tok, id) in obj {
        vocab.insert(tok.clone(), json_id(id, vocab_path, &format!("token {tok:?}"))?);
    }
    let text = std::fs::read_to_string(merges_path).at(merges_path)?;
    let mut merges = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with("#version") || (line.is_empty() && i + 1 == lines.len()) {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::format(
                merges_path,
                format!("line {}: {line:?} is not a merge (two symbols separated by one space)", i + 1),
            ));
        }
        merges.push((parts[0].to_owned(), parts[1].to_owned(), merges_path.to_path_buf(), format!("line {}", i + 1)));
    }
    Ok(Parts { vocab, merges, added: Vec::new(), vocab_path: vocab_path.to_path_buf() })
}

/// The HF `tokenizers` format: `model.vocab`, `model.merges` (strings `"a b"` or
/// pairs) and `added_tokens`.
pub(super) fn read_tokenizer_json(path: &Path) -> Result<Parts> {
    let json = read_json(path)?;
    let model = json.get("model").ok_or_else(|| Error::format(path, "has no \"model\""))?;
    if let Some(t) = model.get("type").and_then(Value::as_str) {
        if t != "BPE" {
            return Err(Error::format(path, format!("model type is {t:?}; CLIP's tokenizer is \"BPE\"")));
        }
    }
    let obj = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::format(path, "model.vocab is missing or not an object of token to id"))?;
    let mut vocab = HashMap::with_capacity(obj.len());
    for (tok, id) in obj {
        vocab.insert(tok.clone(), json_id(id, path, &format!("model.vocab token {tok:?}"))?);
    }
    let list = model
        .get("merges")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::format(path, "model.merges is missing or not a list"))?;
    let mut merges = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let pair: Option<(String, String)> = match m {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(' ').collect();
                (parts.len() == 2 && parts.iter().all(|p| !p.is_empty())).then(|| (parts[0].to_owned(), parts[1].to_owned()))
            }
            Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                (Some(l), Some(r)) if !l.is_empty() && !r.is_empty() => Some((l.to_owned(), r.to_owned())),
                _ => None,
            },
            _ => None,
        };
        let (l, r) = pair.ok_or_else(|| {
            Error::format(path, format!("model.merges[{i}] = {m} is not a merge (\"a b\" or [\"a\", \"b\"])"))
        })?;
        merges.push((l, r, path.to_path_buf(), format!("model.merges[{i}]")));
    }
    let mut added = Vec::new();
    if let Some(list) = json.get("added_tokens") {
        let list = list.as_array().ok_or_else(|| Error::format(path, "added_tokens is not a list"))?;
        for (i, t) in list.iter().enumerate() {
            let content = t
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::format(path, format!("added_tokens[{i}] has no \"content\"")))?;
            let id = json_id(t.get("id").unwrap_or(&Value::Null), path, &format!("added_tokens[{i}]"))?;
            let normalized = t.get("normalized").and_then(Value::as_bool).unwrap_or(false);
            added.push((content.to_owned(), id, normalized));
        }
    }
    Ok(Parts { vocab, merges, added, vocab_path: path.to_path_buf() })
}

/// Reads a special-token setting from the config files, the later file overriding.
pub(super) fn special_setting(configs: &[(PathBuf, Value)], key: &str, default: &str) -> (String, Option<PathBuf>) {
    let mut found = (default.to_owned(), None);
    for (path, cfg) in configs {
        if let Some(s) = cfg.get(key).and_then(token_text) {
            found = (s, Some(path.clone()));
        }
    }
    found
}
