#![doc = include_str!("../README.md")]
#![warn(missing_debug_implementations)]

pub mod advise;
pub mod augment;
pub mod bench;
pub mod data;
pub mod device;
pub mod error;
pub mod evaluate;
pub mod experiment;
pub mod finetune;
pub mod generate;
pub mod io;
pub mod params;
pub mod plot;
pub mod prelude;
pub mod readers;
pub mod study;
pub mod tabular;
pub mod train;

pub use device::device;
pub use error::{Error, Result};

// Re-exported so that a notebook's one `:dep smalldata` brings the whole stack, at
// the versions the crate was built with.
pub use linfa;
pub use linfa_clustering;
pub use linfa_linear;
pub use ndarray;
pub use plotters;
pub use tch;
pub use image;

/// The crate's seeded random generator: Xoshiro256++, whose output for a seed is
/// fixed by its specification, so the same seed gives the same numbers everywhere.
pub fn rng(seed: u64) -> rand_xoshiro::Xoshiro256PlusPlus {
    <rand_xoshiro::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(seed)
}

/// A seed for one purpose (`tag`) derived from a run's seed, so that the parts of a
/// run (initial weights, batch order, augmentation, dropout) draw independent streams
/// that stay the same when another part changes. SplitMix64 over the seed and an
/// FNV-1a hash of the tag.
pub fn derive_seed(seed: u64, tag: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seed every source of randomness that tch uses (CPU and CUDA generators).
pub fn seed_everything(seed: u64) {
    tch::manual_seed(seed as i64);
}

/// Versions, device and datasets, as `smalldata info` prints them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Info {
    pub smalldata: &'static str,
    /// The PyTorch version of the libtorch linked in (from the wheel's `version.py`).
    pub libtorch: &'static str,
    /// Where that libtorch lives.
    pub libtorch_dir: &'static str,
    pub cuda_available: bool,
    pub cuda_devices: i64,
    pub cudnn_available: bool,
    /// The device [`device()`] picks, or the error it gives.
    pub device: String,
    /// Where Fashion-MNIST is read from by default.
    pub fashion_mnist: String,
    pub datasets: Vec<(String, String)>,
}

/// Gather [`Info`].
pub fn info() -> Info {
    let fashion = data::fashion_dir()
        .map(|d| format!("{} (full)", d.display()))
        .unwrap_or_else(|| "embedded subset (2,000 train + 1,000 test)".to_string());
    Info {
        smalldata: env!("CARGO_PKG_VERSION"),
        libtorch: env!("SMALLDATA_LIBTORCH_VERSION"),
        libtorch_dir: env!("SMALLDATA_LIBTORCH_DIR"),
        cuda_available: tch::Cuda::is_available(),
        cuda_devices: tch::Cuda::device_count(),
        cudnn_available: tch::Cuda::cudnn_is_available(),
        device: match device() {
            Ok(d) => device::describe(d),
            Err(e) => format!("error: {e}"),
        },
        fashion_mnist: fashion,
        datasets: vec![
            ("digits".into(), "embedded (1,797 8×8, scikit-learn)".into()),
            ("diabetes".into(), "linfa-datasets (442 × 10)".into()),
            ("winequality".into(), "linfa-datasets (1,599 × 11)".into()),
        ],
    }
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "smalldata     {}", self.smalldata)?;
        writeln!(f, "libtorch      {} ({})", self.libtorch, self.libtorch_dir)?;
        writeln!(f, "cuda          {} ({} device(s), cudnn {})", self.cuda_available, self.cuda_devices, self.cudnn_available)?;
        writeln!(f, "device        {}", self.device)?;
        writeln!(f, "fashion-mnist {}", self.fashion_mnist)?;
        for (name, place) in &self.datasets {
            writeln!(f, "{name:<13} {place}")?;
        }
        Ok(())
    }
}
