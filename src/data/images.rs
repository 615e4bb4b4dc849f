//! [`ImageDataset`]: a labelled batch of images as tensors, the type every image
//! loader returns and every image method consumes.
//!
//! A dataset read from 8-bit files (a folder, MNIST, CIFAR-10) keeps its
//! pixels as bytes, a quarter of the memory of float32, and turns them into floats
//! only for what is asked of it: [`ImageDataset::images`] for the whole set,
//! [`ImageDataset::batch_images`] and [`ImageDataset::batches`] for a mini-batch. The
//! floats are the same either way, bit for bit: a byte `b` always becomes `b as f32 / 255`.

use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// Labelled images held as tensors.
///
/// * the images, `[N, C, H, W]`, read as f32 in `[0, 1]` with [`ImageDataset::images`]
///   and held either so (a dataset made by a method: augmented, generated) or as `u8`
///   bytes `0..=255` (a dataset read from 8-bit files; [`ImageDataset::is_compact`]);
/// * `labels`: `[N]` i64 in `0..class_names.len()`.
#[derive(Debug)]
pub struct ImageDataset {
    /// Float in `[0, 1]`, or `Uint8` where 255 stands for 1. Private so that nobody
    /// reads bytes as if they were floats: a `u8` tensor times 2.0 is 0..510, not 0..2.
    images: Tensor,
    pub labels: Tensor,
    pub class_names: Vec<String>,
}

impl Clone for ImageDataset {
    /// A deep copy: the new dataset owns its own storage.
    fn clone(&self) -> Self {
        ImageDataset { images: self.images.copy(), labels: self.labels.copy(), class_names: self.class_names.clone() }
    }
}

impl ImageDataset {
    /// Build a dataset, checking that shapes, kinds and label range agree. `images`
    /// is f32 in `[0, 1]`, or `u8` bytes, which are kept as they are (compact).
    pub fn new(images: Tensor, labels: Tensor, class_names: Vec<String>) -> Result<Self> {
        let dims = images.size();
        if dims.len() != 4 {
            return Err(Error::shape("ImageDataset images", "[N, C, H, W]", format!("{dims:?}")));
        }
        if !matches!(images.kind(), Kind::Float | Kind::Uint8) {
            return Err(Error::shape("ImageDataset images kind", "Float or Uint8", format!("{:?}", images.kind())));
        }
        let ldims = labels.size();
        if ldims != [dims[0]] {
            return Err(Error::shape("ImageDataset labels (one per image)", format!("[{}]", dims[0]), format!("{ldims:?}")));
        }
        if labels.kind() != Kind::Int64 {
            return Err(Error::shape("ImageDataset labels kind", "Int64", format!("{:?}", labels.kind())));
        }
        if class_names.is_empty() {
            return Err(Error::invalid("class_names", "[]", "a dataset needs at least one class"));
        }
        if dims[0] > 0 {
            let lo = labels.min().int64_value(&[]);
            let hi = labels.max().int64_value(&[]);
            if lo < 0 || hi >= class_names.len() as i64 {
                return Err(Error::invalid(
                    "label",
                    if lo < 0 { lo } else { hi },
                    format!("labels must lie in 0..{}", class_names.len()),
                ));
            }
        }
        Ok(ImageDataset { images, labels, class_names })
    }

    /// Build from `u8` pixels laid out `[N, C, H, W]` (kept compact; read as `[0, 1]`).
    pub fn from_u8(pixels: &[u8], shape: [usize; 4], labels: &[i64], class_names: Vec<String>) -> Result<Self> {
        let [n, c, h, w] = shape;
        if pixels.len() != n * c * h * w {
            return Err(Error::shape("pixel buffer", n * c * h * w, pixels.len()));
        }
        Self::from_u8_tensor(Tensor::from_slice(pixels).view([n as i64, c as i64, h as i64, w as i64]), labels, class_names)
    }

    /// Build from a `u8` tensor `[N, C, H, W]`, kept as it is (compact; read as
    /// `[0, 1]`): no float copy of the whole set is ever made by the dataset itself.
    pub fn from_u8_tensor(bytes: Tensor, labels: &[i64], class_names: Vec<String>) -> Result<Self> {
        if bytes.kind() != Kind::Uint8 {
            return Err(Error::shape("ImageDataset bytes kind", "Uint8", format!("{:?}", bytes.kind())));
        }
        Self::new(bytes, Tensor::from_slice(labels), class_names)
    }

    /// Every image as `[N, C, H, W]` f32 in `[0, 1]`. A second handle on the storage
    /// when the dataset holds floats; a new float tensor when it holds bytes (then
    /// prefer [`ImageDataset::batch_images`] or [`ImageDataset::batches`] for a large set).
    pub fn images(&self) -> Tensor {
        unit_floats(&self.images)
    }

    /// The images at `index` (an i64 tensor of positions, on any device), as f32 in
    /// `[0, 1]` on the dataset's device: only these are turned into floats.
    pub fn batch_images(&self, index: &Tensor) -> Tensor {
        unit_floats(&self.images.index_select(0, &index.to_device(self.images.device())))
    }

    /// The images as they are held: `Uint8` (0 to 255) for a compact dataset, f32 in
    /// `[0, 1]` otherwise. For writers that want the bytes without a float copy.
    pub fn stored_images(&self) -> &Tensor {
        &self.images
    }

    /// Every image as 8-bit values in `[N, C, H, W]` order, on the host: the bytes
    /// themselves for a compact dataset, the floats rounded ([`to_u8_bytes`]) otherwise.
    pub fn pixel_bytes(&self) -> Result<Vec<u8>> {
        if self.is_compact() {
            let flat = self.images.f_to_device(Device::Cpu)?.f_contiguous()?.f_view([-1])?;
            Ok(Vec::<u8>::try_from(&flat)?)
        } else {
            to_u8_bytes(&self.images)
        }
    }

    /// True when the images are held as bytes (see [`ImageDataset::stored_images`]).
    pub fn is_compact(&self) -> bool {
        self.images.kind() == Kind::Uint8
    }

    /// Bytes the images take in memory: N·C·H·W for a compact dataset, 4× that for floats.
    pub fn image_bytes(&self) -> usize {
        self.images.numel() * self.images.kind().elt_size_in_bytes()
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.size()[0] as usize
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes (including classes with no image in this dataset).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// `[C, H, W]` of one image.
    pub fn image_shape(&self) -> [usize; 3] {
        let s = self.images.size();
        [s[1] as usize, s[2] as usize, s[3] as usize]
    }

    /// Labels as a plain vector.
    pub fn labels_vec(&self) -> Vec<i64> {
        Vec::<i64>::try_from(&self.labels.to_device(Device::Cpu)).unwrap_or_default()
    }

    /// Number of images of each class, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for l in self.labels_vec() {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The images at `indices`, in that order (a copy).
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        let n = self.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::invalid("index", bad, format!("the dataset holds {n} images")));
        }
        let idx = Tensor::from_slice(&indices.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(self.images.device());
        Ok(ImageDataset {
            images: self.images.f_index_select(0, &idx)?,
            labels: self.labels.f_index_select(0, &idx)?,
            class_names: self.class_names.clone(),
        })
    }

    /// The same images grouped by class, classes in label order and each class's
    /// images in their current order (a copy). With `k` images per class,
    /// `image_grid(&d.sorted_by_class()?.images(), k, …)` shows one class per row.
    pub fn sorted_by_class(&self) -> Result<Self> {
        let labels = self.labels_vec();
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by_key(|&i| labels[i]); // stable
        self.select(&order)
    }

    /// A second handle on the same storage (no copy), e.g. to hand the data to
    /// another thread: tensors may be sent between threads but not shared.
    pub fn shallow_clone(&self) -> Self {
        ImageDataset { images: self.images.shallow_clone(), labels: self.labels.shallow_clone(), class_names: self.class_names.clone() }
    }

    /// The same data on another device.
    pub fn to_device(&self, device: Device) -> Self {
        ImageDataset { images: self.images.to_device(device), labels: self.labels.to_device(device), class_names: self.class_names.clone() }
    }

    /// Counts, shape and pixel statistics, for printing or inline display.
    pub fn summary(&self, name: &str) -> DatasetSummary {
        let (mean, std) = if self.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            pixel_mean_std(&self.images)
        };
        DatasetSummary {
            name: name.to_string(),
            len: self.len(),
            image_shape: self.image_shape(),
            class_names: self.class_names.clone(),
            class_counts: self.class_counts(),
            pixel_mean: mean,
            pixel_std: std,
            held_as: if self.is_compact() { "u8" } else { "f32" }.to_string(),
            image_bytes: self.image_bytes(),
        }
    }
}

/// f32 in `[0, 1]`: bytes divided by 255 (in f32, so a byte gives the same float
/// whether a whole set or a batch is converted), floats as they are (a second handle).
fn unit_floats(images: &Tensor) -> Tensor {
    if images.kind() == Kind::Uint8 {
        let mut floats = images.to_kind(Kind::Float);
        let _ = floats.g_div_scalar_(255.0);
        floats
    } else {
        images.shallow_clone()
    }
}

/// Mean and sample standard deviation of every value of `images` read as `[0, 1]`, in
/// f64, a block of images at a time: converting the whole tensor to f64 at once (or
/// subtracting its mean) would hold two more copies of a dataset that may be most of
/// the memory.
fn pixel_mean_std(images: &Tensor) -> (f64, f64) {
    const BLOCK: i64 = 512;
    let n = images.size()[0];
    let (mut count, mut sum, mut sum_sq) = (0f64, 0f64, 0f64);
    for start in (0..n).step_by(BLOCK as usize) {
        let block = unit_floats(&images.narrow(0, start, BLOCK.min(n - start))).to_kind(Kind::Double);
        count += block.numel() as f64;
        sum += block.sum(Kind::Double).double_value(&[]);
        sum_sq += block.square().sum(Kind::Double).double_value(&[]);
    }
    let mean = sum / count;
    // values lie in [0, 1], so the sums of squares lose nothing that matters in f64
    let var = ((sum_sq - count * mean * mean) / (count - 1.0)).max(0.0);
    (mean, if count > 1.0 { var.sqrt() } else { f64::NAN })
}

/// Images (any shape, float in `[0, 1]`, values outside are clipped) as 8-bit values
/// in the tensor's logical order, on the host: what PNG encoders and image folders need.
pub fn to_u8_bytes(images: &Tensor) -> Result<Vec<u8>> {
    let t = images.f_to_device(Device::Cpu)?.f_clamp(0.0, 1.0)?.f_mul_scalar(255.0)?.f_round()?;
    Ok(Vec::<u8>::try_from(&t.f_to_kind(Kind::Uint8)?.f_contiguous()?.f_view([-1])?)?)
}

/// What [`ImageDataset::summary`] reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetSummary {
    pub name: String,
    pub len: usize,
    pub image_shape: [usize; 3],
    pub class_names: Vec<String>,
    pub class_counts: Vec<usize>,
    pub pixel_mean: f64,
    pub pixel_std: f64,
    /// How the pixels are held in memory: `u8` (compact) or `f32`.
    pub held_as: String,
    /// Bytes the images take in memory.
    pub image_bytes: usize,
}


impl std::fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [c, h, w] = self.image_shape;
        writeln!(
            f,
            "{}: {} images of {c}×{h}×{w}, {} classes, pixel mean {:.4} std {:.4} ({})",
            self.name,
            self.len,
            self.class_names.len(),
            self.pixel_mean,
            self.pixel_std,
            self.held()
        )?;
        writeln!(f, "  {:>5} {:<20} {:>6}", "class", "name", "images")?;
        for (i, (name, count)) in self.class_names.iter().zip(&self.class_counts).enumerate() {
            writeln!(f, "  {i:>5} {name:<20} {count:>6}")?;
        }
        Ok(())
    }
}

impl DatasetSummary {
    /// "held as u8, 117.2 MiB": how the images are held and what they take.
    fn held(&self) -> String {
        format!("held as {}, {:.1} MiB", self.held_as, self.image_bytes as f64 / (1u64 << 20) as f64)
    }

    /// HTML table of the summary.
    pub fn to_html(&self) -> String {
        let [c, h, w] = self.image_shape;
        let mut s = format!(
            "<b>{}</b>: {} images of {c}×{h}×{w}, pixel mean {:.4}, std {:.4} ({})<table><tr><th>class</th><th>name</th><th>count</th></tr>",
            html_escape(&self.name),
            self.len,
            self.pixel_mean,
            self.pixel_std,
            self.held()
        );
        for (i, (name, count)) in self.class_names.iter().zip(&self.class_counts).enumerate() {
            s += &format!("<tr><td>{i}</td><td>{}</td><td>{count}</td></tr>", html_escape(name));
        }
        s + "</table>"
    }

    /// Inline display in an evcxr notebook.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
    }
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The images of `classes`, relabelled `0..classes.len()` in that order.
pub fn classes_subset(data: &ImageDataset, classes: &[i64]) -> Result<ImageDataset> {
    // (index in data, new label) of every image whose label is one of `classes`
    let kept: Vec<(usize, i64)> = data
        .labels_vec()
        .iter()
        .enumerate()
        .filter_map(|(i, l)| classes.iter().position(|c| c == l).map(|k| (i, k as i64)))
        .collect();
    if kept.is_empty() {
        return Err(Error::invalid("classes", format!("{classes:?}"), "no image has these labels"));
    }
    let idx: Vec<usize> = kept.iter().map(|&(i, _)| i).collect();
    let relabelled: Vec<i64> = kept.iter().map(|&(_, k)| k).collect();
    let sub = data.select(&idx)?;
    let names = classes.iter().map(|&c| data.class_names.get(c as usize).cloned().unwrap_or_else(|| c.to_string())).collect();
    ImageDataset::new(sub.images, Tensor::from_slice(&relabelled), names) // keeps bytes as bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn sorted_by_class_groups_and_keeps_order_within_a_class() {
        // image i holds the value i, so the order of the images can be read back
        let images = Tensor::arange(6, (Kind::Float, tch::Device::Cpu)).view([6, 1, 1, 1]);
        let d = ImageDataset::new(images, Tensor::from_slice(&[2i64, 0, 1, 0, 2, 1]), names(3)).unwrap();
        let s = d.sorted_by_class().unwrap();
        assert_eq!(s.labels_vec(), vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(Vec::<f32>::try_from(s.images().flatten(0, -1)).unwrap(), vec![1.0, 3.0, 2.0, 5.0, 0.0, 4.0]);
    }

    #[test]
    fn blockwise_mean_and_std_equal_libtorch_over_the_whole_tensor() {
        // 1,100 images: two whole blocks of 512 and a part block
        let x = Tensor::rand([1100, 3, 4, 4], (Kind::Float, tch::Device::Cpu));
        let (mean, std) = pixel_mean_std(&x);
        let whole = x.to_kind(Kind::Double);
        assert!((mean - whole.mean(Kind::Double).double_value(&[])).abs() < 1e-12);
        assert!((std - whole.std(true).double_value(&[])).abs() < 1e-10);
    }

    #[test]
    fn from_u8_tensor_scales_and_refuses_other_kinds() {
        let bytes = Tensor::from_slice(&[0u8, 51, 255, 102]).view([1, 1, 2, 2]);
        let d = ImageDataset::from_u8_tensor(bytes, &[0], names(1)).unwrap();
        assert_eq!(Vec::<f32>::try_from(d.images().view([-1])).unwrap(), vec![0.0, 0.2, 1.0, 0.4]);
        let err = ImageDataset::from_u8_tensor(Tensor::zeros([1, 1, 2, 2], (Kind::Float, tch::Device::Cpu)), &[0], names(1)).unwrap_err();
        assert!(err.to_string().contains("Uint8"), "{err}");
    }

    #[test]
    fn from_u8_scales_and_counts() {
        let px = [0u8, 255, 51, 102];
        let ds = ImageDataset::from_u8(&px, [4, 1, 1, 1], &[0, 1, 1, 2], names(3)).unwrap();
        assert_eq!(ds.len(), 4);
        assert_eq!(ds.class_counts(), vec![1, 2, 1]);
        let v = Vec::<f32>::try_from(ds.images().flatten(0, -1)).unwrap();
        assert_eq!(v, vec![0.0, 1.0, 0.2, 0.4]);
    }

    #[test]
    fn bytes_stay_bytes_and_read_as_the_floats_of_a_float_dataset() {
        // every byte value, in 4 images of 1×8×8
        let px: Vec<u8> = (0..=255).collect();
        let labels = [0i64, 1, 0, 1];
        let compact = ImageDataset::from_u8(&px, [4, 1, 8, 8], &labels, names(2)).unwrap();
        assert!(compact.is_compact());
        assert_eq!(compact.image_bytes(), 256);
        // the same pixels held as floats, converted in f64 and rounded once to f32
        let floats: Vec<f32> = px.iter().map(|&b| (b as f64 / 255.0) as f32).collect();
        let float = ImageDataset::new(Tensor::from_slice(&floats).view([4, 1, 8, 8]), Tensor::from_slice(&labels), names(2)).unwrap();
        assert!(!float.is_compact());
        assert_eq!(float.image_bytes(), 1024);
        assert!(compact.images().equal(&float.images()), "whole set");
        let idx = Tensor::from_slice(&[3i64, 1]);
        assert!(compact.batch_images(&idx).equal(&float.batch_images(&idx)), "batch");
        let (a, b) = (compact.batches(3, Some(7)).collect::<Vec<_>>(), float.batches(3, Some(7)).collect::<Vec<_>>());
        assert!(a.iter().zip(&b).all(|(x, y)| x.0.equal(&y.0) && x.1.equal(&y.1)), "batches");
        // selecting and subsetting keep bytes as bytes
        assert!(compact.select(&[2, 0]).unwrap().is_compact());
        assert!(classes_subset(&compact, &[1]).unwrap().is_compact());
        assert_eq!(compact.summary("c").pixel_mean, float.summary("f").pixel_mean);
        assert_eq!(compact.summary("c").pixel_std, float.summary("f").pixel_std);
        // the bytes written back are the bytes read
        assert_eq!(to_u8_bytes(&compact.images()).unwrap(), px);
        assert_eq!(compact.pixel_bytes().unwrap(), px);
        assert_eq!(float.pixel_bytes().unwrap(), px);
        assert_eq!(compact.stored_images().kind(), Kind::Uint8);
    }

    #[test]
    fn other_kinds_of_images_are_refused() {
        let e = ImageDataset::new(Tensor::zeros([1, 1, 2, 2], (Kind::Double, tch::Device::Cpu)), Tensor::from_slice(&[0i64]), names(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Float or Uint8") && e.contains("Double"), "{e}");
    }

    #[test]
    fn label_out_of_range_is_named() {
        let e = ImageDataset::from_u8(&[0, 0], [2, 1, 1, 1], &[0, 5], names(3)).unwrap_err().to_string();
        assert!(e.contains('5'), "{e}");
    }

    #[test]
    fn select_keeps_order_and_rejects_bad_index() {
        let ds = ImageDataset::from_u8(&[10, 20, 30], [3, 1, 1, 1], &[0, 1, 2], names(3)).unwrap();
        let s = ds.select(&[2, 0]).unwrap();
        assert_eq!(s.labels_vec(), vec![2, 0]);
        assert!(ds.select(&[3]).unwrap_err().to_string().contains('3'));
    }
}
