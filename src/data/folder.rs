//! Image folders: one sub-folder per class, any format the `image` crate decodes.
//!
//! ```text
//! root/
//!   cat/ a.png b.jpg …
//!   dog/ c.png …
//! ```
//! Classes are the sub-folder names in sorted order; files are read in sorted order,
//! so the same folder always gives the same dataset. Hidden files are skipped. Every
//! image is converted to the asked number of channels and resized to the asked size
//! (bilinear; the aspect ratio is not kept — crop beforehand if it matters).

use super::images::ImageDataset;
use crate::error::IoContext;
use crate::{Error, Result};
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

/// How to read an image folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderConfig {
    /// Output width and height in pixels.
    pub size: (u32, u32),
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
}

impl Default for FolderConfig {
    fn default() -> Self {
        FolderConfig { size: (28, 28), channels: 1 }
    }
}

/// Read an image folder into `[N, C, H, W]` f32 images in `[0, 1]`.
///
/// Errors: the folder is missing, has no class sub-folder, a class folder is empty
/// (named), or a file cannot be decoded (named, with the decoder's reason).
pub fn image_folder(root: impl AsRef<Path>, cfg: &FolderConfig) -> Result<ImageDataset> {
    let root = root.as_ref();
    if cfg.channels != 1 && cfg.channels != 3 {
        return Err(Error::invalid("channels", cfg.channels, "must be 1 (grayscale) or 3 (RGB)"));
    }
    if cfg.size.0 == 0 || cfg.size.1 == 0 {
        return Err(Error::invalid("size", format!("{:?}", cfg.size), "width and height must be positive"));
    }
    if !root.is_dir() {
        return Err(Error::NotFound { what: "image folder".into(), searched: vec![root.to_path_buf()] });
    }
    let classes = sorted_entries(root)?.into_iter().filter(|p| p.is_dir()).collect::<Vec<_>>();
    if classes.is_empty() {
        return Err(Error::format(root, "no class sub-folders (expected root/<class>/<image files>)"));
    }
    let (w, h) = cfg.size;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    let mut names = Vec::new();
    for (label, dir) in classes.iter().enumerate() {
        names.push(dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let files: Vec<_> = sorted_entries(dir)?.into_iter().filter(|p| p.is_file()).collect();
        if files.is_empty() {
            return Err(Error::format(dir, "class folder holds no image files"));
        }
        for file in files {
            let img = image::ImageReader::open(&file)
                .at(&file)?
                .with_guessed_format()
                .at(&file)?
                .decode()
                .map_err(|e| Error::Image { path: file.clone(), reason: e.to_string() })?;
            let img = img.resize_exact(w, h, FilterType::Triangle);
            if cfg.channels == 1 {
                pixels.extend(img.to_luma8().into_raw());
            } else {
                // HWC → CHW
                let rgb = img.to_rgb8().into_raw();
                for c in 0..3 {
                    pixels.extend(rgb.iter().skip(c).step_by(3));
                }
            }
            labels.push(label as i64);
        }
    }
    let n = labels.len();
    ImageDataset::from_u8(&pixels, [n, cfg.channels, h as usize, w as usize], &labels, names)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let hidden = path.file_name().map(|n| n.to_string_lossy().starts_with('.')).unwrap_or(true);
        if !hidden {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

impl ImageDataset {
    /// Write the dataset as an image folder that [`image_folder`] reads back:
    /// `root/<class name>/<index>.png`, 8-bit grey or RGB, one folder per class that
    /// has images. Characters that cannot be in a folder name (`/`, `\`) become `-`.
    /// Returns the class folders written.
    pub fn save_folder(&self, root: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let root = root.as_ref();
        let [c, h, w] = self.image_shape();
        if c != 1 && c != 3 {
            return Err(Error::shape("save_folder channels", "1 or 3", c));
        }
        let dirs: Vec<PathBuf> = self.class_names.iter().map(|n| root.join(n.replace(['/', '\\'], "-"))).collect();
        let counts = self.class_counts();
        let written: Vec<PathBuf> = dirs.iter().zip(&counts).filter(|(_, &n)| n > 0).map(|(d, _)| d.clone()).collect();
        for d in &written {
            std::fs::create_dir_all(d).at(d)?;
        }
        let bytes = super::images::to_u8_bytes(&self.images)?;
        let size = c * h * w;
        for (i, label) in self.labels_vec().into_iter().enumerate() {
            let chw = &bytes[i * size..(i + 1) * size];
            let path = dirs[label as usize].join(format!("{i:05}.png"));
            let (w32, h32) = (w as u32, h as u32);
            let saved = if c == 1 {
                image::GrayImage::from_raw(w32, h32, chw.to_vec()).map(|img| img.save(&path))
            } else {
                let hwc: Vec<u8> = (0..h * w).flat_map(|p| (0..3).map(move |k| chw[k * h * w + p])).collect();
                image::RgbImage::from_raw(w32, h32, hwc).map(|img| img.save(&path))
            };
            match saved {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(Error::Image { path, reason: e.to_string() }),
                None => return Err(Error::shape("save_folder image buffer", size, chw.len())),
            }
        }
        Ok(written)
    }
}
