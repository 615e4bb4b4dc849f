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
    let (width, height) = ((cols * cw + gap) as u32, (rows * ch + gap) as u32);
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for k in 0..n {
        let (r0, c0) = (gap + (k / cols) * ch, gap + (k % cols) * cw);
        for y in 0..h * sc {
            for x in 0..w * sc {
                let at = |ch_: usize| bytes[((k * c + ch_) * h + y / sc) * w + x / sc];
                let px = if c == 1 { [at(0); 3] } else { [at(0), at(1), at(2)] };
                canvas.put_pixel((c0 + x) as u32, (r0 + y) as u32, image::Rgb(px));
            }
        }
    }
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
}
