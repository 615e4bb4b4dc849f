//! A small multilayer perceptron regressor in tch: two hidden ReLU layers, Adam on
//! the full (small) training set, weights initialised from the seed.

use crate::train::init::reset_parameters;
use crate::{derive_seed, Result};
use ndarray::{Array1, Array2};
use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};

/// A fitted MLP (inputs and target already standardised by the caller).
pub struct Mlp {
    _vs: nn::VarStore,
    net: nn::Sequential,
}

impl std::fmt::Debug for Mlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mlp")
    }
}

fn to_tensor(x: &Array2<f64>) -> Tensor {
    crate::data::array_to_tensor(x).to_kind(Kind::Float)
}

impl Mlp {
    /// Train on `x` `[n, d]`, `y` `[n]` for `epochs` full-batch Adam steps.
    pub fn fit(x: &Array2<f64>, y: &Array1<f64>, hidden: usize, epochs: usize, lr: f64, weight_decay: f64, seed: u64) -> Result<Self> {
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs.root();
        let (d, h) = (x.ncols() as i64, hidden as i64);
        let net = nn::seq()
            .add(nn::linear(&p / "fc1", d, h, Default::default()))
            .add_fn(|t| t.relu())
            .add(nn::linear(&p / "fc2", h, h, Default::default()))
            .add_fn(|t| t.relu())
            .add(nn::linear(&p / "out", h, 1, Default::default()));
        reset_parameters(&vs, derive_seed(seed, "mlp"))?;
        let mut opt = nn::AdamW { wd: weight_decay, ..Default::default() }.build(&vs, lr)?;
        let xt = to_tensor(x);
        let yt = crate::data::array_to_tensor(y).to_kind(Kind::Float).view([-1, 1]);
        for _ in 0..epochs {
            let loss = net.forward(&xt).mse_loss(&yt, tch::Reduction::Mean);
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        Ok(Mlp { _vs: vs, net })
    }

    /// Predictions for standardised rows.
    pub fn predict(&self, x: &Array2<f64>) -> Result<Array1<f64>> {
        let out = tch::no_grad(|| self.net.forward(&to_tensor(x))).to_kind(Kind::Double).view([-1]);
        Ok(Array1::from(Vec::<f64>::try_from(out)?))
    }
}
