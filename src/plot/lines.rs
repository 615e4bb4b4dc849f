//! Line charts with confidence bands: a metric against a numeric x (dataset size,
//! step), one line per method.

use super::{plot_err, tick_labels, Chart, Figure, FONT, MAX_TICKS};
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
            // half a unit around whole-number x (counts), else 5% of the span
            let whole = self.series.iter().flat_map(|s| &s.x).all(|x| (x - x.round()).abs() < 1e-9);
            let p = if whole || x1 <= x0 { ((x1 - x0) * 0.05).max(0.5) } else { (x1 - x0) * 0.05 };
            (x0 - p, x1 + p)
        };
        ((x0, x1), (y0 - ypad, y1 + ypad))
    }

    /// The corner of the plot where the legend covers the fewest points (line points
    /// and band edges): each corner box spans 45% of the width and, per legend line,
    /// 9% of the height. Ties go to the lower right, then upper right, lower left,
    /// upper left.
    fn legend_corner(&self) -> SeriesLabelPosition {
        let ((x0, x1), (y0, y1)) = self.bounds();
        let fx = |x: f64| if self.log_x { (x / x0).ln() / (x1 / x0).ln() } else { (x - x0) / (x1 - x0) };
        let fy = |y: f64| (y - y0) / (y1 - y0);
        // the lines and band edges, sampled 10 times per segment (in plot fractions)
        let mut points: Vec<(f64, f64)> = Vec::new();
        let mut trace = |xs: &[f64], ys: &[f64]| {
            let p: Vec<(f64, f64)> = xs.iter().zip(ys).map(|(&x, &y)| (fx(x), fy(y))).collect();
            points.extend(p.iter().copied());
            for seg in p.windows(2) {
                points.extend((1..10).map(|k| k as f64 / 10.0).map(|t| (seg[0].0 + t * (seg[1].0 - seg[0].0), seg[0].1 + t * (seg[1].1 - seg[0].1))));
            }
        };
        for s in &self.series {
            trace(&s.x, &s.y);
            if let Some((lo, hi)) = &s.band {
                trace(&s.x, lo);
                trace(&s.x, hi);
            }
        }
        let (w, h) = (0.45, (0.09 * self.series.len() as f64 + 0.04).min(0.9));
        let corners = [
            (SeriesLabelPosition::LowerRight, true, false),
            (SeriesLabelPosition::UpperRight, true, true),
            (SeriesLabelPosition::LowerLeft, false, false),
            (SeriesLabelPosition::UpperLeft, false, true),
        ];
        let covered = |right: bool, upper: bool| {
            points
                .iter()
                .filter(|&&(x, y)| (if right { x >= 1.0 - w } else { x <= w }) && (if upper { y >= 1.0 - h } else { y <= h }))
                .count()
        };
        let best = corners.iter().min_by_key(|&&(_, right, upper)| covered(right, upper));
        best.map_or(SeriesLabelPosition::LowerRight, |c| c.0.clone())
    }

    fn draw_on<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
        ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
    ) -> Result<()> {
        let (x_ticks, y_ticks) = (tick_labels(x0..x1, MAX_TICKS), tick_labels(y0..y1, MAX_TICKS));
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(MAX_TICKS)
            .y_labels(MAX_TICKS)
            .x_label_formatter(&|x| if self.log_x { tick(*x) } else { x_ticks(x) })
            .y_label_formatter(&y_ticks)
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
            .position(self.legend_corner())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}

/// A tick label on a log axis, where ticks sit at the x values drawn: whole numbers
/// without decimals (sizes are counts), else at most 3 decimals without trailing zeros
/// (0.2, not 0.200).
fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
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
            // ticks at the x values drawn (sizes such as 20 and 50), not only at powers of ten
            let mut ticks: Vec<f64> = self.series.iter().flat_map(|s| s.x.iter().copied()).collect();
            ticks.sort_by(f64::total_cmp);
            ticks.dedup();
            self.draw_on(builder.build_cartesian_2d((x0..x1).log_scale().with_key_points(ticks), y0..y1).map_err(plot_err)?, ((x0, x1), (y0, y1)))
        } else {
            self.draw_on(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(plot_err)?, ((x0, x1), (y0, y1)))
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
            // on a log axis too, every x drawn is a tick, as an integer
            for want in ["accuracy vs n", "none", "crop", "n per class", "10", "50", "100"] {
                assert!(texts.iter().any(|t| t == want), "{want:?} not among {texts:?}");
            }
        }
        // the legend goes where the lines are not: a rising line leaves the lower right
        // empty, a falling one the upper right
        let mut up = s("none", 0.6);
        up.band = None;
        let rising = LineChart { title: "t".into(), x_label: "x".into(), y_label: "y".into(), series: vec![up.clone()], log_x: true };
        assert_eq!(rising.legend_corner(), SeriesLabelPosition::LowerRight);
        up.y.reverse();
        let falling = LineChart { series: vec![up], log_x: false, ..rising.clone() };
        assert_eq!(falling.legend_corner(), SeriesLabelPosition::UpperRight);
        // fractional x: no padding of half a unit, and ticks without trailing zeros
        let noise = Series { name: "fmi".into(), x: vec![0.0, 0.1, 0.3, 0.6], y: vec![0.5, 0.5, 0.4, 0.3], band: None };
        let chart = LineChart { series: vec![noise], ..rising.clone() };
        let ((x0, x1), _) = LineChart { log_x: false, ..chart }.bounds();
        assert!(x0 > -0.1 && x1 < 0.7, "{x0} {x1}");
        assert_eq!(tick(0.2), "0.2");
        assert_eq!(tick(20.0), "20");
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
