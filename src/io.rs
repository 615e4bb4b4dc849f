//! File helpers every module uses: writes that never leave a half-written file.

use crate::error::IoContext;
use crate::Result;
use std::path::Path;

/// Write `bytes` to `path` without ever leaving a half-written file there: write a
/// sibling temporary file, flush it, then rename it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let mut f = std::fs::File::create(&tmp).at(&tmp)?;
    f.write_all(bytes).at(&tmp)?;
    f.sync_all().at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)
}

/// Write named tensors to a safetensors file at `path` the same way: moved to the
/// CPU, made contiguous, sorted by name (so the file's bytes depend on the values
/// alone), written to a sibling temporary file, then renamed over `path`.
pub fn write_safetensors(path: &Path, named: Vec<(String, tch::Tensor)>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    let mut named: Vec<(String, tch::Tensor)> = named.into_iter().map(|(k, v)| (k, v.detach().to_device(tch::Device::Cpu).contiguous())).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let tmp = path.with_extension(format!("{}.partial", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    tch::Tensor::write_safetensors(&named, &tmp)?;
    std::fs::rename(&tmp, path).at(path)
}
