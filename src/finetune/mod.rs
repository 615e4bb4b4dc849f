//! Transfer learning on few labels.
//!
//! * [`LoraLinear`], [`LoraConv2d`], [`ConvAdapter`]: LoRA adapters with merge/unmerge
//!   and exact parameter counts ([`ParameterCount`]).
//! * [`AddLora`] attaches adapters to the layers that [`LoraTargets`] names (peft's
//!   rule: a list of names or a pattern), on [`ResNetBackbone`] (the network of
//!   `train`'s small ResNet) and on the [`Vit`];
//! * [`Vit`], [`VitClassifier`], [`VitCheckpoint`]: the Vision Transformer with Hugging
//!   Face's names, loaded from a `config.json` + `model.safetensors` folder;
//!   [`save_adapter`] / [`load_adapter`] write and read peft's adapter layout and
//!   [`PeftCount`] reports parameters as peft does; [`load_weights`] reports missing and
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
mod peft;
mod pretrained;
mod study;
mod torchvision;
mod vit;

pub use backbone::{load_weights, AddLora, LoadReport, LoraTargets};
pub use crate::train::{ResNetBackbone, FEATURES};
pub use experiment::{backbone, pretrain, run_strategy, SourceArch, Strategy, PRETRAINED_VIT, TransferConfig, TransferResult, SOURCE_CLASSES, TARGET_CLASSES};
pub use lora::{ConvAdapter, LinearAdapter, LoraConfig, LoraConv2d, LoraLinear, ParameterCount};
pub use pretrained::{Backbone, InputSpec, Prepare, Pretrained, IMAGENET_MEAN, IMAGENET_STD};
pub use peft::{adapter_parameters, load_adapter, save_adapter, NameStyle, PeftConfig, PeftCount};
pub use vit::{canonical_name, Preprocessing, Vit, VitCheckpoint, VitClassifier, VitConfig, VitLinear};
pub use torchvision::{load_torchvision_resnet, torchvision_name, TorchvisionResNet};
pub use study::{pretrain_source, run_transfer_study, TransferArm, TransferProtocol, TransferStudyConfig, PRETRAINED};
