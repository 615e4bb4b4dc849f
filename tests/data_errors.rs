//! Bad input gives an error that names the file, row or value — never a panic.
//!
//! Each test writes the broken input it needs into a temporary directory.

use smalldata::data::{self, FolderConfig, TabularData};
use smalldata::Error;
use std::io::Write;
use std::path::Path;

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().write_all(bytes).unwrap();
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// A complete, valid MNIST-layout directory with `n` 2×2 images of labels `i % 3`.
fn mnist_dir(dir: &Path, n: u32) {
    let px: Vec<u8> = (0..n * 4).map(|i| (i % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    for prefix in ["train", "t10k"] {
        write(&dir.join(format!("{prefix}-images-idx3-ubyte.gz")), &gz(&idx(&[n, 2, 2], &px)));
        write(&dir.join(format!("{prefix}-labels-idx1-ubyte")), &idx(&[n], &labels));
    }
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn valid_mnist_directory_loads_raw_and_gz() {
    let tmp = tempfile::tempdir().unwrap();
    mnist_dir(tmp.path(), 6);
    let tt = data::fashion_mnist(Some(tmp.path())).unwrap();
    assert_eq!(tt.train.len(), 6);
    assert_eq!(tt.train.image_shape(), [1, 2, 2]);
    assert_eq!(tt.train.labels_vec(), vec![0, 1, 2, 0, 1, 2]);
    assert!((tt.train.images().double_value(&[0, 0, 0, 1]) - 1.0 / 255.0).abs() < 1e-7);
}

#[test]
fn missing_directory_is_named() {
    let e = message(data::fashion_mnist(Some(Path::new("/no/such/dir"))).unwrap_err());
    assert!(e.contains("/no/such/dir") && e.contains("not found"), "{e}");
    let e = message(data::cifar10("/no/such/cifar").unwrap_err());
    assert!(e.contains("/no/such/cifar"), "{e}");
    let e = message(data::image_folder("/no/such/folder", &FolderConfig::default()).unwrap_err());
    assert!(e.contains("/no/such/folder"), "{e}");
}

#[test]
fn missing_file_in_directory_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    mnist_dir(tmp.path(), 4);
    std::fs::remove_file(tmp.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let e = message(data::fashion_mnist(Some(tmp.path())).unwrap_err());
    assert!(e.contains("t10k-labels-idx1-ubyte"), "{e}");
}

#[test]
fn truncated_idx_names_file_and_lengths() {
    let tmp = tempfile::tempdir().unwrap();
    mnist_dir(tmp.path(), 4);
    let path = tmp.path().join("train-labels-idx1-ubyte");
    write(&path, &idx(&[4], &[0, 1, 2])); // one label short
    let e = message(data::fashion_mnist(Some(tmp.path())).unwrap_err());
    assert!(e.contains("train-labels-idx1-ubyte") && e.contains("truncated") && e.contains("need 4") && e.contains("holds 3"), "{e}");
}

#[test]
fn truncated_gzip_stream_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    mnist_dir(tmp.path(), 50);
    let path = tmp.path().join("train-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&path).unwrap();
    write(&path, &bytes[..bytes.len() / 2]);
    let e = message(data::fashion_mnist(Some(tmp.path())).unwrap_err());
    assert!(e.contains("train-images-idx3-ubyte.gz"), "{e}");
}

#[test]
fn wrong_magic_number() {
    let tmp = tempfile::tempdir().unwrap();
    mnist_dir(tmp.path(), 4);
    let mut bad = idx(&[4], &[0, 1, 2, 0]);
    bad[0] = 0x1a;
    write(&tmp.path().join("train-labels-idx1-ubyte"), &bad);
    let e = message(data::fashion_mnist(Some(tmp.path())).unwrap_err());
    assert!(e.contains("train-labels-idx1-ubyte") && e.contains("magic") && e.contains("0x1a"), "{e}");
}

#[test]
fn image_label_count_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    mnist_dir(tmp.path(), 4);
    write(&tmp.path().join("t10k-labels-idx1-ubyte"), &idx(&[3], &[0, 1, 2]));
    let e = message(data::fashion_mnist(Some(tmp.path())).unwrap_err());
    assert!(e.contains("4 images but 3 labels"), "{e}");
}

#[test]
fn cifar_partial_record() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data_batch_1.bin");
    write(&path, &vec![1u8; 3073 * 2 - 5]);
    let e = message(data::read_cifar10_batch(&path).unwrap_err());
    assert!(e.contains("data_batch_1.bin") && e.contains("3068 bytes left over"), "{e}");
}

#[test]
fn image_folder_reads_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let tt = data::fashion_mnist_embedded().unwrap();
    let few = tt.test.select(&[0, 1, 2, 3, 4, 5]).unwrap();
    few.save_folder(tmp.path()).unwrap();
    let back = data::image_folder(tmp.path(), &FolderConfig { size: Some((28, 28)), channels: Some(1), ..FolderConfig::default() }).unwrap();
    assert_eq!(back.len(), 6);
    // same pixels (PNG is lossless; resizing 28→28 is the identity)
    let mut got: Vec<f64> = (0..6).map(|i| back.images().get(i).sum(tch::Kind::Double).double_value(&[])).collect();
    let mut want: Vec<f64> = (0..6).map(|i| few.images().get(i).sum(tch::Kind::Double).double_value(&[])).collect();
    got.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }
    let rgb = data::image_folder(tmp.path(), &FolderConfig { size: Some((32, 32)), channels: Some(3), ..FolderConfig::default() }).unwrap();
    assert_eq!(rgb.images().size(), vec![6, 3, 32, 32]);
}

#[test]
fn a_folder_of_several_blocks_reads_every_byte_in_order() {
    // 600 pictures: the reader copies them into its byte tensor 256 at a time, so two
    // whole blocks and a part block; PNG and a 28→28 "resize" keep every byte
    let tmp = tempfile::tempdir().unwrap();
    let tt = data::fashion_mnist_embedded().unwrap();
    let many = tt.train.select(&(0..600).collect::<Vec<_>>()).unwrap();
    assert!(many.is_compact());
    many.save_folder(tmp.path()).unwrap();
    let back = data::image_folder(tmp.path(), &FolderConfig { size: Some((28, 28)), channels: Some(1), ..FolderConfig::default() }).unwrap();
    assert!(back.is_compact() && back.len() == 600);
    // the reader numbers classes in the order of their folder names ("Ankle boot" first),
    // and reads each class's files in the order they were written
    let saved_name = |k: usize| many.class_names[k].replace('/', "-");
    let labels = many.labels_vec();
    let mut order = Vec::new();
    for name in &back.class_names {
        let k = (0..many.class_names.len()).find(|&k| saved_name(k) == *name).expect("a class read back that was never written");
        order.extend((0..labels.len()).filter(|&i| labels[i] == k as i64));
    }
    let want = many.select(&order).unwrap();
    let want_names: Vec<String> = want.labels_vec().iter().map(|&l| saved_name(l as usize)).collect();
    let back_names: Vec<String> = back.labels_vec().iter().map(|&l| back.class_names[l as usize].clone()).collect();
    assert_eq!(back_names, want_names);
    assert!(back.pixel_bytes().unwrap() == want.pixel_bytes().unwrap(), "the bytes read differ from the bytes written");
}

#[test]
fn unreadable_image_in_folder_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let good = image::GrayImage::from_pixel(4, 4, image::Luma([9]));
    std::fs::create_dir_all(tmp.path().join("cat")).unwrap();
    good.save(tmp.path().join("cat/a.png")).unwrap();
    write(&tmp.path().join("cat/b.png"), b"this is not a png");
    let e = message(data::image_folder(tmp.path(), &FolderConfig::default()).unwrap_err());
    assert!(e.contains("cat/b.png") && e.contains("decode"), "{e}");
}

#[test]
fn empty_class_folder_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("cat")).unwrap();
    std::fs::create_dir_all(tmp.path().join("dog")).unwrap();
    image::GrayImage::from_pixel(4, 4, image::Luma([9])).save(tmp.path().join("cat/a.png")).unwrap();
    let e = message(data::image_folder(tmp.path(), &FolderConfig::default()).unwrap_err());
    assert!(e.contains("dog") && e.contains("no image"), "{e}");
}

#[test]
fn empty_class_and_too_many_per_class() {
    // labels of class 2 absent: an empty class
    let labels = [0i64, 1, 0, 1];
    match data::stratified_subsample(&labels, 3, 1, 0).unwrap_err() {
        Error::NotEnoughSamples { class: 2, asked: 1, available: 0 } => {}
        e => panic!("{e}"),
    }
    let tt = data::fashion_mnist_embedded().unwrap();
    let e = message(tt.train.subsample_per_class(201, 0).unwrap_err());
    assert!(e.contains("201") && e.contains("200"), "{e}");
}

fn csv_error(text: &str, target: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("table.csv");
    write(&path, text.as_bytes());
    message(TabularData::from_csv(&path, target).unwrap_err())
}

#[test]
fn csv_non_numeric_cell() {
    let e = csv_error("a,b,y\n1,2,3\n4,five,6\n", "y");
    assert!(e.contains("table.csv") && e.contains("row 2") && e.contains("\"b\"") && e.contains("five"), "{e}");
}

#[test]
fn csv_ragged_row() {
    let e = csv_error("a,b,y\n1,2,3\n4,5\n", "y");
    assert!(e.contains("row 2") && e.contains("ragged") && e.contains("2 fields"), "{e}");
}

#[test]
fn csv_nan_and_inf() {
    let e = csv_error("a,y\n1,2\nNaN,3\n", "y");
    assert!(e.contains("row 2") && e.contains("\"a\"") && e.contains("NaN"), "{e}");
    let e = csv_error("a,y\n1,inf\n", "y");
    assert!(e.contains("row 1") && e.contains("\"y\"") && e.contains("inf"), "{e}");
}

#[test]
fn csv_missing_target_and_empty() {
    let e = csv_error("a,b\n1,2\n", "price");
    assert!(e.contains("price") && e.contains("not in header"), "{e}");
    let e = csv_error("a,y\n", "y");
    assert!(e.contains("no data rows"), "{e}");
    let e = message(TabularData::from_csv("/no/such.csv", "y").unwrap_err());
    assert!(e.contains("/no/such.csv"), "{e}");
}

#[test]
fn device_override_is_checked() {
    // set for this process only; the other tests do not read the variable
    std::env::set_var(smalldata::device::DEVICE_ENV, "quantum");
    let e = message(smalldata::device().unwrap_err());
    std::env::set_var(smalldata::device::DEVICE_ENV, "cpu");
    assert!(e.contains("quantum"), "{e}");
    assert_eq!(smalldata::device().unwrap(), tch::Device::Cpu);
    std::env::remove_var(smalldata::device::DEVICE_ENV);
}
