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
pub use grid::{image_grid, image_grid_with_labels, image_grid_with_row_labels, ImageGrid};
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

/// The left edge of segment `i` on a segmented axis of `n` segments built from
/// `(0..n - 1).into_segmented()`; `edge(n, n)` is the axis' right end. plotters places
/// `Exact(n)` by extrapolating from the segments before it, which has nothing to go on
/// when there is one segment (the bar or line would have no width), so the right end
/// is `Last`.
pub(crate) fn edge(i: usize, n: usize) -> SegmentValue<usize> {
    if i >= n { SegmentValue::Last } else { SegmentValue::Exact(i) }
}

/// How many labelled ticks a numeric axis gets at most (plotters' default).
pub(crate) const MAX_TICKS: usize = 11;

/// Labels for the ticks plotters draws on a numeric axis over `range` (with at most
/// `max_ticks` of them): every label with the decimals the step between ticks needs, so
/// an axis of counts reads 10, 20, 30 and one of rates 0.0, 0.2, 0.4 — never "10.0",
/// and never "-0.0".
pub(crate) fn tick_labels(range: std::ops::Range<f64>, max_ticks: usize) -> impl Fn(&f64) -> String {
    use plotters::coord::ranged1d::Ranged;
    let ticks = plotters::coord::types::RangedCoordf64::from(range).key_points(max_ticks);
    let step = ticks.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    // a step of 0.1 may come out as 0.0999…: nudge before taking the floor
    let decimals = if step.is_finite() && step > 0.0 { (-(step.log10() + 1e-6).floor()).max(0.0) as usize } else { 3 };
    move |v: &f64| {
        let s = format!("{v:.decimals$}");
        let unsigned = s.trim_start_matches('-');
        if unsigned.chars().all(|c| c == '0' || c == '.') {
            unsigned.to_string()
        } else {
            s
        }
    }
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

#[cfg(test)]
mod tick_tests {
    use super::*;

    #[test]
    fn tick_labels_use_the_decimals_of_their_step() {
        // counts: integers, not "10.0"
        let counts = tick_labels(0.0..70.0, MAX_TICKS);
        assert_eq!([counts(&0.0), counts(&10.0), counts(&70.0)], ["0", "10", "70"]);
        // rates: one decimal throughout, the ends included
        let rates = tick_labels(0.0..1.0, MAX_TICKS);
        assert_eq!([rates(&0.0), rates(&0.30000000000000004), rates(&1.0)], ["0.0", "0.3", "1.0"]);
        // small differences: as many decimals as the step, and no "-0.00"
        let diffs = tick_labels(-0.05..0.04, MAX_TICKS);
        assert_eq!([diffs(&-0.04), diffs(&-0.0), diffs(&-1e-18), diffs(&0.02)], ["-0.04", "0.00", "0.00", "0.02"]);
        // a negative range of whole numbers
        let wide = tick_labels(-15.0..20.0, MAX_TICKS);
        assert_eq!([wide(&-15.0), wide(&5.0)], ["-15", "5"]);
    }
}

