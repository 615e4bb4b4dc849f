//! ROC curves of every class and their macro average on one chart.

use super::{plot_err, tick_labels, Chart, Figure, FONT, MAX_TICKS};
use crate::evaluate::RocCurve;
use crate::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Named ROC curves on one chart, with the chance diagonal.
#[derive(Debug, Clone)]
pub struct RocChart {
    pub title: String,
    /// `(legend label, curve)`; a label starting with "macro" is drawn thick and black.
    pub curves: Vec<(String, RocCurve)>,
}

/// Render ROC curves, e.g. those of `evaluate::roc_curves_per_class` plus the macro
/// average, labelled with their AUC in the legend by the caller.
pub fn roc_chart(title: &str, curves: &[(String, RocCurve)]) -> Result<Figure> {
    Figure::render(&RocChart { title: title.into(), curves: curves.to_vec() })
}

impl Chart for RocChart {
    fn size(&self) -> (u32, u32) {
        (640, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let unit = tick_labels(0.0..1.0, MAX_TICKS);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_labels(MAX_TICKS)
            .y_labels(MAX_TICKS)
            .x_label_formatter(&unit)
            .y_label_formatter(&unit)
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3).stroke_width(1)))
            .map_err(plot_err)?;
        for (i, (label, curve)) in self.curves.iter().enumerate() {
            let style = if label.starts_with("macro") { BLACK.stroke_width(3) } else { Palette99::pick(i).stroke_width(2) };
            let points: Vec<(f64, f64)> = curve.fpr.iter().copied().zip(curve.tpr.iter().copied()).collect();
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 11))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_chart_has_legend_and_axes() {
        let c = crate::evaluate::roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        let f = roc_chart("ROC", &[("class a".into(), c.clone()), ("macro average".into(), c)]).unwrap();
        let texts = super::super::charts::svg_texts(&f.svg);
        for want in ["ROC", "class a", "macro average", "false positive rate", "true positive rate"] {
            assert!(texts.iter().any(|t| t == want), "{want:?} not among {texts:?}");
        }
    }
}
