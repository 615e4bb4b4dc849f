//! A confusion matrix as a heat map, each cell coloured by its share of the row (the
//! recall of that true class) and labelled with its count.

use super::{edge, plot_err, Chart, Figure, FONT};
use crate::{Error, Result};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A `[k, k]` confusion matrix (rows = true class) with class names.
#[derive(Debug, Clone)]
pub struct ConfusionHeatmap {
    pub title: String,
    pub matrix: Array2<u64>,
    pub class_names: Vec<String>,
}

/// Render a confusion matrix from `evaluate::confusion_matrix`.
pub fn confusion_heatmap(title: &str, matrix: &Array2<u64>, class_names: &[String]) -> Result<Figure> {
    let (r, c) = matrix.dim();
    if r != c || r != class_names.len() || r == 0 {
        return Err(Error::shape("confusion heat map: matrix vs class names", format!("[{0}, {0}]", class_names.len()), format!("[{r}, {c}]")));
    }
    Figure::render(&ConfusionHeatmap { title: title.into(), matrix: matrix.clone(), class_names: class_names.to_vec() })
}

impl Chart for ConfusionHeatmap {
    fn size(&self) -> (u32, u32) {
        let side = (260 + 48 * self.class_names.len()).clamp(420, 1000) as u32;
        (side, side + 20)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let k = self.class_names.len();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(120)
                        // plotters' integer ranges include their end: 0..k-1 holds k classes
            .build_cartesian_2d((0..k - 1).into_segmented(), (0..k - 1).into_segmented())
            .map_err(plot_err)?;
        // row 0 (the first class) is drawn at the top
        let name = |v: &SegmentValue<usize>, flip: bool| match v {
            SegmentValue::CenterOf(i) if *i < k => self.class_names[if flip { k - 1 - i } else { *i }].clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k)
            .y_labels(k)
            .x_label_formatter(&|v| name(v, false))
            .y_label_formatter(&|v| name(v, true))
            .x_label_style((FONT, 11))
            .y_label_style((FONT, 12))
            .x_desc("predicted class")
            .y_desc("true class")
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(plot_err)?;
        let cell = |i: usize| (edge(i, k), edge(i + 1, k));
        for t in 0..k {
            let row_total: u64 = self.matrix.row(t).sum();
            for p in 0..k {
                let count = self.matrix[[t, p]];
                let share = if row_total == 0 { 0.0 } else { count as f64 / row_total as f64 };
                let (x0, x1) = cell(p);
                let (y0, y1) = cell(k - 1 - t);
                let colour = ViridisRGB::get_color(share);
                chart.draw_series(std::iter::once(Rectangle::new([(x0.clone(), y0), (x1, y1.clone())], colour.filled()))).map_err(plot_err)?;
                let ink = if share > 0.6 { BLACK } else { WHITE };
                let label = EmptyElement::at((x0, y1)) + Text::new(count.to_string(), (6, 6), (FONT, 13).into_font().color(&ink));
                chart.draw_series(std::iter::once(label)).map_err(plot_err)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmap_labels_counts_and_checks_shape() {
        let m = ndarray::array![[5, 1], [0, 7]];
        let names = vec!["cat".to_string(), "dog".to_string()];
        let f = confusion_heatmap("cm", &m, &names).unwrap();
        let texts = super::super::charts::svg_texts(&f.svg);
        for want in ["5", "1", "0", "7", "cat", "dog", "predicted class", "true class"] {
            assert!(texts.iter().any(|t| t == want), "{want:?} not among {texts:?}");
        }
        assert!(confusion_heatmap("cm", &m, &names[..1]).is_err());
    }
}
