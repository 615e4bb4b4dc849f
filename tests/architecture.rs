//! The module graph flows one way (docs/architecture.md): `scripts/module_edges.py`
//! reads the crate-level imports and fails on a cycle, or on `generate` and
//! `finetune` importing each other.
use std::process::Command;

#[test]
fn top_level_modules_import_each_other_one_way() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/module_edges.py");
    let out = Command::new("python3").arg(script).output().expect("python3 runs scripts/module_edges.py");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("| study |") && text.contains("no cycle"), "{text}");
}
