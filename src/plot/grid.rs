//! A PNG mosaic of image tensors, for looking at data and at what augmentations or
//! generators make of it.

use super::write_atomic;
use crate::{Error, Result};
use base64::Engine;
use std::path::Path;
use tch::Tensor;

/// A grid of images encoded as PNG.
#[derive(Clone)]
pub struct ImageGrid {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Lay `images` (`[N, C, H, W]`, C = 1 or 3, float in `[0, 1]`, values outside are
/// clipped) out in rows of `ncols`, each image magnified `scale` times (nearest
/// neighbour) with a 2-pixel white gutter.
pub fn image_grid(images: &Tensor, ncols: usize, scale: u32) -> Result<ImageGrid> {
    let (canvas, _) = draw_grid(images, ncols, scale, 0, 0)?;
    encode(canvas)
}

/// [`image_grid`] with a label left of each row — a class name when each row holds
/// one class (`dataset.sorted_by_class()` orders a stratified sample that way). There
/// must be one label per row: `ceil(N / ncols)`.
pub fn image_grid_with_row_labels(images: &Tensor, ncols: usize, scale: u32, row_labels: &[String]) -> Result<ImageGrid> {
    image_grid_with_labels(images, ncols, scale, row_labels, &[])
}

/// [`image_grid`] with a label left of each row and one above each column (say the
/// class per row and the operation, or "real" / "synthetic", per column). Either list
/// may be empty; a non-empty one needs one label per row (`ceil(N / ncols)`) or per
/// column (`ncols`, or N when there are fewer images). A column label wider than its
/// column is shortened with "…".
pub fn image_grid_with_labels(images: &Tensor, ncols: usize, scale: u32, row_labels: &[String], col_labels: &[String]) -> Result<ImageGrid> {
    super::register_font()?;
    // room for the longest row label at 13 px (about 7.5 px a character) and a margin
    let left = if row_labels.is_empty() { 0 } else { text_width(row_labels.iter().map(|l| l.chars().count()).max().unwrap_or(0)) + 12 };
    let top = if col_labels.is_empty() { 0 } else { 20 };
    let (canvas, layout) = draw_grid(images, ncols, scale, left, top)?;
    if !row_labels.is_empty() && row_labels.len() != layout.rows {
        return Err(Error::shape("image grid row labels (one per row)", layout.rows, row_labels.len()));
    }
    if !col_labels.is_empty() && col_labels.len() != layout.cols {
        return Err(Error::shape("image grid column labels (one per column)", layout.cols, col_labels.len()));
    }
    let (width, height) = canvas.dimensions();
    let mut rgb = canvas.into_raw();
    {
        use plotters::prelude::*;
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let font = (super::FONT, 13).into_font();
        let row_style = TextStyle::from(font.clone()).color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        for (r, label) in row_labels.iter().enumerate() {
            let y = top + layout.gap + r * layout.cell_h + (layout.cell_h - layout.gap) / 2;
            root.draw_text(label, &row_style, ((left - 6) as i32, y as i32)).map_err(super::plot_err)?;
        }
        let col_style = TextStyle::from(font).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (c, label) in col_labels.iter().enumerate() {
            let x = left + layout.gap + c * layout.cell_w + (layout.cell_w - layout.gap) / 2;
            let label = fit(label, layout.cell_w);
            root.draw_text(&label, &col_style, (x as i32, (top - 4) as i32)).map_err(super::plot_err)?;
        }
        root.present().map_err(super::plot_err)?;
    }
    let canvas = image::RgbImage::from_raw(width, height, rgb).ok_or_else(|| Error::shape("image grid bitmap", width * height * 3, "a different size"))?;
    encode(canvas)
}

/// About how many pixels `chars` characters take at 13 px (7.5 a character).
fn text_width(chars: usize) -> usize {
    chars * 15 / 2
}

/// `label`, cut to what fits in `width` pixels with "…" at the end when it does not.
fn fit(label: &str, width: usize) -> String {
    let room = width * 2 / 15; // the inverse of text_width
    if label.chars().count() <= room.max(1) {
        label.to_string()
    } else {
        let mut cut: String = label.chars().take(room.saturating_sub(1).max(1)).collect();
        cut.push('…');
        cut
    }
}

/// Where the cells of a grid lie.
struct Layout {
    rows: usize,
    cols: usize,
    /// Width of one column of cells, the gutter right of it included.
    cell_w: usize,
    /// Height of one row of cells, the gutter below it included.
    cell_h: usize,
    gap: usize,
}

/// The mosaic on a white canvas, `left` pixels of empty margin before the first column
/// and `top` above the first row.
fn draw_grid(images: &Tensor, ncols: usize, scale: u32, left: usize, top: usize) -> Result<(image::RgbImage, Layout)> {
    let s = images.size();
    if s.len() != 4 || !(s[1] == 1 || s[1] == 3) {
        return Err(Error::shape("image_grid images", "[N, 1 or 3, H, W]", format!("{s:?}")));
    }
    if ncols == 0 || scale == 0 {
        return Err(Error::invalid("ncols/scale", format!("{ncols}/{scale}"), "must be positive"));
    }
    let (n, c, h, w) = (s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize);
    let bytes = crate::data::to_u8_bytes(images)?;
    let cols = ncols.min(n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let gap = 2usize;
    let sc = scale as usize;
    let (cw, ch) = (w * sc + gap, h * sc + gap);
    let (width, height) = ((left + cols * cw + gap) as u32, (top + rows * ch + gap) as u32);
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for k in 0..n {
        let (r0, c0) = (top + gap + (k / cols) * ch, left + gap + (k % cols) * cw);
        for y in 0..h * sc {
            for x in 0..w * sc {
                let at = |ch_: usize| bytes[((k * c + ch_) * h + y / sc) * w + x / sc];
                let px = if c == 1 { [at(0); 3] } else { [at(0), at(1), at(2)] };
                canvas.put_pixel((c0 + x) as u32, (r0 + y) as u32, image::Rgb(px));
            }
        }
    }
    Ok((canvas, Layout { rows, cols, cell_w: cw, cell_h: ch, gap }))
}

fn encode(canvas: image::RgbImage) -> Result<ImageGrid> {
    let (width, height) = canvas.dimensions();
    let mut png = Vec::new();
    canvas
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::invalid("image grid", e, "PNG encoding failed"))?;
    Ok(ImageGrid { png, width, height })
}

impl std::fmt::Debug for ImageGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImageGrid({}×{} px, {} bytes of PNG)", self.width, self.height, self.png.len())
    }
}

impl ImageGrid {
    /// Write the PNG to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.png)
    }

    /// Inline display in an evcxr notebook.
    pub fn evcxr_display(&self) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.png);
        println!("EVCXR_BEGIN_CONTENT image/png\n{b64}\nEVCXR_END_CONTENT");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn grid_size_and_pixels() {
        let imgs = Tensor::ones([3, 1, 4, 5], (Kind::Float, Device::Cpu)) * 0.5;
        let g = image_grid(&imgs, 2, 2).unwrap();
        assert_eq!((g.width, g.height), (2 * (10 + 2) + 2, 2 * (8 + 2) + 2));
        let decoded = image::load_from_memory(&g.png).unwrap().to_rgb8();
        assert_eq!(decoded.get_pixel(2, 2).0, [128, 128, 128]);
        assert_eq!(decoded.get_pixel(0, 0).0, [255, 255, 255]);
        assert!(image_grid(&Tensor::zeros([2, 2, 4, 4], (Kind::Float, Device::Cpu)), 2, 1).is_err());
    }

    #[test]
    fn row_labels_sit_left_of_their_rows() {
        // three rows of two black images; the second label is long, the others short
        let imgs = Tensor::zeros([6, 1, 8, 8], (Kind::Float, Device::Cpu));
        let labels: Vec<String> = ["a", "ankle boot", "b"].iter().map(|s| s.to_string()).collect();
        let plain = image_grid(&imgs, 2, 2).unwrap();
        let g = image_grid_with_row_labels(&imgs, 2, 2, &labels).unwrap();
        let left = (g.width - plain.width) as usize;
        assert_eq!(g.height, plain.height);
        assert!(left >= 10 * 7, "{left} px of margin for a 10-character label");
        let px = image::load_from_memory(&g.png).unwrap().to_rgb8();
        // ink (non-white pixels) in the margin, per row band: each row has its label
        let band = (g.height as usize - 2) / 3;
        let ink = |r: usize, x0: usize, x1: usize| {
            (2 + r * band..2 + (r + 1) * band - 2).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| px.get_pixel(x as u32, y as u32).0 != [255, 255, 255]).count()
        };
        for r in 0..3 {
            assert!(ink(r, 0, left) > 0, "no label drawn left of row {r}");
        }
        // right-aligned: the long label reaches further left than the short ones
        assert!(ink(1, 0, left / 2) > 0 && ink(0, 0, left / 2) == 0);
        // the images themselves moved right by the margin, unchanged
        assert_eq!(px.get_pixel(left as u32 + 2, 2).0, [0, 0, 0]);
        assert!(image_grid_with_row_labels(&imgs, 2, 2, &labels[..2]).is_err());
    }

    #[test]
    fn column_labels_sit_above_their_columns() {
        // two rows of three black 10×10 images at scale 3: columns 32 px wide
        let imgs = Tensor::zeros([6, 1, 10, 10], (Kind::Float, Device::Cpu));
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cols = names(&["crop", "rotate", "a very long operation name"]);
        let plain = image_grid(&imgs, 3, 3).unwrap();
        let g = image_grid_with_labels(&imgs, 3, 3, &[], &cols).unwrap();
        let top = (g.height - plain.height) as usize;
        assert_eq!(g.width, plain.width);
        assert!(top >= 14, "{top} px above the grid");
        let px = image::load_from_memory(&g.png).unwrap().to_rgb8();
        let ink = |x0: usize, x1: usize| (0..top).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| px.get_pixel(x as u32, y as u32).0 != [255, 255, 255]).count();
        let cell = 10 * 3 + 2;
        for c in 0..3 {
            assert!(ink(2 + c * cell, 2 + (c + 1) * cell - 2) > 0, "no label above column {c}");
        }
        // the long label is cut to its column: nothing drawn past the grid's right edge
        assert_eq!(ink(2 + 3 * cell, g.width as usize), 0);
        assert_eq!(fit("a very long operation name", cell), "a v…");
        assert_eq!(fit("crop", cell), "crop");
        // images start below the labels
        assert_eq!(px.get_pixel(2, top as u32 + 2).0, [0, 0, 0]);
        // both kinds at once, and counts checked
        let rows = names(&["shirt", "boot"]);
        let both = image_grid_with_labels(&imgs, 3, 3, &rows, &cols).unwrap();
        assert_eq!(both.height, g.height);
        assert!(both.width > g.width);
        assert!(image_grid_with_labels(&imgs, 3, 3, &rows, &cols[..2]).is_err());
        assert!(image_grid_with_labels(&imgs, 3, 3, &rows[..1], &cols).is_err());
    }
}
