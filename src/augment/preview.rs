//! A look at what a pipeline does: originals beside augmented copies.

use super::{AugRng, Augment};
use crate::plot::{image_grid, ImageGrid};
use crate::{Error, Result};
use tch::Tensor;

/// A grid with one row per image: the original first, then `k` augmented copies
/// (each copy a fresh draw; the same seed gives the same grid). `images` is
/// `[N, C, H, W]` in `[0, 1]`; the pipeline must keep the size.
pub fn preview(pipeline: &dyn Augment, images: &Tensor, k: usize, seed: u64) -> Result<ImageGrid> {
    super::check_batch("preview", images, false)?;
    if k == 0 {
        return Err(Error::invalid("k", 0, "show at least one augmented copy"));
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
    image_grid(&grid, k + 1, 2)
}
