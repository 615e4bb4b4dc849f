//! A look at what a pipeline does: originals beside augmented copies.

use super::{AugRng, Augment};
use crate::plot::{image_grid_with_labels, ImageGrid};
use crate::{Error, Result};
use tch::Tensor;

/// A grid with one row per image: the original first, then `k` augmented copies
/// (each copy a fresh draw; the same seed gives the same grid), the columns headed
/// "original", "copy 1", …. `images` is `[N, C, H, W]` in `[0, 1]`; the pipeline must
/// keep the size.
pub fn preview(pipeline: &dyn Augment, images: &Tensor, k: usize, seed: u64) -> Result<ImageGrid> {
    preview_labelled(pipeline, images, &[], k, seed)
}

/// [`preview`] with a label left of each row, such as the class of each image (one
/// per image; an empty list draws none).
pub fn preview_labelled(pipeline: &dyn Augment, images: &Tensor, row_labels: &[String], k: usize, seed: u64) -> Result<ImageGrid> {
    super::check_batch("preview", images, false)?;
    if k == 0 {
        return Err(Error::invalid("k", 0, "show at least one augmented copy"));
    }
    let n = images.size()[0] as usize;
    if !row_labels.is_empty() && row_labels.len() != n {
        return Err(Error::shape("preview row labels (one per image)", n, row_labels.len()));
    }
    let mut rng = AugRng::new(seed);
    let mut columns = vec![images.shallow_clone()];
    for _ in 0..k {
        let y = pipeline.apply_rng(images, &mut rng)?;
        if y.size() != images.size() {
            return Err(Error::shape("preview: the pipeline must keep the size", format!("{:?}", images.size()), format!("{:?}", y.size())));
        }
        columns.push(y);
    }
    // [k+1, N, C, H, W] → rows of one image each: [N·(k+1), C, H, W]
    let grid = Tensor::stack(&columns, 1).flatten(0, 1);
    let headers: Vec<String> = std::iter::once("original".to_string()).chain((1..=k).map(|i| format!("copy {i}"))).collect();
    // magnified to about 84 pixels a side (28 px at 3×, 8 px at 11×, 64 px at 2×), so
    // that "original" fits above its column
    let scale = (84 + images.size()[3] as u32 - 1) / images.size()[3] as u32;
    image_grid_with_labels(&grid, k + 1, scale, row_labels, &headers)
}
