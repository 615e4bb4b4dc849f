//! Between a pipeline and folders of pictures: samples written as PNG files (seeded
//! per image, resumable), and a dataset's images made into training pictures.

use super::{SampleOptions, StableDiffusion};
use crate::augment::AugRng;
use crate::io::{write_atomic, OutputLock};
use crate::train::Progress;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The record `samples.json` keeps beside the pictures; a resumed run must match it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplesRecord {
    pub model: PathBuf,
    /// Textual-inversion files loaded before sampling, in order.
    pub embeddings: Vec<PathBuf>,
    pub prompt: String,
    pub negative_prompt: String,
    pub steps: usize,
    pub guidance: f64,
    pub height: i64,
    pub width: i64,
    pub seed: u64,
}

/// What [`StableDiffusion::sample_to_folder`] did.
#[derive(Debug, Clone)]
pub struct SampledFolder {
    /// Every picture of the run, `00000.png` first.
    pub files: Vec<PathBuf>,
    /// Pictures made by this call, and pictures an earlier call had made.
    pub written: usize,
    pub found: usize,
    pub seconds: f64,
}

/// Starting latents of picture `index`: a stream of its own, so that picture `i` of
/// a run starts from the same noise whatever the batch size and the number of pictures.
pub fn picture_latents(seed: u64, index: usize, shape: [i64; 3]) -> Tensor {
    let mut rng = AugRng::new(crate::derive_seed(seed, &format!("sd-picture/{index}")));
    rng.normal_like(&Tensor::zeros([1, shape[0], shape[1], shape[2]], (Kind::Float, Device::Cpu)))
}

/// `[3, H, W]` in [0, 1] as PNG bytes (rounded to the nearest of 256 levels).
pub fn png_bytes(image: &Tensor) -> Result<Vec<u8>> {
    let size = image.size();
    let [3, h, w] = size[..] else {
        return Err(Error::shape("picture", "[3, H, W]", format!("{size:?}")));
    };
    let bytes = (image.to_device(Device::Cpu).to_kind(Kind::Float) * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8).permute([1, 2, 0]).contiguous();
    let raw = Vec::<u8>::try_from(bytes.flatten(0, -1))?;
    let img = image::RgbImage::from_raw(w as u32, h as u32, raw).ok_or_else(|| Error::shape("picture bytes", h * w * 3, "another length"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(|e| Error::invalid("picture", format!("{h}x{w}"), e.to_string()))?;
    Ok(out.into_inner())
}

impl StableDiffusion {
    /// The side in pixels the model was trained at: the UNet's `sample_size` times
    /// the VAE's downscale (512 for SD 1.5, 768 for SD 2.1), else the VAE's own.
    pub fn native_resolution(&self) -> i64 {
        match (self.unet.config().sample_size, self.vae.config().sample_size) {
            (Some(s), _) => s * self.vae.downscale(),
            (None, Some(s)) => s,
            (None, None) => 512,
        }
    }

    /// Pictures `indices` of the run `opts` describes, `[len, 3, H, W]` in [0, 1]: each
    /// from [`picture_latents`]`(opts.seed, i, …)`, sampled together as one batch.
    pub fn sample_pictures(&self, prompt: &str, indices: &[usize], opts: &SampleOptions) -> Result<Tensor> {
        let f = self.vae.downscale();
        let shape = [self.unet.config().in_channels, opts.size.0 / f, opts.size.1 / f];
        let latents: Vec<Tensor> = indices.iter().map(|&i| picture_latents(opts.seed, i, shape)).collect();
        if latents.is_empty() {
            return Err(Error::invalid("number of pictures", 0, "must be at least 1"));
        }
        self.sample_from(prompt, &Tensor::cat(&latents, 0), opts)
    }

    /// Writes `n` pictures for `prompt` to `out` as `00000.png`, `00001.png`, … in
    /// batches of `batch`, with `samples.json` recording the prompt, the options, the
    /// model and `embeddings` (the inversion files the caller loaded). Picture `i`
    /// starts from [`picture_latents`]`(opts.seed, i, …)`; the pixels can still differ
    /// in the last bits between batch sizes (batched products sum in another order).
    /// Pictures already in the folder from the same record are kept, so a killed run
    /// resumes where it stopped and, with the same batch size, ends with the very
    /// files an uninterrupted run writes; a folder holding another record is refused.
    /// Each file is written whole or not at all.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_to_folder(&self, prompt: &str, n: usize, batch: usize, opts: &SampleOptions, embeddings: &[PathBuf], out: &Path, progress: bool) -> Result<SampledFolder> {
        if batch == 0 {
            return Err(Error::invalid("batch", 0, "must be at least 1"));
        }
        let _lock = OutputLock::acquire(out)?;
        let record = SamplesRecord {
            model: self.dir().to_path_buf(),
            embeddings: embeddings.to_vec(),
            prompt: prompt.into(),
            negative_prompt: opts.negative_prompt.clone(),
            steps: opts.steps,
            guidance: opts.guidance,
            height: opts.size.0,
            width: opts.size.1,
            seed: opts.seed,
        };
        let json = out.join("samples.json");
        if json.is_file() {
            let text = std::fs::read_to_string(&json).map_err(|source| Error::Io { path: json.clone(), source })?;
            let old: SamplesRecord = serde_json::from_str(&text).map_err(|e| Error::Format { path: json.clone(), reason: e.to_string() })?;
            if old != record {
                return Err(Error::Format { path: json, reason: format!("this folder holds pictures of another run ({:?}, seed {}, {} steps); use another output folder or delete it", old.prompt, old.seed, old.steps) });
            }
        } else {
            write_atomic(&json, serde_json::to_string_pretty(&record)?.as_bytes())?;
        }
        let files: Vec<PathBuf> = (0..n).map(|i| out.join(format!("{i:05}.png"))).collect();
        let todo: Vec<usize> = (0..n).filter(|&i| !files[i].is_file()).collect();
        let bar = Progress::new(n as u64, progress, "sampling");
        bar.set_position((n - todo.len()) as u64);
        let start = std::time::Instant::now();
        // batches are fixed (0..batch, batch..2·batch, …) and a batch missing any file is
        // run whole, so a resumed run computes every picture exactly as an uninterrupted
        // one (batched products sum in another order when the batch changes)
        let indices: Vec<usize> = (0..n).collect();
        for chunk in indices.chunks(batch).filter(|c| c.iter().any(|&i| !files[i].is_file())) {
            let images = self.sample_pictures(prompt, chunk, opts)?;
            for (k, &i) in chunk.iter().enumerate().filter(|(_, &i)| !files[i].is_file()) {
                write_atomic(&files[i], &png_bytes(&images.get(k as i64))?)?;
                bar.step_with(format!("{}", files[i].display()));
            }
        }
        bar.finish();
        Ok(SampledFolder { written: todo.len(), found: n - todo.len(), files, seconds: start.elapsed().as_secs_f64() })
    }
}

/// Images `[N, C, H, W]` in [0, 1] (C = 1 or 3, float) as the `[3, R, R]` bytes
/// [`super::TextualInversion`] trains on: gray repeated to RGB, resized bilinearly
/// to `R` (antialiased when shrinking).
pub fn training_pictures(images: &Tensor, resolution: i64) -> Result<Vec<Tensor>> {
    let size = images.size();
    let [n, c, _, _] = size[..] else {
        return Err(Error::shape("images", "[N, C, H, W]", format!("{size:?}")));
    };
    if c != 1 && c != 3 {
        return Err(Error::shape("image channels", "1 or 3", c.to_string()));
    }
    let rgb = images.to_device(Device::Cpu).to_kind(Kind::Float).expand([n, 3, -1, -1], false);
    let resized = rgb.f_internal_upsample_bilinear2d_aa([resolution, resolution], false, None, None)?;
    let bytes = (resized * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8);
    Ok((0..n).map(|i| bytes.get(i).contiguous()).collect())
}

/// Pictures `[N, 3, R, R]` in [0, 1] as images of the dataset's shape `[c, h, w]`:
/// resized bilinearly (antialiased), and for one channel the luma
/// (0.2126 R + 0.7152 G + 0.0722 B) that the image folder reader's `to_luma8` gives.
pub fn to_dataset_shape(pictures: &Tensor, shape: [usize; 3]) -> Result<Tensor> {
    let [c, h, w] = shape;
    let small = pictures.to_kind(Kind::Float).f_internal_upsample_bilinear2d_aa([h as i64, w as i64], false, None, None)?.clamp(0.0, 1.0);
    match c {
        3 => Ok(small),
        1 => {
            let weights = Tensor::from_slice(&[0.2126f32, 0.7152, 0.0722]).view([1, 3, 1, 1]);
            Ok((small * weights).sum_dim_intlist([1i64].as_slice(), true, Kind::Float))
        }
        _ => Err(Error::shape("image channels", "1 or 3", c.to_string())),
    }
}
