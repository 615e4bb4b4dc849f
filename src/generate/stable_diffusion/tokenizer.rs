//! CLIP's byte-level BPE tokenizer, read from a diffusers `tokenizer/` folder, giving
//! the ids `transformers.CLIPTokenizer` (5.x, the `tokenizers`-backed one) gives.
//!
//! The pipeline, in the order transformers runs it:
//!
//! 1. Special tokens (bos, eos, unk, pad and the `added_tokens` of `tokenizer.json`
//!    that are not normalised) are cut out of the raw text, longest match first. They
//!    are matched exactly as written: `<|ENDOFTEXT|>` is not the end token.
//! 2. Each remaining stretch is normalised: NFC, every run of whitespace to one
//!    space, then lower-casing character by character (`ΣΑΣ` becomes `σασ`, no
//!    final sigma).
//! 3. Tokens added with [`ClipTokenizer::add_tokens`] are cut out of the normalised
//!    text, longest match first, anywhere (inside words too: an added `tok` matches
//!    the start of `tokens`). Their own text is normalised the same way, so they
//!    match whatever the case of the prompt (`<TINY-TOY>` is `<tiny-toy>`).
//! 4. The rest is split by CLIP's pattern
//!    `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//!    (whitespace dropped), each piece again by GPT-2's byte-level pattern (this only
//!    changes a `<|endoftext|>` that was not matched in step 1: it becomes `<|`,
//!    `endoftext`, `|>`), each word's UTF-8 bytes mapped through GPT-2's
//!    `bytes_to_unicode`, `</w>` appended to its last symbol, and adjacent symbols
//!    merged lowest merge rank first (leftmost first among equal ranks).
//!
//! A consequence worth knowing: SD 2.x folders use `!` as the pad token, which makes
//! `!` a special token, so every `!` in a prompt becomes the pad id (`toy!!` is
//! `toy</w> ! !`), where SD 1.x gives `!` then `!</w>`. That is what the pipelines
//! feed their text encoders, so it is reproduced here.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::tokenizer_files::{read_json, read_tokenizer_json, read_vocab_merges, special_setting, token_text, Parts};
use crate::{Error, Result};

/// CLIP's pre-tokenising pattern, as transformers' `CLIPTokenizer` sets it.
const CLIP_PATTERN: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";
/// GPT-2's byte-level pattern without its whitespace alternatives (CLIP's pieces hold
/// no whitespace, so they could never match).
const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+";
/// The suffix CLIP's BPE appends to the last symbol of each word.
const END_OF_WORD: &str = "</w>";
/// `model_max_length` when the folder does not say (CLIP's text encoder's positions).
const DEFAULT_MAX_LENGTH: usize = 77;

/// A token matched as a whole string before BPE.
#[derive(Debug, Clone)]
struct Added {
    /// The text as given (what [`ClipTokenizer::token`] returns).
    content: String,
    /// The text matched: `content` itself for special tokens, `content` normalised
    /// for tokens that are matched after normalisation.
    pattern: String,
    id: i64,
}

/// CLIP's byte-level BPE tokenizer, as Stable Diffusion 1.x and 2.x folders ship it
/// (`vocab.json` + `merges.txt`, or `tokenizer.json`), giving the ids
/// `transformers.CLIPTokenizer` gives. See the [module documentation](self) for the
/// steps and their corner cases.
pub struct ClipTokenizer {
    /// The BPE model's vocabulary.
    vocab: HashMap<String, i64>,
    /// Its inverse.
    vocab_r: HashMap<i64, String>,
    /// `(left id, right id)` to `(rank, merged id)`.
    merges: HashMap<(i64, i64), (usize, i64)>,
    /// GPT-2's map from bytes to printable characters.
    byte_chars: [char; 256],
    /// Special tokens, matched in the raw text.
    special: Vec<Added>,
    /// Added tokens matched in the normalised text (from `tokenizer.json` or
    /// [`ClipTokenizer::add_tokens`]).
    normalized: Vec<Added>,
    /// The content of every added or special token to its id.
    added_ids: HashMap<String, i64>,
    /// Ids of added tokens to their content.
    added_r: HashMap<i64, String>,
    clip_re: Regex,
    gpt2_re: Regex,
    ws_re: Regex,
    max_length: usize,
    bos_id: i64,
    eos_id: i64,
    pad_id: i64,
    unk_id: i64,
}

impl fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("vocab", &self.vocab.len())
            .field("merges", &self.merges.len())
            .field("added", &self.normalized.iter().map(|a| (&a.content, a.id)).collect::<Vec<_>>())
            .field("special", &self.special.iter().map(|a| (&a.content, a.id)).collect::<Vec<_>>())
            .field("max_length", &self.max_length)
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .field("pad_id", &self.pad_id)
            .finish()
    }
}

/// GPT-2's reversible map from bytes to printable characters, which CLIP uses.
fn bytes_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
    let mut n = 0u32;
    for b in 0u32..256 {
        let c = if printable(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        map[b as usize] = char::from_u32(c).unwrap_or('\u{fffd}');
    }
    map
}

/// Transformers' CLIP normaliser: NFC, whitespace runs to one space, lower case
/// character by character (as `tokenizers`' `Lowercase` does).
fn normalize(ws_re: &Regex, text: &str) -> String {
    let nfc: String = text.nfc().collect();
    let spaced = ws_re.replace_all(&nfc, " ");
    spaced.chars().flat_map(char::to_lowercase).collect()
}

/// A stretch of text, or a token matched whole.
enum Piece<'a> {
    Text(&'a str),
    Token(i64),
}

/// Splits `text` around the tokens, leftmost match first and the longest among those
/// starting at the same place (Aho-Corasick's leftmost-longest, as `tokenizers` does).
fn split_added<'a>(text: &'a str, tokens: &[Added]) -> Vec<Piece<'a>> {
    if tokens.is_empty() {
        return vec![Piece::Text(text)];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let best = tokens
            .iter()
            .filter(|t| !t.pattern.is_empty() && rest.starts_with(t.pattern.as_str()))
            .max_by_key(|t| t.pattern.len());
        if let Some(t) = best {
            if start < i {
                out.push(Piece::Text(&text[start..i]));
            }
            out.push(Piece::Token(t.id));
            i += t.pattern.len();
            start = i;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    if start < text.len() {
        out.push(Piece::Text(&text[start..]));
    }
    out
}

impl ClipTokenizer {
    /// Reads a diffusers `tokenizer/` folder: `vocab.json` + `merges.txt` when both
    /// are there, otherwise `tokenizer.json` (its `model.vocab`, `model.merges` and
    /// `added_tokens`); then `tokenizer_config.json` and `special_tokens_map.json`
    /// (the latter overriding) for `bos_token`, `eos_token`, `unk_token`, `pad_token`
    /// and `model_max_length`, where present. Defaults are CLIP's:
    /// `<|startoftext|>`, `<|endoftext|>` for the other three, and 77.
    ///
    /// Errors, each naming its file: neither form in the folder ([`Error::NotFound`]),
    /// `vocab.json` without `merges.txt`, an unreadable file ([`Error::Io`]), invalid
    /// JSON, a merges line that is not two symbols, a merge whose symbols or result
    /// are not in the vocabulary, a special token (pad included) not in the
    /// vocabulary, or an unusable `model_max_length` ([`Error::Format`]).
    pub fn from_folder(dir: &Path) -> Result<Self> {
        let vocab_path = dir.join("vocab.json");
        let merges_path = dir.join("merges.txt");
        let json_path = dir.join("tokenizer.json");
        let parts = if vocab_path.is_file() {
            if !merges_path.is_file() {
                return Err(Error::NotFound {
                    what: format!("merges.txt to go with {}", vocab_path.display()),
                    searched: vec![merges_path],
                });
            }
            read_vocab_merges(&vocab_path, &merges_path)?
        } else if json_path.is_file() {
            read_tokenizer_json(&json_path)?
        } else {
            return Err(Error::NotFound {
                what: "a CLIP tokenizer (vocab.json + merges.txt, or tokenizer.json)".into(),
                searched: vec![vocab_path, merges_path, json_path],
            });
        };

        let mut configs = Vec::new();
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let p = dir.join(name);
            if p.is_file() {
                let v = read_json(&p)?;
                if !v.is_object() {
                    return Err(Error::format(&p, "is not a JSON object"));
                }
                configs.push((p, v));
            }
        }

        let Parts { vocab, merges: merge_list, added: mut file_added, vocab_path } = parts;
        let vocab_r: HashMap<i64, String> = vocab.iter().map(|(t, &i)| (i, t.clone())).collect();
        let mut merges = HashMap::with_capacity(merge_list.len());
        for (rank, (l, r, path, place)) in merge_list.into_iter().enumerate() {
            let get = |t: &str| {
                vocab.get(t).copied().ok_or_else(|| {
                    Error::format(&path, format!("{place}: merge \"{l} {r}\": {t:?} is not in the vocabulary"))
                })
            };
            let (a, b, m) = (get(&l)?, get(&r)?, get(&format!("{l}{r}"))?);
            merges.insert((a, b), (rank, m));
        }

        // Added tokens that config files list by id (transformers 4's `added_tokens_decoder`).
        for (path, cfg) in &configs {
            if let Some(dec) = cfg.get("added_tokens_decoder").and_then(Value::as_object) {
                for (id, t) in dec {
                    let id: i64 = id
                        .parse()
                        .map_err(|_| Error::format(path, format!("added_tokens_decoder key {id:?} is not an id")))?;
                    let content = token_text(t)
                        .ok_or_else(|| Error::format(path, format!("added_tokens_decoder[{id}] has no content")))?;
                    let special = t.get("special").and_then(Value::as_bool).unwrap_or(false);
                    let normalized = t.get("normalized").and_then(Value::as_bool).unwrap_or(!special);
                    file_added.push((content, id, normalized && !special));
                }
            }
        }

        let max_length = match configs.iter().rev().find_map(|(p, c)| c.get("model_max_length").map(|v| (p, v))) {
            None | Some((_, Value::Null)) => DEFAULT_MAX_LENGTH,
            Some((path, v)) => match v.as_f64() {
                Some(x) if x.fract() == 0.0 && (2.0..=1_048_576.0).contains(&x) => x as usize,
                _ => {
                    return Err(Error::format(
                        path,
                        format!("model_max_length = {v} is not a usable length (an integer from 2 to 2^20)"),
                    ))
                }
            },
        };

        let ws_re = Regex::new(r"\s+").map_err(|e| Error::invalid("regex", r"\s+", e.to_string()))?;
        let clip_re = Regex::new(CLIP_PATTERN).map_err(|e| Error::invalid("regex", CLIP_PATTERN, e.to_string()))?;
        let gpt2_re = Regex::new(GPT2_PATTERN).map_err(|e| Error::invalid("regex", GPT2_PATTERN, e.to_string()))?;

        let mut tok = ClipTokenizer {
            vocab,
            vocab_r,
            merges,
            byte_chars: bytes_to_unicode(),
            special: Vec::new(),
            normalized: Vec::new(),
            added_ids: HashMap::new(),
            added_r: HashMap::new(),
            clip_re,
            gpt2_re,
            ws_re,
            max_length,
            bos_id: 0,
            eos_id: 0,
            pad_id: 0,
            unk_id: 0,
        };
        for (content, id, normalized) in file_added {
            tok.register(content, id, normalized);
        }
        let mut ids = [0i64; 4];
        for (slot, (key, default)) in [
            ("bos_token", "<|startoftext|>"),
            ("eos_token", "<|endoftext|>"),
            ("unk_token", "<|endoftext|>"),
            ("pad_token", "<|endoftext|>"),
        ]
        .into_iter()
        .enumerate()
        {
            let (content, from) = special_setting(&configs, key, default);
            let id = tok.token_id(&content).ok_or_else(|| {
                let file = from.unwrap_or_else(|| vocab_path.clone());
                Error::format(file, format!("{key} {content:?} is not in the vocabulary"))
            })?;
            if !tok.special.iter().any(|a| a.content == content) {
                tok.normalized.retain(|a| a.content != content);
                tok.register(content, id, false);
            }
            ids[slot] = id;
        }
        [tok.bos_id, tok.eos_id, tok.unk_id, tok.pad_id] = ids;
        Ok(tok)
    }

    /// Records an added token: special ones (not normalised) are matched in the raw
    /// text, the others in the normalised text.
    fn register(&mut self, content: String, id: i64, normalized: bool) {
        let pattern = if normalized { normalize(&self.ws_re, &content) } else { content.clone() };
        let entry = Added { content: content.clone(), pattern, id };
        if normalized {
            self.normalized.push(entry);
        } else {
            self.special.push(entry);
        }
        self.added_r.insert(id, content.clone());
        self.added_ids.insert(content, id);
    }

    /// Token ids of `text`, without the start and end tokens and without padding: what
    /// `tokenizer.encode(text, add_special_tokens=False)` gives.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut out = Vec::new();
        for piece in split_added(text, &self.special) {
            match piece {
                Piece::Token(id) => out.push(id),
                Piece::Text(raw) => {
                    let norm = normalize(&self.ws_re, raw);
                    for piece in split_added(&norm, &self.normalized) {
                        match piece {
                            Piece::Token(id) => out.push(id),
                            Piece::Text(t) => self.encode_plain(t, &mut out),
                        }
                    }
                }
            }
        }
        out
    }

    /// `<|startoftext|>`, the ids of `text` cut to `max_length() - 2`, `<|endoftext|>`,
    /// then the pad id up to `max_length()`: what the pipelines give their text
    /// encoders (`padding="max_length", truncation=True`).
    pub fn encode_padded(&self, text: &str) -> Vec<i64> {
        let mut ids = self.encode(text);
        ids.truncate(self.max_length.saturating_sub(2));
        let mut out = Vec::with_capacity(self.max_length);
        out.push(self.bos_id);
        out.extend(ids);
        out.push(self.eos_id);
        out.resize(self.max_length.max(out.len()), self.pad_id);
        out
    }

    /// Adds tokens matched as whole strings before BPE (textual inversion's
    /// placeholders), with ids `len()`, `len() + 1`, ... in order, which are returned.
    /// Like transformers' `add_tokens`, they are matched in the normalised text, so
    /// case and whitespace runs in the prompt do not matter, and anywhere, also inside
    /// a word.
    ///
    /// An error, naming the token, when a token is empty or only whitespace, or is
    /// already in the vocabulary (base or added, or matches the same text as an added
    /// token, e.g. `<Toy>` after `<toy>`); nothing is added then. (Transformers would
    /// instead skip it, or give a base-vocabulary string an added-token entry with its
    /// old id, which changes how that text is tokenised.)
    pub fn add_tokens(&mut self, tokens: &[&str]) -> Result<Vec<i64>> {
        let mut seen_patterns: HashSet<String> = self.normalized.iter().map(|a| a.pattern.clone()).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        for &t in tokens {
            if t.trim().is_empty() {
                return Err(Error::invalid("token", format!("{t:?}"), "an added token must have a non-space character"));
            }
            if self.token_id(t).is_some() || !seen.insert(t) {
                return Err(Error::invalid("token", t, "already in the vocabulary"));
            }
            if !seen_patterns.insert(normalize(&self.ws_re, t)) {
                return Err(Error::invalid(
                    "token",
                    t,
                    "matches the same text as a token already added (added tokens are matched after lower-casing)",
                ));
            }
        }
        let mut ids = Vec::with_capacity(tokens.len());
        for &t in tokens {
            let max_id = self.vocab_r.keys().chain(self.added_r.keys()).copied().max().unwrap_or(-1);
            let id = (self.len() as i64).max(max_id + 1);
            self.register(t.to_owned(), id, true);
            ids.push(id);
        }
        Ok(ids)
    }

    /// The id of a token: a vocabulary entry (`"toy</w>"`, `"<|endoftext|>"`) or an
    /// added token as it was given.
    pub fn token_id(&self, token: &str) -> Option<i64> {
        self.added_ids.get(token).or_else(|| self.vocab.get(token)).copied()
    }

    /// The token of an id: an added token as it was given, otherwise the vocabulary
    /// entry. (Transformers' `convert_ids_to_tokens` gives an added token's
    /// lower-cased form.)
    pub fn token(&self, id: i64) -> Option<&str> {
        self.added_r.get(&id).or_else(|| self.vocab_r.get(&id)).map(String::as_str)
    }

    /// The number of distinct ids: base vocabulary plus added tokens (`len(tokenizer)`).
    pub fn len(&self) -> usize {
        self.vocab_r.len() + self.added_r.keys().filter(|id| !self.vocab_r.contains_key(id)).count()
    }

    /// Whether there are no tokens at all (never, for a folder that loaded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `model_max_length`: the padded length, 77 for Stable Diffusion.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The padding id (`<|endoftext|>` in SD 1.x, `!` in SD 2.x).
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    /// The start id (`<|startoftext|>`).
    pub fn bos_id(&self) -> i64 {
        self.bos_id
    }

    /// The end id (`<|endoftext|>`).
    pub fn eos_id(&self) -> i64 {
        self.eos_id
    }

    /// Pre-tokenises normalised text with no added tokens in it and appends the BPE ids.
    fn encode_plain(&self, text: &str, out: &mut Vec<i64>) {
        for piece in self.clip_re.find_iter(text) {
            for word in self.gpt2_re.find_iter(piece.as_str()) {
                self.bpe(word.as_str(), out);
            }
        }
    }

    /// BPE of one word: its bytes as GPT-2 characters, `</w>` on the last, then the
    /// adjacent pair of lowest merge rank merged (leftmost first) until none merges.
    fn bpe(&self, word: &str, out: &mut Vec<i64>) {
        let chars: Vec<char> = word.bytes().map(|b| self.byte_chars[b as usize]).collect();
        let n = chars.len();
        let mut symbols: Vec<i64> = chars
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = if i + 1 == n { format!("{c}{END_OF_WORD}") } else { c.to_string() };
                self.vocab.get(&s).copied().unwrap_or(self.unk_id)
            })
            .collect();
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(pos, w)| self.merges.get(&(w[0], w[1])).map(|&(rank, id)| (rank, pos, id)))
                .min();
            match best {
                Some((_, pos, id)) => {
                    symbols[pos] = id;
                    symbols.remove(pos + 1);
                }
                None => break,
            }
        }
        out.extend(symbols);
    }
}
