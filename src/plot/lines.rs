//! Line charts with confidence bands: a metric against a numeric x (dataset size,
//! step), one line per method.

use super::{plot_err, Chart, Figure, FONT};
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: points `(x, y)` and, optionally, a band `lo..hi` around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Lower and upper edge of a band at every x (e.g. a 95% confidence interval).
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

/// Lines with shaded bands and a legend.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Draw x on a log scale (sizes spanning decades).
    pub log_x: bool,
}

/// Render `series` as lines with bands; every series needs x, y (and band edges) of
/// one length, finite values, and x > 0 when `log_x`.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: Vec<Series>, log_x: bool) -> Result<Figure> {
    if series.is_empty() {
        return Err(Error::invalid("line_chart series", 0, "needs at least one series"));
    }
    for s in &series {
        let n = s.x.len();
        let band_lens = s.band.as_ref().map(|(l, h)| (l.len(), h.len()));
        if n == 0 || s.y.len() != n || band_lens.is_some_and(|(l, h)| l != n || h != n) {
            return Err(Error::shape(format!("line_chart series {:?}: x, y and band lengths", s.name), n, s.y.len()));
        }
        let all = s.x.iter().chain(&s.y).chain(s.band.iter().flat_map(|(l, h)| l.iter().chain(h)));
        if let Some(v) = all.copied().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite { context: format!("line_chart series {:?}", s.name), value: v });
        }
        if log_x && s.x.iter().any(|&x| x <= 0.0) {
            return Err(Error::invalid("line_chart x on a log scale", format!("{:?}", s.x), "must be positive"));
        }
    }
    Figure::render(&LineChart { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), series, log_x })
}

impl LineChart {
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let xs = self.series.iter().flat_map(|s| s.x.iter().copied());
        let ys = self.series.iter().flat_map(|s| s.y.iter().chain(s.band.iter().flat_map(|(l, h)| l.iter().chain(h))).copied());
        let span = |it: &mut dyn Iterator<Item = f64>| it.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (x0, x1) = span(&mut { xs });
        let (y0, y1) = span(&mut { ys });
        let ypad = ((y1 - y0) * 0.06).max(1e-6);
        let (x0, x1) = if self.log_x {
            (x0 / 1.15, x1 * 1.15)
        } else {
            let p = ((x1 - x0) * 0.05).max(0.5);
            (x0 - p, x1 + p)
        };
        ((x0, x1), (y0 - ypad, y1 + ypad))
    }

    fn draw_on<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    ) -> Result<()> {
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|x| tick(*x))
            .light_line_style(WHITE)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(plot_err)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            if let Some((lo, hi)) = &s.band {
                let mut poly: Vec<(f64, f64)> = s.x.iter().copied().zip(hi.iter().copied()).collect();
                poly.extend(s.x.iter().copied().zip(lo.iter().copied()).rev());
                chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.12).filled()))).map_err(plot_err)?;
            }
            let pts: Vec<(f64, f64)> = s.x.iter().copied().zip(s.y.iter().copied()).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(plot_err)?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}

/// A tick label: whole numbers without decimals (sizes are counts), else 3 digits.
fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.3}")
    }
}

impl Chart for LineChart {
    fn size(&self) -> (u32, u32) {
        (820, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let ((x0, x1), (y0, y1)) = self.bounds();
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, (FONT, 20)).margin(12).x_label_area_size(45).y_label_area_size(60);
        if self.log_x {
            self.draw_on(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(plot_err)?)
        } else {
            self.draw_on(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(plot_err)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::charts::svg_texts;

    #[test]
    fn draws_named_lines_and_rejects_ragged_input() {
        let s = |name: &str, y: f64| Series {
            name: name.into(),
            x: vec![10.0, 50.0, 100.0],
            y: vec![y, y + 0.1, y + 0.15],
            band: Some((vec![y - 0.02; 3], vec![y + 0.2; 3])),
        };
        for log_x in [false, true] {
            let f = line_chart("accuracy vs n", "n per class", "accuracy", vec![s("none", 0.6), s("crop", 0.65)], log_x).unwrap();
            let texts = svg_texts(&f.svg);
            for want in ["accuracy vs n", "none", "crop", "n per class"] {
                assert!(texts.iter().any(|t| t == want), "{want:?} not among {texts:?}");
            }
        }
        let mut bad = s("none", 0.6);
        bad.y.pop();
        assert!(line_chart("t", "x", "y", vec![bad], false).is_err());
        let mut nan = s("none", 0.6);
        nan.y[0] = f64::NAN;
        assert!(line_chart("t", "x", "y", vec![nan], false).is_err());
        assert!(line_chart("t", "x", "y", vec![], false).is_err());
        let mut zero = s("none", 0.6);
        zero.x[0] = 0.0;
        assert!(line_chart("t", "x", "y", vec![zero], true).is_err());
    }
}
