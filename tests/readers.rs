//! Every reader of a file a user hands over, on hostile bytes: the fuzzers' seeds and
//! every input the fuzzers found (`fuzz/seeds/READER`, `fuzz/regressions/READER`),
//! truncations and bit flips of the seeds, headers that claim far more than the file
//! holds (an IDX of 2^40 bytes, a gzip bomb, a 10^12-byte tensor, a picture of
//! 100,000 × 100,000 pixels), and checkpoints that are truncated or hold a tensor of
//! the wrong dtype or shape. A reader answers each with a value or an error naming
//! the file; it never panics and never allocates what a header merely claims.

use smalldata::readers::{reader, READERS};
use std::io::Write;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn fuzz_dir(part: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(part).join(name)
}

/// Runs `read` on `bytes`; a panic fails the test naming the input.
fn no_panic(name: &str, what: &str, read: smalldata::readers::Reader, bytes: &[u8]) -> smalldata::Result<()> {
    match std::panic::catch_unwind(|| read(bytes)) {
        Ok(r) => r,
        Err(_) => panic!("the {name} reader panicked on {what} ({} bytes)", bytes.len()),
    }
}

#[test]
fn every_seed_is_read_and_every_input_the_fuzzers_found_is_an_error_not_a_panic() {
    for (name, read) in READERS {
        let seeds = files(&fuzz_dir("seeds", name));
        assert!(!seeds.is_empty(), "no seeds for the {name} reader (scripts/make_fuzz_seeds.py writes them)");
        for (path, bytes) in &seeds {
            // the seeds are real files of their kind: each must be read
            no_panic(name, &path.display().to_string(), *read, bytes).unwrap_or_else(|e| panic!("seed {}: {e}", path.display()));
        }
        for (path, bytes) in files(&fuzz_dir("regressions", name)) {
            let _ = no_panic(name, &path.display().to_string(), *read, &bytes);
        }
    }
}

/// A cheap mutation pass in the normal suite, beside the hour of coverage-guided
/// fuzzing `make fuzz` does: every seed cut at 64 lengths and with 64 bytes changed.
#[test]
fn truncated_and_flipped_seeds_are_errors_not_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut tried = 0;
    for (name, read) in READERS {
        for (path, seed) in files(&fuzz_dir("seeds", name)) {
            for k in 0..64 {
                let cut = seed.len() * k / 64;
                let _ = no_panic(name, &format!("{} cut to {cut} bytes", path.display()), *read, &seed[..cut]);
                let mut flipped = seed.clone();
                let at = (next() as usize) % seed.len();
                flipped[at] = next() as u8;
                let _ = no_panic(name, &format!("{} with byte {at} changed", path.display()), *read, &flipped);
                tried += 2;
            }
        }
    }
    assert!(tried >= 27 * 128, "{tried} inputs tried");
}

fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

fn gzip(parts: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for p in parts {
        gz.write_all(&p).unwrap();
    }
    gz.finish().unwrap()
}

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).unwrap_or(0) * 1024
}

#[test]
fn an_idx_header_claiming_a_terabyte_is_refused_and_a_gzip_bomb_is_read_no_further_than_its_header() {
    let idx = reader("idx").unwrap();
    // 2^20 × 2^20 bytes claimed by a 14-byte file, raw and compressed
    let mut claim = idx_header(&[1 << 20, 1 << 20]);
    claim.extend([7u8; 2]);
    for bytes in [claim.clone(), gzip([claim])] {
        let e = idx(&bytes).unwrap_err().to_string();
        assert!(e.contains("limit") && e.contains("fuzz.idx"), "{e}");
    }
    // a header promising 100 bytes, then 256 MiB of zeros compressed to about 250 kB
    let zeros = vec![0u8; 1 << 20];
    let bomb = gzip(std::iter::once(idx_header(&[100])).chain(std::iter::repeat_n(zeros, 256)));
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let before = peak_rss();
    let e = idx(&bomb).unwrap_err().to_string();
    let grew = peak_rss().saturating_sub(before);
    assert!(e.contains("trailing bytes"), "{e}");
    assert!(grew < 64 << 20, "reading the bomb raised peak memory by {} MiB", grew >> 20);
}

/// A PNG whose header says `width` × `height` (8-bit gray), with a few bytes of data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        let mut crc = flate2::Crc::new();
        crc.update(&crc_input);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // whole rows (a filter byte and the pixels) when small; a few bytes when huge
    let rows = if width as u64 * height as u64 <= 1 << 16 { ((1 + width) * height) as usize } else { 64 };
    z.write_all(&vec![0u8; rows]).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn a_picture_claiming_100000_by_100000_pixels_is_refused_from_its_header() {
    let huge = png_claiming(100_000, 100_000);
    let before = peak_rss();
    let e = smalldata::data::decode_picture(&huge, Path::new("huge.png"), (32, 32), 1).unwrap_err().to_string();
    assert!(e.contains("huge.png") && e.to_lowercase().contains("limit"), "{e}");
    assert!(peak_rss().saturating_sub(before) < 64 << 20);
    // the folder reader: an error naming the file, or a skipped file with --skip-bad
    let dir = tempfile::tempdir().unwrap();
    for (class, name, bytes) in [("a", "ok.png", png_claiming(8, 8)), ("a", "huge.png", huge), ("b", "ok.png", png_claiming(8, 8))] {
        std::fs::create_dir_all(dir.path().join(class)).unwrap();
        std::fs::write(dir.path().join(class).join(name), bytes).unwrap();
    }
    let cfg = smalldata::data::FolderConfig { size: Some((8, 8)), ..Default::default() };
    let e = smalldata::data::read_image_folder(dir.path(), &cfg).unwrap_err().to_string();
    assert!(e.contains("huge.png"), "{e}");
    let (data, report) = smalldata::data::read_image_folder(dir.path(), &smalldata::data::FolderConfig { skip_bad: true, ..cfg }).unwrap();
    assert_eq!((data.len(), report.skipped.len()), (2, 1));
}

#[test]
fn a_safetensors_header_claiming_a_terabyte_tensor_is_an_error() {
    let header = br#"{"w":{"dtype":"F32","shape":[250000000000],"data_offsets":[0,1000000000000]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0u8; 8]);
    let e = smalldata::io::parse_safetensors(&bytes, Path::new("big.safetensors")).unwrap_err().to_string();
    assert!(e.contains("big.safetensors"), "{e}");
    // a header length larger than the file
    let mut bytes = (1u64 << 40).to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    assert!(smalldata::io::parse_safetensors(&bytes, Path::new("x.safetensors")).is_err());
}

mod checkpoints {
    use smalldata::generate::{Gan, GanArchitecture, GanConfig, GanLoss, GanTraining, RunSettings};
    use smalldata::tch::{Device, Kind};

    fn gan() -> Gan {
        let cfg = GanConfig {
            arch: GanArchitecture { z_dim: 16, g_width: 8, d_width: 8, ..GanArchitecture::default() },
            training: GanTraining { loss: GanLoss::Hinge, batch_size: 8, ..GanTraining::default() },
            run: RunSettings { steps: 2, checkpoint_every: 1, progress: false, ..RunSettings::default() },
        };
        Gan::new(cfg, [1, 8, 8], 4, Device::Cpu).unwrap()
    }

    /// Rewrite the checkpoint's tensors with `change` applied to the first generator weight.
    fn rewrite(file: &std::path::Path, change: impl Fn(smalldata::tch::Tensor) -> smalldata::tch::Tensor) -> String {
        let mut named = smalldata::io::read_safetensors(file).unwrap();
        let i = named.iter().position(|(k, t)| k.starts_with("g/") && t.dim() >= 2).unwrap_or_else(|| panic!("no generator weight among {:?}", named.iter().map(|(k, _)| k).collect::<Vec<_>>()));
        let key = named[i].0.clone();
        named[i].1 = change(named[i].1.shallow_clone());
        smalldata::io::write_safetensors(file, named).unwrap();
        key
    }

    #[test]
    fn a_truncated_or_mistyped_checkpoint_is_an_error_naming_the_file_the_key_and_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("checkpoint.safetensors");
        let saved = gan();
        saved.save(dir.path()).unwrap();
        let good = std::fs::read(&file).unwrap();
        gan().load(dir.path()).unwrap();

        // truncated (a copy cut short by a full disk or a bad transfer)
        std::fs::write(&file, &good[..good.len() / 2]).unwrap();
        let e = gan().load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("checkpoint.safetensors"), "{e}");

        // a weight stored as float64
        std::fs::write(&file, &good).unwrap();
        let key = rewrite(&file, |t| t.to_kind(Kind::Double));
        let e = gan().load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("checkpoint.safetensors") && e.contains(&key) && e.contains("Float") && e.contains("Double"), "{e}");

        // a weight of another shape
        std::fs::write(&file, &good).unwrap();
        let key = rewrite(&file, |t| t.flatten(0, -1).narrow(0, 0, 3));
        let e = gan().load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("checkpoint.safetensors") && e.contains(&key) && e.contains("[3]"), "{e}");
    }
}
