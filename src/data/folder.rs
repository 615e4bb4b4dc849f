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
//! (bilinear; the aspect ratio is not kept — crop beforehand if it matters); by
//! default both come from the images themselves ([`FolderConfig`]).
//!
//! For experiments, [`image_folder_train_test`] also accepts `root/train/<class>/…`
//! beside `root/test/<class>/…`, or holds a stratified test part out of `root/<class>/…`.

use super::images::ImageDataset;
use crate::error::IoContext;
use crate::{Error, Result};
use image::imageops::FilterType;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The largest side a picture may have: 16,384 pixels.
pub const MAX_PICTURE_SIDE: u32 = 16_384;
/// The most memory one decoded picture may take: 512 MiB.
pub const MAX_PICTURE_BYTES: u64 = 512 << 20;

/// Decoder limits for a user's pictures ([`MAX_PICTURE_SIDE`], [`MAX_PICTURE_BYTES`]):
/// a file whose header claims 100,000 × 100,000 pixels is refused from its header,
/// before anything is allocated for its pixels.
pub fn picture_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some(MAX_PICTURE_BYTES);
    limits
}

/// Decode one picture from the bytes of its file (any format the folder reader takes)
/// and bring it to `size` (width, height; bilinear) and `channels` (1 or 3): `C·H·W`
/// bytes, channels first. `origin` names the file in errors.
pub fn decode_picture(bytes: &[u8], origin: &Path, size: (u32, u32), channels: usize) -> Result<Vec<u8>> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().at(origin)?;
    reader.limits(picture_limits());
    let img = reader.decode().map_err(|e| Error::Image { path: origin.to_path_buf(), reason: e.to_string() })?;
    Ok(to_chw(img, size, channels))
}

/// Resize and convert a decoded picture to `C·H·W` bytes.
fn to_chw(img: image::DynamicImage, (w, h): (u32, u32), channels: usize) -> Vec<u8> {
    let img = img.resize_exact(w, h, FilterType::Triangle);
    if channels == 1 {
        img.to_luma8().into_raw()
    } else {
        let rgb = img.to_rgb8().into_raw();
        let mut out = Vec::with_capacity(rgb.len());
        for c in 0..3 {
            out.extend(rgb.iter().skip(c).step_by(3));
        }
        out
    }
}

/// How to read an image folder. `None` means "what the images are": the size is
/// the median side of all images (capped at `max_side`, square output) and the
/// channels are 3 when any image has colour, else 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderConfig {
    /// Output width and height in pixels.
    pub size: Option<(u32, u32)>,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: Option<usize>,
    /// Skip files that cannot be decoded (listed in the [`FolderReport`]) instead of
    /// failing on the first one.
    pub skip_bad: bool,
    /// Cap of the automatic size.
    pub max_side: u32,
}

impl Default for FolderConfig {
    fn default() -> Self {
        FolderConfig { size: None, channels: None, skip_bad: false, max_side: 64 }
    }
}

/// What reading a folder decided and found.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct FolderReport {
    pub size: (u32, u32),
    pub channels: usize,
    /// True when the size came from the images (median side, capped).
    pub size_from_images: bool,
    /// Files skipped with `skip_bad`, with the decoder's reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Images read.
    pub images: usize,
}

impl FolderReport {
    /// One sentence for a report.
    pub fn describe(&self) -> String {
        let (w, h) = self.size;
        let mut s = format!(
            "{} images, {} {w}×{h}{}",
            self.images,
            if self.channels == 1 { "gray" } else { "RGB" },
            if self.size_from_images { " (the median side of the images, capped)" } else { "" }
        );
        if !self.skipped.is_empty() {
            let list: Vec<String> = self.skipped.iter().map(|(p, r)| format!("{} ({r})", p.display())).collect();
            s += &format!("; skipped {} unreadable file(s): {}", self.skipped.len(), list.join("; "));
        }
        s
    }
}

/// Read an image folder into `[N, C, H, W]` images, held as bytes and read as f32 in
/// `[0, 1]` ([`ImageDataset::images`]).
///
/// Errors: the folder is missing, has no class sub-folder, a class folder is empty
/// (named), or a file cannot be decoded (named, with the decoder's reason) unless
/// `skip_bad` is set.
pub fn image_folder(root: impl AsRef<Path>, cfg: &FolderConfig) -> Result<ImageDataset> {
    read_image_folder(root, cfg).map(|(d, _)| d)
}

/// [`image_folder`], also returning what was decided and skipped.
pub fn read_image_folder(root: impl AsRef<Path>, cfg: &FolderConfig) -> Result<(ImageDataset, FolderReport)> {
    let root = root.as_ref();
    let classes = class_dirs(root)?;
    let files = class_files(&classes)?;
    let (size, channels, skipped, size_from_images) = resolve(cfg, files.iter().flatten())?;
    let names: Vec<String> = classes.iter().map(|d| d.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()).collect();
    let d = decode_all(&files, &names, &skipped, size, channels)?;
    let report = FolderReport { size, channels, size_from_images, images: d.len(), skipped: skipped.into_iter().collect() };
    Ok((d, report))
}

/// A folder holding `train/<class>/…` and `test/<class>/…` (both read with the same
/// size and channels, the classes of `train` in both), or `<class>/…` alone, of
/// which a stratified `test_fraction` (at least one image per class with two or
/// more) is held out with `seed`. Returns the halves and the report.
pub fn image_folder_train_test(root: impl AsRef<Path>, cfg: &FolderConfig, test_fraction: f64, seed: u64) -> Result<(super::TrainTest, FolderReport)> {
    let root = root.as_ref();
    let (train_dir, test_dir) = (root.join("train"), root.join("test"));
    if train_dir.is_dir() && test_dir.is_dir() {
        let train_classes = class_dirs(&train_dir)?;
        let names: Vec<String> = train_classes.iter().map(|d| d.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()).collect();
        let test_classes: Vec<PathBuf> = names.iter().map(|n| test_dir.join(n)).collect();
        if let Some(missing) = test_classes.iter().find(|d| !d.is_dir()) {
            return Err(Error::format(missing, "the test part lacks this class of the train part"));
        }
        let extra: Vec<PathBuf> = class_dirs(&test_dir)?.into_iter().filter(|d| !test_classes.contains(d)).collect();
        if let Some(e) = extra.first() {
            return Err(Error::format(e, "a test class that the train part does not have"));
        }
        let (train_files, test_files) = (class_files(&train_classes)?, class_files(&test_classes)?);
        let (size, channels, skipped, size_from_images) = resolve(cfg, train_files.iter().flatten().chain(test_files.iter().flatten()))?;
        let train = decode_all(&train_files, &names, &skipped, size, channels)?;
        let test = decode_all(&test_files, &names, &skipped, size, channels)?;
        let report = FolderReport { size, channels, size_from_images, images: train.len() + test.len(), skipped: skipped.into_iter().collect() };
        let source = format!(
            "image folder {} (train/ and test/ given; classes {}; {} training and {} test images; {})",
            root.display(),
            names.join(", "),
            train.len(),
            test.len(),
            report.describe()
        );
        return Ok((super::TrainTest { train, test, source }, report));
    }
    let (all, report) = read_image_folder(root, cfg)?;
    let (tr, te) = super::stratified_split(&all.labels_vec(), all.num_classes(), test_fraction, seed)?;
    let (train, test) = (all.select(&tr)?, all.select(&te)?);
    if let Some((k, _)) = test.class_counts().iter().enumerate().find(|(_, &c)| c == 0) {
        return Err(Error::invalid("class", &all.class_names[k], "has a single image: nothing to hold out for testing (give it at least 2)"));
    }
    let source = format!(
        "image folder {} (classes {}; {:.0}% of each class held out once for testing with seed {seed}: {} test images, {} left to draw training sets from; {})",
        root.display(),
        all.class_names.join(", "),
        test_fraction * 100.0,
        test.len(),
        train.len(),
        report.describe()
    );
    Ok((super::TrainTest { train, test, source }, report))
}

fn class_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        return Err(Error::NotFound { what: "image folder".into(), searched: vec![root.to_path_buf()] });
    }
    let classes: Vec<PathBuf> = sorted_entries(root)?.into_iter().filter(|p| p.is_dir()).collect();
    if classes.is_empty() {
        return Err(Error::format(root, "no class sub-folders (expected root/<class>/<image files>)"));
    }
    Ok(classes)
}

fn class_files(classes: &[PathBuf]) -> Result<Vec<Vec<PathBuf>>> {
    classes
        .iter()
        .map(|dir| {
            let files: Vec<PathBuf> = sorted_entries(dir)?.into_iter().filter(|p| p.is_file()).collect();
            if files.is_empty() {
                return Err(Error::format(dir, "class folder holds no image files"));
            }
            Ok(files)
        })
        .collect()
}

/// Size and channels from the config or from the images' headers; with `skip_bad`,
/// the files whose header or pixels cannot be read.
fn resolve<'a>(cfg: &FolderConfig, files: impl Iterator<Item = &'a PathBuf>) -> Result<((u32, u32), usize, std::collections::BTreeMap<PathBuf, String>, bool)> {
    if let Some(c) = cfg.channels.filter(|&c| c != 1 && c != 3) {
        return Err(Error::invalid("channels", c, "must be 1 (grayscale) or 3 (RGB)"));
    }
    if let Some(s) = cfg.size.filter(|s| s.0 == 0 || s.1 == 0) {
        return Err(Error::invalid("size", format!("{s:?}"), "width and height must be positive"));
    }
    let mut sides = Vec::new();
    let mut colour = false;
    let mut skipped = std::collections::BTreeMap::new();
    for file in files {
        let mut reader = image::ImageReader::open(file).at(file)?.with_guessed_format().at(file)?;
        reader.limits(picture_limits());
        let header = reader
            .into_decoder()
            .map(|d| (image::ImageDecoder::dimensions(&d), image::ImageDecoder::color_type(&d)))
            .and_then(|(dims, ct)| if dims.0 == 0 || dims.1 == 0 { Err(image::ImageError::Limits(image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError))) } else { Ok((dims, ct)) });
        match header {
            Ok(((w, h), ct)) => {
                sides.extend([w, h]);
                colour |= ct.has_color();
            }
            Err(e) if cfg.skip_bad => {
                skipped.insert(file.clone(), e.to_string());
            }
            Err(e) => return Err(Error::Image { path: file.clone(), reason: format!("{e} (--skip-bad skips such files)") }),
        }
    }
    sides.sort_unstable();
    let auto = cfg.size.is_none();
    let size = match cfg.size {
        Some(s) => s,
        None => {
            let side = sides.get(sides.len() / 2).copied().unwrap_or(cfg.max_side).clamp(1, cfg.max_side.max(1));
            (side, side)
        }
    };
    Ok((size, cfg.channels.unwrap_or(if colour { 3 } else { 1 }), skipped, auto))
}

fn decode_all(files: &[Vec<PathBuf>], names: &[String], skip: &std::collections::BTreeMap<PathBuf, String>, size: (u32, u32), channels: usize) -> Result<ImageDataset> {
    // Pictures are decoded one at a time into a block of BLOCK images, and each full
    // block is copied into the dataset's byte tensor: at the peak, the resized dataset
    // as bytes, one block and one original, never all originals nor a second copy.
    const BLOCK: usize = 256;
    let (w, h) = size;
    let image_shape = [channels as i64, h as i64, w as i64];
    let per_image = channels * h as usize * w as usize;
    let total: usize = files.iter().flatten().filter(|f| !skip.contains_key(*f)).count();
    let images = Tensor::empty([total as i64, image_shape[0], image_shape[1], image_shape[2]], (tch::Kind::Uint8, tch::Device::Cpu));
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK.min(total) * per_image);
    let mut filled = 0i64;
    let mut flush = |block: &mut Vec<u8>| -> Result<()> {
        let k = (block.len() / per_image) as i64;
        if k > 0 {
            let src = Tensor::from_slice(block).view([k, image_shape[0], image_shape[1], image_shape[2]]);
            images.narrow(0, filled, k).f_copy_(&src)?;
            filled += k;
            block.clear();
        }
        Ok(())
    };
    let mut labels = Vec::with_capacity(total);
    for (label, class) in files.iter().enumerate() {
        let kept: Vec<&PathBuf> = class.iter().filter(|f| !skip.contains_key(*f)).collect();
        if kept.is_empty() {
            return Err(Error::invalid("class", &names[label], "every image of this class was unreadable and skipped"));
        }
        for file in kept {
            let bytes = std::fs::read(file).at(file)?;
            let picture = decode_picture(&bytes, file, size, channels)?;
            if picture.len() != per_image {
                return Err(Error::shape(format!("decoded picture {}", file.display()), per_image, picture.len()));
            }
            block.extend(picture);
            labels.push(label as i64);
            if block.len() == BLOCK * per_image {
                flush(&mut block)?;
            }
        }
    }
    flush(&mut block)?;
    drop(flush);
    ImageDataset::from_u8_tensor(images, &labels, names.to_vec())
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
        let bytes = self.pixel_bytes()?;
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
