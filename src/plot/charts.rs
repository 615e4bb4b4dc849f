//! Simple charts built with plotters' SVG backend.

use super::Figure;
use crate::{Error, Result};
use plotters::prelude::*;

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("chart", e, "plotters could not draw the chart")
}

/// A vertical bar chart of `values` with one `labels` entry per bar.
pub fn bar_chart(title: &str, labels: &[String], values: &[f64], y_label: &str) -> Result<Figure> {
    if labels.len() != values.len() {
        return Err(Error::shape("bar_chart labels vs values", labels.len(), values.len()));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite { context: format!("bar_chart {title:?}"), value: *v });
    }
    let mut svg = String::new();
    {
        let width = (120 + 60 * labels.len()).clamp(480, 1200) as u32;
        let root = SVGBackend::with_string(&mut svg, (width, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let top = values.iter().cloned().fold(0.0f64, f64::max).max(1e-12) * 1.1;
        let n = labels.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc(y_label)
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let mut bar = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), v)], Palette99::pick(i).filled());
                bar.set_margin(0, 0, 6, 6);
                bar
            }))
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(Figure { svg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_chart_draws_labels_and_checks_input() {
        let f = bar_chart("counts", &["a".into(), "b".into()], &[3.0, 5.0], "n").unwrap();
        assert!(f.svg.starts_with("<svg"));
        let texts: Vec<&str> = f.svg.split("<text").skip(1).map(|t| t.split('>').nth(1).unwrap_or("").trim_end_matches("</text").trim()).collect();
        for want in ["counts", "a", "b", "n"] {
            assert!(texts.contains(&want), "{want:?} not among {texts:?}");
        }
        assert!(bar_chart("x", &["a".into()], &[1.0, 2.0], "n").is_err());
        assert!(bar_chart("x", &["a".into()], &[f64::NAN], "n").is_err());
    }
}
