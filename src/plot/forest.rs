//! Forest plots: one horizontal interval per comparison around a zero line, the way
//! meta-analyses show many effects at once (Lewis & Clarke 2001, "Forest plots:
//! trying to see the wood and the trees", BMJ 322:1479).

use super::{edge, plot_err, tick_labels, Chart, Figure, FONT, MAX_TICKS};
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One row of a forest plot: an estimate with its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    pub label: String,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// Marked (filled, coloured by direction) when the comparison is significant
    /// after whatever adjustment the caller applies.
    pub significant: bool,
}

/// A forest plot ([`forest_plot`]).
#[derive(Debug, Clone)]
pub struct ForestPlot {
    pub title: String,
    pub x_label: String,
    pub rows: Vec<ForestRow>,
    /// Whether a positive estimate is an improvement (colours: green better, red worse).
    pub higher_is_better: bool,
}

/// Green for a significant improvement, red for significant harm, grey otherwise.
const BETTER: RGBColor = RGBColor(0, 128, 60);
const WORSE: RGBColor = RGBColor(200, 40, 30);
const NEUTRAL: RGBColor = RGBColor(110, 110, 110);

/// Draw `rows` top to bottom, each as its estimate (a square) and interval (a line),
/// with a dashed line at zero. Significant rows are filled and coloured by whether
/// they improve (`higher_is_better` says which sign does); the others are hollow grey.
pub fn forest_plot(title: &str, x_label: &str, rows: Vec<ForestRow>, higher_is_better: bool) -> Result<Figure> {
    if rows.is_empty() {
        return Err(Error::invalid("forest plot rows", 0, "needs at least one row"));
    }
    for r in &rows {
        if let Some(v) = [r.estimate, r.low, r.high].into_iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("forest plot row {:?}", r.label), value: v });
        }
        if !(r.low <= r.estimate && r.estimate <= r.high) {
            return Err(Error::invalid("forest plot row", &r.label, format!("interval [{}, {}] does not hold the estimate {}", r.low, r.high, r.estimate)));
        }
    }
    Figure::render(&ForestPlot { title: title.into(), x_label: x_label.into(), rows, higher_is_better })
}

impl ForestPlot {
    fn label_width(&self) -> u32 {
        self.rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(4) as u32 * 9 + 30
    }

    fn color(&self, r: &ForestRow) -> RGBColor {
        let up = r.estimate > 0.0;
        match (r.significant, up == self.higher_is_better) {
            (false, _) => NEUTRAL,
            (true, true) => BETTER,
            (true, false) => WORSE,
        }
    }
}

impl Chart for ForestPlot {
    fn size(&self) -> (u32, u32) {
        (900.max(self.label_width() + 620), 120 + 30 * self.rows.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.rows.len();
        let (lo, hi) = self.rows.iter().fold((0.0f64, 0.0f64), |(a, b), r| (a.min(r.low), b.max(r.high)));
        let pad = ((hi - lo) * 0.08).max(1e-9);
        let x_ticks = tick_labels(lo - pad..hi + pad, MAX_TICKS);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(self.label_width())
            // row 0 at the top: the segment index counts from the bottom
            .build_cartesian_2d(lo - pad..hi + pad, (0..n - 1).into_segmented())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(n)
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) => self.rows.get(n - 1 - *i).map(|r| r.label.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .x_labels(MAX_TICKS)
            .x_label_formatter(&x_ticks)
            .x_desc(&self.x_label)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, edge(0, n)), (0.0, edge(n, n))],
                BLACK.mix(0.7).stroke_width(1),
            )))
            .map_err(plot_err)?;
        for (k, r) in self.rows.iter().enumerate() {
            let i = n - 1 - k;
            let c = self.color(r);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(r.low, SegmentValue::CenterOf(i)), (r.high, SegmentValue::CenterOf(i))], c.stroke_width(2))))
                .map_err(plot_err)?;
            let style = if r.significant { c.filled() } else { c.stroke_width(2) };
            chart.draw_series(std::iter::once(Circle::new((r.estimate, SegmentValue::CenterOf(i)), 5, style))).map_err(plot_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::charts::svg_texts;

    fn row(label: &str, e: f64, sig: bool) -> ForestRow {
        ForestRow { label: label.into(), estimate: e, low: e - 0.01, high: e + 0.01, significant: sig }
    }

    #[test]
    fn labels_every_row_colours_by_direction_and_checks_input() {
        let f = forest_plot("Δ accuracy", "Δ accuracy", vec![row("n=10 · crop", 0.03, true), row("n=10 · noise", -0.03, true), row("n=10 · flip", 0.0, false)], true).unwrap();
        let texts = svg_texts(&f.svg);
        for want in ["n=10 · crop", "n=10 · noise", "n=10 · flip", "Δ accuracy"] {
            assert!(texts.iter().any(|t| t == want), "{want:?} not among {texts:?}");
        }
        assert!(f.svg.contains("#00803C") && f.svg.contains("#C8281E"), "significant rows coloured");
        // for an error metric (lower is better) the colours swap
        let g = forest_plot("Δ RMSE", "Δ RMSE", vec![row("a", -0.03, true)], false).unwrap();
        assert!(g.svg.contains("#00803C") && !g.svg.contains("#C8281E"));
        assert!(forest_plot("t", "x", vec![], true).is_err());
        assert!(forest_plot("t", "x", vec![ForestRow { low: 0.5, ..row("bad", 0.0, false) }], true).is_err());
        assert!(forest_plot("t", "x", vec![row("nan", f64::NAN, false)], true).is_err());
    }
}
