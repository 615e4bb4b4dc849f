//! Charts and image grids that display inline in evcxr and save to files.
//!
//! * [`Figure`]: an SVG chart (plotters' SVG backend, so no fonts are needed);
//! * [`ImageGrid`]: a PNG mosaic of image tensors.
//!
//! Both implement `evcxr_display`, so leaving one as the last expression of a notebook
//! cell shows it.

mod charts;
mod grid;

pub use charts::bar_chart;
pub use grid::{image_grid, ImageGrid};

use crate::error::IoContext;
use crate::Result;
use std::path::Path;

/// A chart rendered to SVG.
#[derive(Debug, Clone)]
pub struct Figure {
    pub svg: String,
}

impl Figure {
    /// Write the SVG to `path` (written to a temporary file, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.svg.as_bytes())
    }

    /// Inline display in an evcxr notebook.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT", self.svg);
    }
}

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
