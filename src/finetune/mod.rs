//! Transfer learning on few labels.
//!
//! * [`LoraLinear`], [`LoraConv2d`], [`ConvAdapter`]: LoRA adapters with merge/unmerge
//!   and exact parameter counts ([`ParameterCount`]).
//! * [`AddLora`] attaches adapters to the convolutions of [`ResNetBackbone`] (the
//!   network of `train`'s small ResNet) by name; [`load_weights`] reports missing and
//!   unexpected keys.
//! * [`Strategy`] and [`run_strategy`]: scratch, frozen backbone + linear or MLP head
//!   (ten times the rate), LoRA, full fine-tuning, gradual unfreezing, all through
//!   the one trainer.
//! * [`load_torchvision_resnet`]: tch's ResNet-18/34/50 from torchvision weights
//!   exported to safetensors by `scripts/export_torchvision_resnet.py`.
//! * [`pretrain_source`] trains the committed backbone on Fashion-MNIST classes 0–4;
//!   [`run_transfer_study`] compares the strategies on classes 5–9 with 5–20 labels
//!   per class, resumable, with paired differences to `scratch`.

mod backbone;
mod experiment;
mod lora;
mod study;
mod torchvision;

pub use backbone::{load_weights, AddLora, LoadReport};
pub use crate::train::{ResNetBackbone, FEATURES};
pub use experiment::{backbone, pretrain, run_strategy, Strategy, TransferConfig, TransferResult, SOURCE_CLASSES, TARGET_CLASSES};
pub use lora::{ConvAdapter, LoraConfig, LoraConv2d, LoraLinear, ParameterCount};
pub use torchvision::{load_torchvision_resnet, torchvision_name, TorchvisionResNet};
pub use study::{pretrain_source, run_transfer_study, TransferArm, TransferProtocol, TransferStudyConfig, PRETRAINED};
