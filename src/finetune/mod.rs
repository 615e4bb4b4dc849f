//! Transfer learning on few labels. This first part holds the LoRA adapters
//! ([`LoraLinear`], [`LoraConv2d`]) with merge/unmerge and exact parameter counts;
//! the backbones, strategies and the experiment are issue #8's remaining work.

mod lora;

pub use lora::{max_abs_diff, LoraConfig, LoraConv2d, LoraLinear, ParameterCount};
