//! Conversions between tch tensors, ndarray arrays and linfa datasets.
//!
//! Values are copied (through the CPU); shapes are kept. Tensors of any float kind
//! convert to `f64` arrays; arrays become `Double` tensors (call `.to_kind` after).

use super::images::ImageDataset;
use crate::{Error, Result};
use linfa::Dataset;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use tch::{Device, Kind, Tensor};

/// Any-rank tensor → `ArrayD<f64>` of the same shape.
pub fn tensor_to_arrayd(t: &Tensor) -> Result<ArrayD<f64>> {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let flat = t.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?.f_contiguous()?.f_view([-1])?;
    let values = Vec::<f64>::try_from(&flat)?;
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| Error::shape("tensor → ndarray", format!("{shape:?}"), e))
}

/// `[n, d]` tensor → `Array2<f64>`.
pub fn tensor_to_array2(t: &Tensor) -> Result<Array2<f64>> {
    if t.dim() != 2 {
        return Err(Error::shape("tensor_to_array2", "a rank-2 tensor", format!("{:?}", t.size())));
    }
    tensor_to_arrayd(t)?.into_dimensionality().map_err(|e| Error::shape("tensor_to_array2", "rank 2", e))
}

/// `[n]` tensor → `Array1<f64>`.
pub fn tensor_to_array1(t: &Tensor) -> Result<Array1<f64>> {
    if t.dim() != 1 {
        return Err(Error::shape("tensor_to_array1", "a rank-1 tensor", format!("{:?}", t.size())));
    }
    tensor_to_arrayd(t)?.into_dimensionality().map_err(|e| Error::shape("tensor_to_array1", "rank 1", e))
}

/// Any `f64` array or view → `Double` tensor of the same shape, on the CPU.
pub fn array_to_tensor<S: ndarray::Data<Elem = f64>, D: ndarray::Dimension>(a: &ndarray::ArrayBase<S, D>) -> Tensor {
    let shape: Vec<i64> = a.shape().iter().map(|&d| d as i64).collect();
    let values: Vec<f64> = a.iter().copied().collect(); // logical (row-major) order, whatever the layout
    Tensor::from_slice(&values).view(shape.as_slice())
}

/// Images `[N, C, H, W]` as rows of pixels, `[N, C·H·W]` in f64.
pub fn pixels(images: &Tensor) -> Result<Array2<f64>> {
    tensor_to_array2(&images.reshape([images.size()[0], -1]))
}

/// Images flattened to `[N, C·H·W]` features with their class labels, as a linfa
/// classification dataset (for k-means, k-NN and other classical baselines).
pub fn images_to_linfa(ds: &ImageDataset) -> Result<Dataset<f64, usize, ndarray::Ix1>> {
    let n = ds.len() as i64;
    let x = tensor_to_array2(&ds.images().f_reshape([n, -1])?)?;
    let y = Array1::from(ds.labels_vec().into_iter().map(|l| l as usize).collect::<Vec<_>>());
    Ok(Dataset::new(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_values_and_shape() {
        let a = ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let t = array_to_tensor(&a);
        assert_eq!(t.size(), vec![2, 3]);
        assert_eq!(tensor_to_array2(&t).unwrap(), a);
        // a transposed (non-standard layout) array converts in logical order
        let at = a.t().to_owned();
        let back = tensor_to_array2(&array_to_tensor(&a.t().to_owned())).unwrap();
        assert_eq!(back, at);
        assert!(tensor_to_array1(&t).is_err());
    }

    #[test]
    fn images_flatten_for_linfa() {
        let ds = ImageDataset::from_u8(&[0, 255, 255, 0], [2, 1, 1, 2], &[1, 0], vec!["a".into(), "b".into()]).unwrap();
        let l = images_to_linfa(&ds).unwrap();
        assert_eq!(l.records().shape(), &[2, 2]);
        assert_eq!(l.targets().to_vec(), vec![1, 0]);
        assert_eq!(l.records()[[0, 1]], 1.0);
    }
}
