//! The IDX file format of MNIST and Fashion-MNIST (LeCun et al., "Gradient-based
//! learning applied to document recognition", 1998; format described on the MNIST page).
//!
//! Layout, all integers big-endian:
//! ```text
//! byte 0-1  zero
//! byte 2    element type (0x08 = u8, the only type MNIST-like data uses)
//! byte 3    number of dimensions d
//! 4·d bytes the size of each dimension (u32)
//! then      the elements, row-major
//! ```
//! Files may be gzip-compressed (recognised by the gzip magic bytes, not the name).
//! The reader checks the magic, the element type, and that the payload holds exactly
//! as many bytes as the dimensions promise; a truncated download is an error that
//! names the file and both lengths.

use crate::error::IoContext;
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// An IDX array of unsigned bytes: its dimensions and its row-major data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes, row-major.
    pub data: Vec<u8>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const TYPE_U8: u8 = 0x08;

/// Read an IDX file of `u8` elements, gzip-compressed or raw.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).at(path)?;
    parse_idx(&bytes, path)
}

/// The largest IDX payload read: 4 GiB (the full MNIST training images are 47 MB).
pub const MAX_IDX_BYTES: usize = 1 << 32;

/// Parse IDX bytes (gzip-compressed or raw). `origin` names the source in errors.
///
/// A gzip stream is decompressed only as far as its header promises (and at most
/// [`MAX_IDX_BYTES`]), so a compressed file that expands without end is refused after
/// one byte too many, not read into memory.
pub fn parse_idx(bytes: &[u8], origin: &Path) -> Result<IdxArray> {
    let raw;
    let bytes = if bytes.starts_with(&GZIP_MAGIC) {
        raw = gunzip_idx(bytes, origin)?;
        &raw[..]
    } else {
        bytes
    };
    if bytes.len() < 4 {
        return Err(Error::format(origin, format!("{} bytes is too short for an IDX header", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::format(
            origin,
            format!("wrong magic number 0x{:02x}{:02x}{:02x}{:02x}: an IDX file starts with two zero bytes", bytes[0], bytes[1], bytes[2], bytes[3]),
        ));
    }
    if bytes[2] != TYPE_U8 {
        return Err(Error::format(origin, format!("element type 0x{:02x} is not supported (only 0x08, unsigned byte)", bytes[2])));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(Error::format(origin, "IDX header declares 0 dimensions"));
    }
    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(Error::format(origin, format!("header declares {ndim} dimensions but the file ends after {} bytes", bytes.len())));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::format(origin, format!("dimensions {dims:?} overflow")))?;
    if expected > MAX_IDX_BYTES {
        return Err(Error::format(origin, format!("dimensions {dims:?} claim {expected} data bytes, more than the {MAX_IDX_BYTES}-byte limit")));
    }
    let got = bytes.len() - header_len;
    if got != expected {
        let what = if got < expected { "truncated" } else { "has trailing bytes" };
        return Err(Error::format(
            origin,
            format!("{what}: dimensions {dims:?} need {expected} data bytes, the file holds {got}"),
        ));
    }
    Ok(IdxArray { dims, data: bytes[header_len..].to_vec() })
}

/// Decompress a gzip-compressed IDX file: the 4-byte magic, the dimensions, then no
/// more than the data they promise plus one byte (enough to tell "trailing bytes").
fn gunzip_idx(compressed: &[u8], origin: &Path) -> Result<Vec<u8>> {
    let corrupt = |e: std::io::Error| Error::format(origin, format!("gzip stream is corrupt or truncated: {e}"));
    let mut stream = flate2::read::GzDecoder::new(compressed);
    let mut out = Vec::new();
    (&mut stream).take(4).read_to_end(&mut out).map_err(corrupt)?;
    if out.len() < 4 {
        return Ok(out); // too short: the caller says so
    }
    let ndim = out[3] as u64;
    (&mut stream).take(4 * ndim).read_to_end(&mut out).map_err(corrupt)?;
    if out.len() < 4 + 4 * ndim as usize {
        return Ok(out);
    }
    let promised = out[4..]
        .chunks_exact(4)
        .try_fold(1u64, |acc, c| acc.checked_mul(u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64))
        .unwrap_or(u64::MAX)
        .min(MAX_IDX_BYTES as u64);
    (&mut stream).take(promised + 1).read_to_end(&mut out).map_err(corrupt)?;
    Ok(out)
}

/// Encode an IDX array as raw (uncompressed) bytes; the inverse of [`parse_idx`].
pub fn encode_idx(array: &IdxArray) -> Vec<u8> {
    let mut out = vec![0, 0, TYPE_U8, array.dims.len() as u8];
    for &d in &array.dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IdxArray {
        IdxArray { dims: vec![2, 3], data: vec![1, 2, 3, 4, 5, 6] }
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let a = sample();
        let raw = encode_idx(&a);
        assert_eq!(parse_idx(&raw, Path::new("x")).unwrap(), a);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(parse_idx(&gz, Path::new("x")).unwrap(), a);
    }

    #[test]
    fn truncated_names_lengths() {
        let raw = encode_idx(&sample());
        let e = parse_idx(&raw[..raw.len() - 2], Path::new("f.idx")).unwrap_err().to_string();
        assert!(e.contains("f.idx") && e.contains("truncated") && e.contains("need 6") && e.contains("holds 4"), "{e}");
    }

    #[test]
    fn wrong_magic_and_type() {
        let mut raw = encode_idx(&sample());
        raw[0] = 7;
        assert!(parse_idx(&raw, Path::new("f")).unwrap_err().to_string().contains("magic"));
        let mut raw = encode_idx(&sample());
        raw[2] = 0x0d;
        assert!(parse_idx(&raw, Path::new("f")).unwrap_err().to_string().contains("0x0d"));
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut raw = encode_idx(&sample());
        raw.push(9);
        assert!(parse_idx(&raw, Path::new("f")).unwrap_err().to_string().contains("trailing"));
    }
}
