//! Training image classifiers on small data.
//!
//! * [`ModelSpec`] / [`ModelKind`]: the small CNN and the small ResNet, for 28×28 grey
//!   and 32×32 RGB inputs ([`small_cnn`], [`small_resnet`] return `impl ModuleT`).
//! * [`Classifier`]: a network with seeded initial weights; predict, evaluate
//!   (accuracy, AUC, log loss), save and load (safetensors).
//! * [`Trainer`]: the fit loop — Adam/AdamW/SGD, constant, cosine or one-cycle
//!   schedule, augmentation applied per batch, MixUp/CutMix, validation with early
//!   stopping, [`Callback`]s before and after every epoch and batch, a progress bar.
//!
//! One seed fixes a whole run on the CPU: initial weights, dropout masks, batch
//! order and augmentation all draw from generators derived from it
//! ([`crate::derive_seed`]), never from libtorch's global generator, so runs in
//! parallel threads give the same numbers as runs alone.
//!
//! ```
//! use smalldata::prelude::*;
//! use smalldata::train::{Classifier, Length, ModelKind, ModelSpec, TrainConfig, Trainer};
//! # fn main() -> smalldata::Result<()> {
//! let data = fashion_mnist_embedded()?;
//! let train = data.train.subsample_per_class(10, 0)?;
//! let spec = ModelSpec::new(ModelKind::SmallCnn, train.image_shape(), train.num_classes());
//! let mut model = Classifier::new(spec, 0, Device::Cpu)?;
//! let crop = smalldata::augment::RandomCrop::new(28, 28).padding(3).build()?;
//! let cfg = TrainConfig { length: Length::Steps(30), progress: false, ..TrainConfig::default() };
//! let history = Trainer::new(cfg).augment(&crop).fit(&mut model, &train)?;
//! let scores = model.evaluate(&data.test)?;
//! println!("{} steps in {:.1} s; {scores}", history.steps, history.seconds);
//! assert!(scores.auc_macro_ovr > 0.8); // 30 steps on 100 images already rank classes well
//! # Ok(()) }
//! ```

pub(crate) mod checkpoint;
mod classifier;
mod fit;
pub mod init;
pub mod optim;
mod models;
mod progress;
mod resnet;

pub use checkpoint::RunSettings;
pub use classifier::{Classifier, Scores};
pub use fit::{
    BatchMix, Callback, Checkpoint, EarlyStopping, History, Length, Monitor, Optimizer, Schedule, TrainConfig, TrainState, Trainer,
    ValPoint,
};
pub use models::{small_cnn, ModelKind, ModelSpec, SeededDropout};
pub use resnet::{small_resnet, Conv, ResNetBackbone, SmallResNet, FEATURES};
pub use progress::Progress;
