//! Charts and image grids that display inline in evcxr and save to files.
//!
//! * [`Figure`]: a chart rendered to SVG (shown inline) and PNG, saved as either by
//!   the file's extension. Charts are drawn once per backend from the same code,
//!   through the [`Chart`] trait.
//! * [`ImageGrid`]: a PNG mosaic of image tensors.
//!
//! Text uses DejaVu Sans compiled into the crate, so rendering needs no fonts on the
//! machine and looks the same everywhere. Leaving a `Figure` or an `ImageGrid` as the
//! last expression of a notebook cell shows it.

mod charts;
mod grid;
mod heatmap;
mod forest;
mod lines;
mod roc;

pub use charts::{bar_chart, bar_chart_ci, BarChart};
pub use forest::{forest_plot, ForestPlot, ForestRow};
pub use lines::{line_chart, LineChart, Series};
pub use grid::{image_grid, image_grid_with_row_labels, ImageGrid};
pub use heatmap::{confusion_heatmap, ConfusionHeatmap};
pub use roc::{roc_chart, RocChart};

use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Font family name under which the embedded font is registered.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("font", "DejaVuSans.ttf", "the embedded font could not be registered"))
    }
}

/// Something that can draw itself on any plotters backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw on `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Map a plotters drawing error to ours.
pub(crate) fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::invalid("chart", format!("{e:?}"), "plotters could not draw the chart")
}

/// A chart rendered to SVG and PNG.
#[derive(Clone)]
pub struct Figure {
    pub svg: String,
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Figure({}×{} px, {} bytes of SVG, {} bytes of PNG)", self.width, self.height, self.svg.len(), self.png.len())
    }
}

impl Figure {
    /// Render `chart` to both formats.
    pub fn render(chart: &impl Chart) -> Result<Figure> {
        register_font()?;
        let (width, height) = chart.size();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_err)?;
            chart.draw(&root)?;
            root.present().map_err(plot_err)?;
        }
        let mut rgb = vec![255u8; (width * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_err)?;
            chart.draw(&root)?;
            root.present().map_err(plot_err)?;
        }
        let img = image::RgbImage::from_raw(width, height, rgb).ok_or_else(|| Error::shape("chart bitmap", width * height * 3, "a different size"))?;
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| Error::invalid("chart", e, "PNG encoding failed"))?;
        Ok(Figure { svg, png, width, height })
    }

    /// Save as SVG (`.svg`) or PNG (`.png`), atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => write_atomic(path, self.svg.as_bytes()),
            Some("png") => write_atomic(path, &self.png),
            _ => Err(Error::invalid("figure path", path.display(), "the extension must be .svg or .png")),
        }
    }

    /// Inline display in an evcxr notebook (the SVG).
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT", self.svg);
    }
}

/// Re-exported from its home, [`crate::io`].
pub use crate::io::write_atomic;
