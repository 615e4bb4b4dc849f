//! CLIP's tokenizer against `transformers.CLIPTokenizer` 5.25: the ids in
//! tests/golden/sd/expected.json (written by tests/golden/make_sd_golden.py) and a few
//! corner cases whose ids were read off the real tokenizer by hand.

use std::path::{Path, PathBuf};

use serde_json::Value;
use smalldata::generate::stable_diffusion::ClipTokenizer;
use smalldata::Error;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sd")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(golden().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn open(name: &str) -> ClipTokenizer {
    ClipTokenizer::from_folder(&golden().join(name).join("tokenizer")).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect()
}

/// Every prompt, padded, as the pipeline tokenises it.
fn check_prompts(name: &str) {
    let e = expected();
    let tok = open(name);
    let prompts = strings(&e["prompts"]);
    let want = e[name]["prompt_ids"].as_array().unwrap();
    assert_eq!(prompts.len(), want.len());
    assert!(prompts.len() >= 6);
    for (p, w) in prompts.iter().zip(want) {
        assert_eq!(tok.encode_padded(p), ids(w), "{name}: prompt {p:?}");
    }
    let pad = e[name]["pad_token"].as_str().unwrap();
    assert_eq!(tok.token_id(pad), Some(tok.pad_id()), "{name}");
    assert_eq!(tok.token(tok.pad_id()), Some(pad));
    assert_eq!(tok.max_length(), 77);
    assert_eq!(tok.token(tok.bos_id()), Some("<|startoftext|>"));
    assert_eq!(tok.token(tok.eos_id()), Some("<|endoftext|>"));
}

#[test]
fn sd1_prompts_match_transformers() {
    check_prompts("sd1");
}

#[test]
fn sd2_prompts_match_transformers() {
    check_prompts("sd2");
}

#[test]
fn long_prompt_is_cut_keeping_the_end_token() {
    let e = expected();
    let tok = open("sd1");
    let prompts = strings(&e["prompts"]);
    let long = prompts.iter().position(|p| p.split(' ').count() > 77).unwrap();
    let got = tok.encode_padded(&prompts[long]);
    assert_eq!(got.len(), 77);
    assert_eq!(got[76], tok.eos_id());
    assert!(tok.encode(&prompts[long]).len() > 77);
    assert_eq!(got, ids(&e["sd1"]["prompt_ids"][long]));
}

#[test]
fn encode_has_no_special_tokens() {
    let e = expected();
    for name in ["sd1", "sd2"] {
        let tok = open(name);
        let inv = &e[name]["inversion"];
        assert_eq!(tok.encode(inv["initializer"].as_str().unwrap()), vec![inv["initializer_id"].as_i64().unwrap()]);
        // the first prompt's ids between the start and the end token
        let want = ids(&e[name]["prompt_ids"][0]);
        let end = want.iter().position(|&i| i == tok.eos_id()).unwrap();
        assert_eq!(tok.encode(e["prompts"][0].as_str().unwrap()), want[1..end].to_vec());
        assert_eq!(tok.encode(""), Vec::<i64>::new());
    }
}

/// Textual inversion's tokens: ids, the training texts, and the pipeline's prompt.
fn check_inversion(name: &str, tokens: &[&str]) {
    let e = expected();
    let rec = &e[name];
    let inv = &rec["inversion"];
    let mut tok = open(name);
    let before = tok.len();
    assert_eq!(before, 622, "the fixture's vocabulary has 622 entries");
    assert_eq!(tokens[0], inv["placeholder"].as_str().unwrap());
    assert_eq!(tokens.len() as i64, inv["num_vectors"].as_i64().unwrap());
    let got = tok.add_tokens(tokens).unwrap();
    assert_eq!(got, ids(&inv["placeholder_ids"]));
    assert_eq!(tok.len(), before + tokens.len());
    for (t, id) in tokens.iter().zip(&got) {
        assert_eq!(tok.token_id(t), Some(*id));
        assert_eq!(tok.token(*id), Some(*t));
    }
    let steps = inv["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    for (s, step) in steps.iter().enumerate() {
        let texts = strings(&step["texts"]);
        let want = step["input_ids"].as_array().unwrap();
        assert_eq!(texts.len(), want.len());
        for (t, w) in texts.iter().zip(want) {
            assert_eq!(tok.encode_padded(t), ids(w), "{name} step {s}: {t:?}");
        }
    }
    let ti = rec["ti_prompt"].as_str().unwrap();
    assert_eq!(tok.encode_padded(ti), ids(&rec["ti_prompt_ids"][0]), "{name}: {ti:?}");
    assert_eq!(tok.encode(inv["initializer"].as_str().unwrap()), vec![inv["initializer_id"].as_i64().unwrap()]);
}

#[test]
fn sd1_inversion_tokens_match_transformers() {
    check_inversion("sd1", &["<tiny-toy>", "<tiny-toy>_1"]);
    let e = expected();
    assert_eq!(e["sd1"]["ti_prompt"].as_str().unwrap(), "a photo of <tiny-toy> <tiny-toy>_1");
}

#[test]
fn sd2_inversion_token_matches_transformers() {
    check_inversion("sd2", &["<tiny-toy>"]);
}

#[test]
fn adding_a_present_token_is_an_error_naming_it() {
    let mut tok = open("sd1");
    // a base-vocabulary entry ("toy</w>"), a special token, an intermediate merge ("photo")
    for t in ["toy</w>", "<|endoftext|>", "photo"] {
        let err = tok.add_tokens(&[t]).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
        assert!(err.to_string().contains(t), "{err}");
    }
    assert_eq!(tok.len(), 622);
    tok.add_tokens(&["<tiny-toy>"]).unwrap();
    let err = tok.add_tokens(&["<new>", "<tiny-toy>"]).unwrap_err();
    assert!(err.to_string().contains("<tiny-toy>"), "{err}");
    // nothing of a refused call is added
    assert_eq!(tok.token_id("<new>"), None);
    assert_eq!(tok.len(), 623);
    // the same token twice in one call
    let err = tok.add_tokens(&["<twice>", "<twice>"]).unwrap_err();
    assert!(err.to_string().contains("<twice>"), "{err}");
    // matched after lower-casing, so "<TINY-TOY>" would never be matched as itself
    let err = tok.add_tokens(&["<TINY-TOY>"]).unwrap_err();
    assert!(err.to_string().contains("<TINY-TOY>"), "{err}");
    assert!(tok.add_tokens(&[""]).is_err());
    assert!(tok.add_tokens(&["  "]).is_err());
    assert_eq!(tok.len(), 623);
    assert_eq!(tok.add_tokens(&["<new>"]).unwrap(), vec![623]);
    assert_eq!(tok.len(), 624);
}

/// Ids read off `CLIPTokenizer.from_pretrained(...)` (transformers 5.25) for corner cases.
#[test]
fn corner_cases_match_transformers() {
    let sd1 = open("sd1");
    let sd2 = open("sd2");
    // SD 2's pad token "!" is a special token: every "!" is matched whole
    assert_eq!(sd1.encode("toy!!"), vec![523, 0, 256]);
    assert_eq!(sd2.encode("toy!!"), vec![523, 0, 0]);
    assert_eq!(sd2.encode_padded("Hi!! <|startoftext|>")[..8], [620, 71, 328, 0, 0, 620, 621, 0]);
    // special tokens are matched case-sensitively in the raw text, anywhere
    assert_eq!(sd1.encode("<|endoftext|>x"), vec![621, 343]);
    assert_eq!(sd1.encode("a<|startoftext|>b"), vec![320, 620, 321]);
    assert_eq!(sd1.encode("<|ENDOFTEXT|> x"), vec![27, 347, 68, 77, 540, 69, 83, 68, 87, 339, 91, 285, 343]);
    // lower-casing char by char (no final sigma), İ to i + U+0307
    assert_eq!(sd1.encode("ΣΑΣ"), vec![139, 225, 138, 109, 139, 481]);
    assert_eq!(sd1.encode("İ"), vec![328, 136, 485]);
    // NFC composes e + U+0301; a lone combining mark is its own piece
    assert_eq!(sd1.encode("e\u{301}"), vec![127, 358]);
    assert_eq!(sd1.encode("q\u{301}"), vec![336, 136, 479]);
    // contractions; the pattern is case-sensitive (after lower-casing), so 'ſ is not 's
    assert_eq!(sd1.encode("don't"), vec![540, 333, 6, 339]);
    assert_eq!(sd1.encode("''s"), vec![6, 262, 338]);
    assert_eq!(sd1.encode("x'Re"), vec![343, 6, 81, 324]);
    assert_eq!(sd1.encode("it'ſ"), vec![603, 262, 129, 379]);
    // whitespace of every kind separates and vanishes
    assert_eq!(sd1.encode("photo\tof\n\ntoy"), vec![516, 512, 523]);
    assert_eq!(sd1.encode("a\u{3000}b"), vec![320, 321]);
    assert_eq!(sd1.encode("a\u{a0}b"), vec![320, 321]);
    assert_eq!(sd1.encode("  lead"), vec![75, 526, 323]);
    assert_eq!(sd1.encode("①"), vec![158, 239, 510]);
    assert_eq!(sd1.encode("ﬁ"), vec![171, 105, 479]);
}

/// Added tokens are matched in the normalised text, anywhere, longest first.
#[test]
fn added_tokens_match_as_transformers_does() {
    let mut tok = open("sd1");
    assert_eq!(tok.add_tokens(&["<tiny-toy>", "<tiny-toy>_1", "<Up>", "tok"]).unwrap(), vec![622, 623, 624, 625]);
    assert_eq!(tok.len(), 626);
    assert_eq!(tok.encode("<TINY-TOY>"), vec![622]);
    assert_eq!(tok.encode("a<tiny-toy>b"), vec![320, 622, 321]);
    assert_eq!(tok.encode("<tiny-toy>_1x"), vec![623, 343]);
    assert_eq!(tok.encode("<tiny-toy>_2"), vec![622, 318, 273]);
    assert_eq!(tok.encode("<up> <UP> <Up>"), vec![624, 624, 624]);
    assert_eq!(tok.encode("tokens toy"), vec![625, 68, 77, 338, 523]);
    assert_eq!(tok.encode("x  <tiny-toy>   y"), vec![343, 622, 344]);
    assert_eq!(tok.encode("<tiny-toy><tiny-toy>_1"), vec![622, 623]);
    assert_eq!(tok.encode("<|endoftext|><tiny-toy>"), vec![621, 622]);
    assert_eq!(tok.token_id("<Up>"), Some(624));

    let mut tok = open("sd1");
    tok.add_tokens(&["my  Token", "Ω", " sp "]).unwrap();
    assert_eq!(tok.encode("MY\tTOKEN"), vec![622]);
    assert_eq!(tok.encode("ω Ω"), vec![623, 623]);
    assert_eq!(tok.encode("a  sp  b"), vec![320, 624, 321]);
    assert_eq!(tok.encode("asp b"), vec![64, 82, 335, 321]);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smalldata-sd-tokenizer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the sd1 tokenizer folder with `change` applied.
fn broken(name: &str, change: impl Fn(&Path)) -> PathBuf {
    let dir = scratch(name);
    for f in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
        std::fs::copy(golden().join("sd1/tokenizer").join(f), dir.join(f)).unwrap();
    }
    change(&dir);
    dir
}

fn format_error_at(err: Error, file: &Path, says: &str) {
    match &err {
        Error::Format { path, reason } => {
            assert_eq!(path, file, "{err}");
            assert!(reason.contains(says), "{err}");
        }
        _ => panic!("expected a format error at {}, got {err:?}", file.display()),
    }
}

#[test]
fn folder_without_a_tokenizer_is_not_found() {
    let dir = scratch("empty");
    std::fs::write(dir.join("tokenizer_config.json"), "{}").unwrap();
    let err = ClipTokenizer::from_folder(&dir).unwrap_err();
    match &err {
        Error::NotFound { searched, .. } => {
            assert!(searched.contains(&dir.join("vocab.json")), "{err}");
            assert!(searched.contains(&dir.join("tokenizer.json")), "{err}");
        }
        _ => panic!("{err:?}"),
    }
    // vocab.json without merges.txt
    let dir = broken("no-merges", |d| std::fs::remove_file(d.join("merges.txt")).unwrap());
    let err = ClipTokenizer::from_folder(&dir).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }) && err.to_string().contains("merges.txt"), "{err:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_json_names_the_file() {
    let dir = broken("bad-vocab", |d| std::fs::write(d.join("vocab.json"), "{\"a\": 1,").unwrap());
    format_error_at(ClipTokenizer::from_folder(&dir).unwrap_err(), &dir.join("vocab.json"), "JSON");
    let dir = broken("bad-config", |d| std::fs::write(d.join("tokenizer_config.json"), "not json").unwrap());
    format_error_at(ClipTokenizer::from_folder(&dir).unwrap_err(), &dir.join("tokenizer_config.json"), "JSON");
    let dir = scratch("bad-tokenizer-json");
    std::fs::write(dir.join("tokenizer.json"), "[1, 2").unwrap();
    format_error_at(ClipTokenizer::from_folder(&dir).unwrap_err(), &dir.join("tokenizer.json"), "JSON");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_merges_line_that_is_not_two_symbols_is_an_error() {
    let dir = broken("bad-merges", |d| {
        let text = std::fs::read_to_string(d.join("merges.txt")).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(3, "p h o");
        std::fs::write(d.join("merges.txt"), lines.join("\n") + "\n").unwrap();
    });
    format_error_at(ClipTokenizer::from_folder(&dir).unwrap_err(), &dir.join("merges.txt"), "line 4");
    let dir = broken("merge-out-of-vocab", |d| {
        let text = std::fs::read_to_string(d.join("merges.txt")).unwrap();
        std::fs::write(d.join("merges.txt"), text + "zz qq\n").unwrap();
    });
    format_error_at(ClipTokenizer::from_folder(&dir).unwrap_err(), &dir.join("merges.txt"), "not in the vocabulary");
    // tokenizer.json with a three-symbol merge
    let dir = scratch("bad-json-merge");
    let text = std::fs::read_to_string(golden().join("sd2/tokenizer/tokenizer.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["model"]["merges"].as_array_mut().unwrap().push(Value::from(vec!["a", "b", "c"]));
    std::fs::write(dir.join("tokenizer.json"), v.to_string()).unwrap();
    format_error_at(ClipTokenizer::from_folder(&dir).unwrap_err(), &dir.join("tokenizer.json"), "model.merges[");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pad_token_outside_the_vocabulary_is_an_error() {
    let dir = broken("bad-pad", |d| {
        let text = std::fs::read_to_string(d.join("tokenizer_config.json")).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["pad_token"] = Value::from("<|pad|>");
        std::fs::write(d.join("tokenizer_config.json"), v.to_string()).unwrap();
    });
    let err = ClipTokenizer::from_folder(&dir).unwrap_err();
    assert!(err.to_string().contains("<|pad|>"), "{err}");
    format_error_at(err, &dir.join("tokenizer_config.json"), "pad_token");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Both merge forms of tokenizer.json, and the pad token as an `AddedToken` object.
#[test]
fn tokenizer_json_merges_as_strings_or_pairs() {
    let e = expected();
    let text = std::fs::read_to_string(golden().join("sd2/tokenizer/tokenizer.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let merges = v["model"]["merges"].as_array().unwrap().clone();
    assert!(!merges.is_empty());
    let as_strings: Vec<Value> = merges
        .iter()
        .map(|m| match m {
            Value::Array(a) => Value::from(format!("{} {}", a[0].as_str().unwrap(), a[1].as_str().unwrap())),
            other => other.clone(),
        })
        .collect();
    let as_pairs: Vec<Value> = merges
        .iter()
        .map(|m| match m {
            Value::String(s) => Value::from(s.split(' ').collect::<Vec<_>>()),
            other => other.clone(),
        })
        .collect();
    for (form, list) in [("strings", as_strings), ("pairs", as_pairs)] {
        let dir = scratch(&format!("json-{form}"));
        let mut v = v.clone();
        v["model"]["merges"] = Value::Array(list);
        std::fs::write(dir.join("tokenizer.json"), v.to_string()).unwrap();
        let cfg = r#"{"model_max_length": 77, "pad_token": {"__type": "AddedToken", "content": "!", "lstrip": false}}"#;
        std::fs::write(dir.join("tokenizer_config.json"), cfg).unwrap();
        let tok = ClipTokenizer::from_folder(&dir).unwrap();
        for (p, w) in strings(&e["prompts"]).iter().zip(e["sd2"]["prompt_ids"].as_array().unwrap()) {
            assert_eq!(tok.encode_padded(p), ids(w), "merges as {form}: {p:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
