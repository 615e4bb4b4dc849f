//! [`Classifier`]: a network, its weights, and the ways to score and store it.

use super::init::{channels_last, reset_parameters, to_channels_last};
use super::models::ModelSpec;
use crate::data::ImageDataset;
use crate::evaluate::{accuracy, roc_auc_multiclass, MultiClass};
use crate::{derive_seed, Error, Result};
use ndarray::Array2;
use std::path::Path;
use tch::{nn, nn::ModuleT, Device, Kind, Tensor};

/// Images per forward pass when predicting.
const PREDICT_CHUNK: i64 = 500;

/// An image classifier: architecture, weights (in `vs`) and device.
pub struct Classifier {
    pub spec: ModelSpec,
    pub vs: nn::VarStore,
    net: Box<dyn ModuleT>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Classifier({:?}, {} parameters on {:?})", self.spec, self.num_parameters(), self.device())
    }
}

/// Test-set scores of a classifier.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    pub n: usize,
    pub accuracy: f64,
    /// One-vs-rest AUC-ROC, macro-averaged over classes.
    pub auc_macro_ovr: f64,
    /// Mean cross-entropy (natural log).
    pub log_loss: f64,
}

impl std::fmt::Display for Scores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "accuracy {:.4}, AUC (OvR macro) {:.4}, log loss {:.4} on {} images", self.accuracy, self.auc_macro_ovr, self.log_loss, self.n)
    }
}

impl Classifier {
    /// A fresh classifier whose initial weights and dropout masks are fixed by `seed`.
    pub fn new(spec: ModelSpec, seed: u64, device: Device) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let net = spec.build(&vs.root(), derive_seed(seed, "dropout"))?;
        reset_parameters(&vs, derive_seed(seed, "init"))?;
        to_channels_last(&vs);
        Ok(Classifier { spec, vs, net })
    }

    /// A classifier around a network built elsewhere, e.g. a pretrained backbone with
    /// a new head: `net` reads its weights from `vs`, and `spec` states the input and
    /// the classes it takes (what [`Classifier::check_data`] holds data to).
    pub fn from_parts(spec: ModelSpec, vs: nn::VarStore, net: Box<dyn ModuleT>) -> Result<Self> {
        spec.check()?;
        Ok(Classifier { spec, vs, net })
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.vs.trainable_variables().iter().map(|t| t.numel()).sum()
    }

    /// Logits `[N, classes]` for images `[N, C, H, W]` (train mode: dropout and
    /// batch statistics on).
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Tensor {
        self.net.forward_t(&channels_last(images), train)
    }

    /// Check that `data` fits this classifier's input and classes.
    pub fn check_data(&self, what: &str, data: &ImageDataset) -> Result<()> {
        if data.is_empty() {
            return Err(Error::invalid(what, "0 images", "needs at least one image"));
        }
        let [c, h, w] = data.image_shape();
        let (sh, sw) = self.spec.image_size;
        if c as i64 != self.spec.in_channels || h as i64 != sh || w as i64 != sw {
            return Err(Error::shape(
                format!("{what} images vs model input"),
                format!("[{}, {sh}, {sw}]", self.spec.in_channels),
                format!("[{c}, {h}, {w}]"),
            ));
        }
        if data.num_classes() as i64 != self.spec.num_classes {
            return Err(Error::shape(format!("{what} classes vs model outputs"), self.spec.num_classes, data.num_classes()));
        }
        Ok(())
    }

    /// Logits `[N, classes]` on the CPU, in eval mode, without gradients.
    pub fn predict_logits(&self, images: &Tensor) -> Result<Tensor> {
        let n = images.size().first().copied().unwrap_or(0);
        let device = self.device();
        let parts = tch::no_grad(|| {
            (0..n)
                .step_by(PREDICT_CHUNK as usize)
                .map(|i| self.forward_t(&images.narrow(0, i, PREDICT_CHUNK.min(n - i)).to_device(device), false).to_device(Device::Cpu))
                .collect::<Vec<_>>()
        });
        if parts.is_empty() {
            return Err(Error::invalid("images to predict", 0, "need at least one image"));
        }
        Ok(Tensor::cat(&parts, 0))
    }

    /// Class probabilities `[N, classes]` (softmax, f64) as an ndarray.
    pub fn predict_proba(&self, images: &Tensor) -> Result<Array2<f64>> {
        let p = self.predict_logits(images)?.to_kind(Kind::Double).softmax(-1, Kind::Double);
        crate::data::tensor_to_array2(&p)
    }

    /// Predicted class per image.
    pub fn predict(&self, images: &Tensor) -> Result<Vec<i64>> {
        Ok(Vec::<i64>::try_from(self.predict_logits(images)?.argmax(-1, false))?)
    }

    /// Logits (f64, CPU), mean cross-entropy and predicted classes on `data`.
    fn score(&self, data: &ImageDataset) -> Result<(Tensor, f64, Vec<i64>)> {
        self.check_data("evaluation set", data)?;
        let logits = self.predict_logits(&data.images())?.to_kind(Kind::Double);
        let loss = logits.cross_entropy_for_logits(&data.labels.to_device(Device::Cpu)).double_value(&[]);
        let pred = Vec::<i64>::try_from(logits.argmax(-1, false))?;
        Ok((logits, loss, pred))
    }

    /// Accuracy and mean cross-entropy on `data` (what validation needs; unlike AUC,
    /// defined even when a class is missing).
    pub fn accuracy_and_loss(&self, data: &ImageDataset) -> Result<(f64, f64)> {
        let (_, loss, pred) = self.score(data)?;
        Ok((accuracy(&data.labels_vec(), &pred)?, loss))
    }

    /// Accuracy, one-vs-rest macro AUC and log loss on `data`.
    pub fn evaluate(&self, data: &ImageDataset) -> Result<Scores> {
        let (logits, log_loss, pred) = self.score(data)?;
        let labels = data.labels_vec();
        let proba = crate::data::tensor_to_array2(&logits.softmax(-1, Kind::Double))?;
        Ok(Scores {
            n: labels.len(),
            accuracy: accuracy(&labels, &pred)?,
            auc_macro_ovr: roc_auc_multiclass(&labels, proba.view(), MultiClass::OvrMacro)?,
            log_loss,
        })
    }

    /// Copies of every variable (contiguous, in the usual NCHW layout), sorted by name.
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let mut w: Vec<(String, Tensor)> = self.vs.variables().into_iter().map(|(k, v)| (k, v.detach().copy().contiguous())).collect();
        w.sort_by(|a, b| a.0.cmp(&b.0));
        w
    }

    /// Overwrite variables from `(name, tensor)` pairs; every name must exist with the same shape.
    pub fn set_weights(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        let vars = self.vs.variables();
        tch::no_grad(|| {
            for (name, value) in weights {
                let var = vars.get(name).ok_or_else(|| Error::invalid("weight name", name, "the model has no such variable"))?;
                if var.size() != value.size() {
                    return Err(Error::shape(format!("weight {name}"), format!("{:?}", var.size()), format!("{:?}", value.size())));
                }
                var.shallow_clone().copy_(value);
            }
            Ok(())
        })
    }

    /// Save every variable to a safetensors file (written to a temporary file, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_safetensors(path.as_ref(), self.weights().into_iter().collect())
    }

    /// Load weights saved by [`Classifier::save`] into this (same-spec) classifier.
    /// A missing or misshaped tensor is an error naming it.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::NotFound { what: "checkpoint".into(), searched: vec![path.to_path_buf()] });
        }
        let stored: std::collections::HashMap<String, Tensor> = crate::io::read_safetensors(path)?.into_iter().collect();
        let mut weights = Vec::new();
        for name in self.vs.variables().keys() {
            let t = stored
                .get(name)
                .ok_or_else(|| Error::Format { path: path.to_path_buf(), reason: format!("no tensor named {name:?}") })?;
            weights.push((name.clone(), t.shallow_clone()));
        }
        self.set_weights(&weights).map_err(|e| Error::Format { path: path.to_path_buf(), reason: e.to_string() })
    }
}
