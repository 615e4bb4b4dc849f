//! The project's one small ResNet (He et al., 2016, "Deep Residual Learning for Image
//! Recognition", basic blocks), sized for 28×28 grey and 32×32 RGB images.
//!
//! Stem conv3×3(32)-BN-ReLU, three basic blocks of 32, 64 (stride 2) and 128
//! (stride 2) channels, global average pooling: [`FEATURES`] features per image. The
//! classifier ([`small_resnet`]) adds `fc`; fine-tuning uses the backbone alone with
//! its own heads. Every layer is a named field, so that an adapter (LoRA, in
//! `finetune`) can be attached to the convolutions whose names match, and the weight
//! names are the same in both uses (`stem.weight`, `block2.conv1.weight`,
//! `block2.down_bn.running_mean`, `fc.weight`), so one checkpoint serves both.
//!
//! [`ResNetBackbone::torchvision`] builds torchvision's ResNet-18/34 layout (He et
//! al.'s ImageNet network: a 7×7 stride-2 stem and a 3×3 max pool, four stages of basic
//! blocks of 64–512 channels) with torchvision's names (`conv1`, `bn1`,
//! `layer2.0.downsample.0`), so its weights load as exported and adapters attach the
//! same way.

use super::models::ModelSpec;
use tch::{nn, nn::ModuleT, Tensor};

/// Features per image.
pub const FEATURES: i64 = 128;

/// A convolution without bias that may carry an adapter whose output is added to
/// its own (LoRA's `W x + B A x`).
#[derive(Debug)]
pub struct Conv {
    /// The full dotted name (`block2.conv1`).
    pub name: String,
    pub base: nn::Conv2D,
    pub cfg: nn::ConvConfig,
    /// Maps the convolution's input to a tensor of its output's shape.
    pub adapter: Option<Box<dyn ModuleT>>,
}

impl Conv {
    /// A `k×k` convolution registered as `p / leaf`, padded to keep the size at
    /// stride 1, known as `name`.
    fn new(p: &nn::Path, leaf: &str, name: String, c_in: i64, c_out: i64, k: i64, stride: i64) -> Self {
        let cfg = nn::ConvConfig { stride, padding: k / 2, bias: false, ..Default::default() };
        Conv { name, base: nn::conv2d(p / leaf, c_in, c_out, k, cfg), cfg, adapter: None }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, H / stride, W / stride]`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.base);
        match &self.adapter {
            Some(a) => y + a.forward_t(x, train),
            None => y,
        }
    }
}

/// A basic residual block: two 3×3 convolutions with batch norm, and a 1×1
/// projection (`down`, `down_bn`) on the shortcut when the shape changes.
#[derive(Debug)]
struct Block {
    conv1: Conv,
    bn1: nn::BatchNorm,
    conv2: Conv,
    bn2: nn::BatchNorm,
    down: Option<(Conv, nn::BatchNorm)>,
}

/// Where a block's shortcut projection lives: the small ResNet's `down` / `down_bn`,
/// or torchvision's `downsample.0` / `downsample.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Naming {
    Small,
    Torchvision,
}

impl Block {
    /// A block registered under `bp`, known as `name` (its dotted path).
    fn new(bp: nn::Path, name: &str, c_in: i64, c_out: i64, stride: i64, naming: Naming) -> Self {
        let bn = |path: nn::Path| nn::batch_norm2d(path, c_out, Default::default());
        let full = |leaf: &str| format!("{name}.{leaf}");
        let down = (stride != 1 || c_in != c_out).then(|| match naming {
            Naming::Small => (Conv::new(&bp, "down", full("down"), c_in, c_out, 1, stride), bn(&bp / "down_bn")),
            Naming::Torchvision => {
                let d = &bp / "downsample";
                (Conv::new(&d, "0", full("downsample.0"), c_in, c_out, 1, stride), bn(&d / "1"))
            }
        });
        Block {
            conv1: Conv::new(&bp, "conv1", full("conv1"), c_in, c_out, 3, stride),
            bn1: bn(&bp / "bn1"),
            conv2: Conv::new(&bp, "conv2", full("conv2"), c_out, c_out, 3, 1),
            bn2: bn(&bp / "bn2"),
            down,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.conv1.forward_t(x, train).apply_t(&self.bn1, train).relu();
        let y = self.conv2.forward_t(&y, train).apply_t(&self.bn2, train);
        let s = match &self.down {
            Some((c, b)) => c.forward_t(x, train).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (y + s).relu()
    }

    fn convs_mut(&mut self) -> Vec<&mut Conv> {
        let mut v = vec![&mut self.conv1, &mut self.conv2];
        if let Some((c, _)) = &mut self.down {
            v.push(c);
        }
        v
    }
}

/// The backbone: images `[N, C, H, W]` f32 → features `[N, F]` (`F` = [`FEATURES`]
/// for the small ResNet, 512 for torchvision's).
#[derive(Debug)]
pub struct ResNetBackbone {
    stem: Conv,
    stem_bn: nn::BatchNorm,
    /// torchvision's 3×3 stride-2 max pool after the stem.
    stem_pool: bool,
    blocks: Vec<Block>,
    features: i64,
}

impl ResNetBackbone {
    /// Register the small backbone's weights under `p`.
    pub fn new(p: &nn::Path, in_channels: i64) -> Self {
        let n = Naming::Small;
        ResNetBackbone {
            stem: Conv::new(p, "stem", "stem".into(), in_channels, 32, 3, 1),
            stem_bn: nn::batch_norm2d(p / "stem_bn", 32, Default::default()),
            stem_pool: false,
            blocks: vec![Block::new(p / "block1", "block1", 32, 32, 1, n), Block::new(p / "block2", "block2", 32, 64, 2, n), Block::new(p / "block3", "block3", 64, 128, 2, n)],
            features: FEATURES,
        }
    }

    /// torchvision's ResNet of basic blocks with `blocks[i]` blocks in stage `i + 1`
    /// (`[2, 2, 2, 2]`: ResNet-18, `[3, 4, 6, 3]`: ResNet-34) on `in_channels`
    /// channels, without its classifier `fc`; names as torchvision's state dict.
    pub fn torchvision(p: &nn::Path, in_channels: i64, blocks: [usize; 4]) -> Self {
        let mut all = Vec::new();
        let mut c_in = 64;
        for (stage, &count) in blocks.iter().enumerate() {
            let c_out = 64 << stage;
            for j in 0..count {
                let stride = if j == 0 && stage > 0 { 2 } else { 1 };
                let layer = format!("layer{}", stage + 1);
                all.push(Block::new(p / layer.as_str() / j, &format!("{layer}.{j}"), c_in, c_out, stride, Naming::Torchvision));
                c_in = c_out;
            }
        }
        ResNetBackbone {
            stem: Conv::new(p, "conv1", "conv1".into(), in_channels, 64, 7, 2),
            stem_bn: nn::batch_norm2d(p / "bn1", 64, Default::default()),
            stem_pool: true,
            blocks: all,
            features: c_in,
        }
    }

    /// Features per image.
    pub fn features_dim(&self) -> i64 {
        self.features
    }

    /// Features `[N, F]`. `train` switches batch norm to batch statistics.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.stem.forward_t(x, train).apply_t(&self.stem_bn, train).relu(); // [n, 32, h, w]
        if self.stem_pool {
            h = h.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for b in &self.blocks {
            h = b.forward_t(&h, train); // [n, F, h/4, w/4] after the last (small)
        }
        h.mean_dim(&[2i64, 3][..], false, tch::Kind::Float)
    }

    /// Every convolution's name, in forward order.
    pub fn conv_names(&self) -> Vec<String> {
        let mut v = vec![self.stem.name.clone()];
        for b in &self.blocks {
            v.extend([&b.conv1, &b.conv2].into_iter().chain(b.down.as_ref().map(|(c, _)| c)).map(|c| c.name.clone()));
        }
        v
    }

    /// Every convolution, in forward order, to attach adapters to.
    pub fn convs_mut(&mut self) -> Vec<&mut Conv> {
        let mut v = vec![&mut self.stem];
        for b in &mut self.blocks {
            v.extend(b.convs_mut());
        }
        v
    }
}

impl ModuleT for ResNetBackbone {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.features(xs, train)
    }
}

/// The classifier: [`ResNetBackbone`] and a linear layer `fc` to the classes.
#[derive(Debug)]
pub struct SmallResNet {
    pub backbone: ResNetBackbone,
    pub fc: nn::Linear,
}

impl ModuleT for SmallResNet {
    /// `[N, C, H, W]` → logits `[N, classes]`.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.backbone.features(xs, train).apply(&self.fc)
    }
}

/// The small ResNet classifier for `spec` (its `dropout` is not used).
pub fn small_resnet(p: &nn::Path, spec: &ModelSpec) -> SmallResNet {
    SmallResNet { backbone: ResNetBackbone::new(p, spec.in_channels), fc: nn::linear(p / "fc", FEATURES, spec.num_classes, Default::default()) }
}
