//! Bar charts.

use super::{edge, plot_err, tick_labels, Chart, Figure, FONT, MAX_TICKS};
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// A vertical bar chart: one bar per label.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub labels: Vec<String>,
    pub values: Vec<f64>,
    /// Optional error bars: `(low, high)` per bar, e.g. a confidence interval.
    pub errors: Option<Vec<(f64, f64)>>,
    pub y_label: String,
}

/// Render a bar chart of `values` with one `labels` entry per bar.
pub fn bar_chart(title: &str, labels: &[String], values: &[f64], y_label: &str) -> Result<Figure> {
    if labels.len() != values.len() || labels.is_empty() {
        return Err(Error::shape("bar_chart labels vs values", labels.len(), values.len()));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("bar_chart {title:?}"), value: *v });
    }
    Figure::render(&BarChart { title: title.into(), labels: labels.to_vec(), values: values.to_vec(), errors: None, y_label: y_label.into() })
}

/// A bar chart with an error bar `(low, high)` on every bar. Values may be negative
/// (bars then grow down from 0), so differences such as "accuracy gain over a
/// baseline, with its confidence interval" read directly.
pub fn bar_chart_ci(title: &str, labels: &[String], values: &[f64], errors: &[(f64, f64)], y_label: &str) -> Result<Figure> {
    if errors.len() != values.len() {
        return Err(Error::shape("bar_chart_ci error bars vs values", values.len(), errors.len()));
    }
    if let Some(v) = errors.iter().flat_map(|&(a, b)| [a, b]).find(|v| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("bar_chart_ci {title:?} error bars"), value: v });
    }
    let mut chart = BarChart { title: title.into(), labels: labels.to_vec(), values: values.to_vec(), errors: None, y_label: y_label.into() };
    bar_chart(title, labels, values, y_label)?; // same checks on labels and values
    chart.errors = Some(errors.to_vec());
    Figure::render(&chart)
}

/// Room a bar label needs below its bar, in pixels: about 6 px per character of the
/// 11-point axis font (a generous average for sans-serif), plus a gap.
fn label_room(label: &str) -> usize {
    6 * label.chars().count() + 14
}

impl Chart for BarChart {
    /// Wide enough that no two bar labels overlap (each bar gets at least 70 px, more
    /// when its longest label needs it) and for the title; at most 1200 px.
    fn size(&self) -> (u32, u32) {
        let per_bar = self.labels.iter().map(|l| label_room(l)).max().unwrap_or(0).max(70);
        ((120 + per_bar * self.labels.len()).max(60 + 9 * self.title.chars().count()).clamp(480, 1200) as u32, 380)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let ends = self.values.iter().copied().chain(self.errors.iter().flatten().flat_map(|&(a, b)| [a, b]));
        let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = (hi - lo).max(1e-12) * 0.08;
        let (bottom, top) = (if lo < 0.0 { lo - pad } else { 0.0 }, if hi > 0.0 { hi + pad } else { pad });
        let n = self.labels.len();
        let y_ticks = tick_labels(bottom..top, MAX_TICKS);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            // plotters' integer ranges include their end: 0..n-1 holds n bars
            .build_cartesian_2d((0..n - 1).into_segmented(), bottom..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => self.labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style((FONT, 11))
            .y_labels(MAX_TICKS)
            .y_label_formatter(&y_ticks)
            .y_desc(&self.y_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(self.values.iter().enumerate().map(|(i, &v)| {
                let mut bar = Rectangle::new([(edge(i, n), 0.0), (edge(i + 1, n), v)], Palette99::pick(i).filled());
                bar.set_margin(0, 0, 6, 6);
                bar
            }))
            .map_err(plot_err)?;
        if let Some(errors) = &self.errors {
            chart
                .draw_series(errors.iter().enumerate().map(|(i, &(a, b))| {
                    PathElement::new(vec![(SegmentValue::CenterOf(i), a), (SegmentValue::CenterOf(i), b)], BLACK.stroke_width(2))
                }))
                .map_err(plot_err)?;
        }
        if bottom < 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(edge(0, n), 0.0), (edge(n, n), 0.0)],
                    BLACK.mix(0.6).stroke_width(1),
                )))
                .map_err(plot_err)?;
        }
        Ok(())
    }
}

/// The text of every `<text>` element of an SVG (for tests).
#[cfg(test)]
pub(crate) fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text").skip(1).map(|t| t.split('>').nth(1).unwrap_or("").trim_end_matches("</text").trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_chart_draws_labels_and_checks_input() {
        let f = bar_chart("counts", &["a".into(), "b".into()], &[3.0, 5.0], "n").unwrap();
        assert!(f.svg.starts_with("<svg"));
        let texts = svg_texts(&f.svg);
        for want in ["counts", "a", "b", "n"] {
            assert!(texts.iter().any(|t| t == want), "{want:?} not among {texts:?}");
        }
        let img = image::load_from_memory(&f.png).unwrap();
        assert_eq!((img.width(), img.height()), (f.width, f.height));
        // a count axis reads 10, 20, …, not 10.0
        let counts = svg_texts(&bar_chart("rows", &["a".into(), "b".into()], &[30.0, 70.0], "rows").unwrap().svg);
        assert!(counts.iter().any(|t| t == "20") && !counts.iter().any(|t| t.ends_with(".0")), "{counts:?}");
        assert!(bar_chart("x", &["a".into()], &[1.0, 2.0], "n").is_err());
        assert!(bar_chart("x", &["a".into()], &[f64::NAN], "n").is_err());
    }

    #[test]
    fn long_bar_labels_get_room_of_their_own() {
        let labels: Vec<String> = ["boot | sneaker token", "boot | learned <boot>", "sneaker | sneaker token", "sneaker | learned <boot>"]
            .iter().map(|s| s.to_string()).collect();
        let f = bar_chart("shares", &labels, &[0.1, 0.8, 0.9, 0.1], "share").unwrap();
        // the x of each label's centre, read from the SVG
        let xs: Vec<f64> = f.svg.split("<text").skip(1)
            .filter(|t| labels.iter().any(|l| t.contains(&l.replace('<', "&lt;").replace('>', "&gt;"))))
            .map(|t| t.split("x=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(xs.len(), 4, "{xs:?}");
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap() as f64;
        for pair in xs.windows(2) {
            // centres at least a whole label apart (at 6 px a character): no overlap
            assert!(pair[1] - pair[0] >= 6.0 * longest, "labels {xs:?} closer than {} px", 6.0 * longest);
        }
        // short labels keep the compact width
        assert_eq!(bar_chart("c", &["a".into(), "b".into()], &[1.0, 2.0], "n").unwrap().width, 480);
    }

    /// Widths of the filled rectangles (the bars) in an SVG.
    fn bar_widths(svg: &str) -> Vec<f64> {
        svg.split("<rect").skip(1)
            .map(|r| r.split('>').next().unwrap())
            .filter(|r| !r.contains("fill=\"#FFFFFF\"") && !r.contains("fill=\"none\""))
            .map(|r| r.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn a_single_bar_has_width() {
        // one method compared: the axis has one segment, and the bar must still be drawn
        let f = bar_chart_ci("gain", &["crop".into()], &[-0.03], &[(-0.06, 0.0)], "Δ accuracy").unwrap();
        let widths = bar_widths(&f.svg);
        assert_eq!(widths.len(), 1, "{widths:?} in {}", f.svg);
        assert!(widths[0] > 100.0, "the one bar is {} px wide", widths[0]);
        let two = bar_widths(&bar_chart("c", &["a".into(), "b".into()], &[1.0, 2.0], "n").unwrap().svg);
        assert!(two.len() == 2 && two.iter().all(|&w| w > 100.0), "{two:?}");
    }
}
