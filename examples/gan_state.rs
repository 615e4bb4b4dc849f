//! Does every fresh process train the GAN to the same state? Prints the digest of the
//! whole training state after each of the first few steps (`Gan::state_digest`), for
//! the kill loop's configuration. Run it many times and count the distinct lines:
//!
//!     cargo build --release --example gan_state
//!     for i in $(seq 100); do target/release/examples/gan_state; done | sort | uniq -c
//!
//! Every line should be the same. Until the generator stopped using MKL's tanh, about
//! 1 process in 300 ended in another state (README, Reliability).

use smalldata::data::fashion_mnist;
use smalldata::generate::{Gan, GanConfig};

fn main() -> smalldata::Result<()> {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    // as the command line does: every core, or SMALLDATA_THREADS of them
    smalldata::device::use_cpu_threads();
    let real = fashion_mnist(None)?.train.subsample_per_class(10, 0)?;
    let mut cfg = GanConfig::with_steps(steps);
    cfg.arch.g_width = 16;
    cfg.arch.d_width = 16;
    cfg.training.batch_size = 32;
    let mut gan = Gan::new(cfg, real.image_shape(), real.num_classes(), tch::Device::Cpu)?;
    let mut line = Vec::new();
    for _ in 0..steps {
        gan.train_step(&real)?;
        line.push(format!("{:016x}", gan.state_digest()?));
    }
    println!("{}", line.join(" "));
    Ok(())
}
