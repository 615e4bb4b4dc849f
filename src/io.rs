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
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)
}

/// Read every tensor of a safetensors file, with errors that name the file.
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, tch::Tensor)>> {
    let bytes = std::fs::read(path).at(path)?;
    parse_safetensors(&bytes, path)
}

/// Parse the bytes of a safetensors file; `origin` names the source in errors.
///
/// The header is checked before anything is allocated for a tensor: each tensor's
/// byte range must lie inside the file and match its shape × dtype, so a header that
/// claims a 10^12-byte tensor in a small file is an error, not an allocation. The
/// dtypes are those torch can hold (floats, signed integers, u8, bool).
pub fn parse_safetensors(bytes: &[u8], origin: &Path) -> Result<Vec<(String, tch::Tensor)>> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| crate::Error::format(origin, format!("not a valid safetensors file: {e:?}")))?;
    let mut out = Vec::new();
    for (name, view) in file.tensors() {
        let dtype = view.dtype();
        let tensor = tch::Tensor::try_from(view).map_err(|e| crate::Error::format(origin, format!("tensor {name:?} of dtype {dtype:?}: {e}")))?;
        out.push((name, tensor));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Exclusive use of an output folder for as long as the value lives.
///
/// Two runs writing into one folder would interleave their results, so the second one
/// is refused at once, with a message naming the process that holds the folder. The
/// lock is the operating system's advisory lock (`flock`) on `FOLDER/.smalldata.lock`:
/// it goes away with its process, so a run that was killed leaves nothing stuck, and
/// the next run simply takes the folder over. The file keeps the holder's process id,
/// command line and start time, for the message.
#[derive(Debug)]
pub struct OutputLock {
    file: std::fs::File,
    path: std::path::PathBuf,
}

/// The lock file's name inside an output folder.
pub const LOCK_FILE: &str = ".smalldata.lock";

impl OutputLock {
    /// Take the folder `dir` (created if absent), or fail naming the process that
    /// holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(dir).at(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).at(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                return Err(crate::Error::invalid(
                    "output folder",
                    dir.display(),
                    format!("is in use by {who}; wait for it to finish, or give another output folder"),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(crate::Error::Io { path, source: e }),
        }
        let command: Vec<String> = std::env::args().collect();
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let note = format!("process {} ({}), since {} s after the Unix epoch\n", std::process::id(), command.join(" "), since);
        file.set_len(0).at(&path)?;
        file.rewind().at(&path)?;
        file.write_all(note.as_bytes()).at(&path)?;
        file.flush().at(&path)?;
        Ok(OutputLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // the note is left (it only says who held the folder last); the lock goes
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first_and_the_folder_frees_on_drop() {
        let dir = std::env::temp_dir().join(format!("smalldata_lock_{}", std::process::id()));
        let first = OutputLock::acquire(&dir).unwrap();
        let e = OutputLock::acquire(&dir).unwrap_err().to_string();
        assert!(e.contains(&format!("process {}", std::process::id())) && e.contains(&dir.display().to_string()), "{e}");
        drop(first);
        let again = OutputLock::acquire(&dir).unwrap();
        assert!(again.path().ends_with(LOCK_FILE));
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
