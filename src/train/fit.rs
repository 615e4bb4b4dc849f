//! The fit loop: optimiser, schedule, on-the-fly augmentation, validation, early
//! stopping, callbacks and a progress bar, in one short function.

use super::classifier::Classifier;
use super::progress::Progress;
use crate::augment::{Augment, AugRng, CutMix, MixUp};
use crate::data::{batch_indices, ImageDataset};
use crate::{derive_seed, Error, Result};
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};

/// The optimiser. Weight decay is [`TrainConfig::weight_decay`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// Adam (β = 0.9, 0.999); weight decay added to the gradient (L2), as `torch.optim.Adam`.
    Adam,
    /// AdamW: weight decay decoupled from the gradient step.
    AdamW,
    /// SGD with momentum (0 for none), optionally Nesterov.
    Sgd { momentum: f64, nesterov: bool },
}

impl std::str::FromStr for Optimizer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "adam" => Ok(Optimizer::Adam),
            "adamw" => Ok(Optimizer::AdamW),
            "sgd" => Ok(Optimizer::Sgd { momentum: 0.9, nesterov: false }),
            "nesterov" => Ok(Optimizer::Sgd { momentum: 0.9, nesterov: true }),
            other => Err(Error::invalid("optimizer", other, "known optimizers: adam, adamw, sgd (momentum 0.9), nesterov")),
        }
    }
}

/// How the learning rate moves over the run's steps.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Linear warm-up over `warmup_steps`, then cosine decay to 0.
    Cosine { warmup_steps: usize },
    /// Smith's one-cycle: from `lr / div_factor` up to `lr` over the first
    /// `pct_start` of the steps (cosine), then down to `lr / (div_factor ·
    /// final_div_factor)` (PyTorch's `OneCycleLR` defaults: 0.3, 25, 1e4).
    OneCycle { pct_start: f64, div_factor: f64, final_div_factor: f64 },
}

impl std::str::FromStr for Schedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "constant" => Ok(Schedule::Constant),
            "cosine" => Ok(Schedule::Cosine { warmup_steps: 0 }),
            "one-cycle" | "onecycle" => Ok(Schedule::OneCycle { pct_start: 0.3, div_factor: 25.0, final_div_factor: 1e4 }),
            other => Err(Error::invalid("schedule", other, "known schedules: constant, cosine, one-cycle")),
        }
    }
}

impl Schedule {
    /// The learning rate at `step` (0-based) of `total` for base rate `lr`.
    pub fn lr(&self, lr: f64, step: usize, total: usize) -> f64 {
        let cos = |from: f64, to: f64, t: f64| to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * t.clamp(0.0, 1.0)).cos());
        match *self {
            Schedule::Constant => lr,
            Schedule::Cosine { warmup_steps } => {
                if step < warmup_steps {
                    lr * (step + 1) as f64 / warmup_steps as f64
                } else {
                    let rest = (total - warmup_steps).max(1) as f64;
                    cos(lr, 0.0, (step - warmup_steps) as f64 / rest)
                }
            }
            Schedule::OneCycle { pct_start, div_factor, final_div_factor } => {
                let up = ((pct_start * total as f64) - 1.0).max(1.0);
                let start = lr / div_factor;
                if (step as f64) <= up {
                    cos(start, lr, step as f64 / up)
                } else {
                    let down = (total as f64 - 1.0 - up).max(1.0);
                    cos(lr, start / final_div_factor, (step as f64 - up) / down)
                }
            }
        }
    }

    fn check(&self) -> Result<()> {
        if let Schedule::OneCycle { pct_start, div_factor, final_div_factor } = *self {
            if !(pct_start > 0.0 && pct_start < 1.0) {
                return Err(Error::invalid("one-cycle pct_start", pct_start, "must lie strictly between 0 and 1"));
            }
            if !(div_factor >= 1.0 && final_div_factor >= 1.0) {
                return Err(Error::invalid("one-cycle div factors", format!("{div_factor}, {final_div_factor}"), "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Length {
    /// A number of optimisation steps (mini-batches), whatever the dataset size: the
    /// fair unit when comparing training sets of different sizes.
    Steps(usize),
    /// A number of passes over the training set.
    Epochs(usize),
}

/// The validation figure early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Monitor {
    ValLoss,
    ValAccuracy,
}

/// Stop when the monitored validation figure has not improved by more than
/// `min_delta` for `patience` evaluations in a row.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EarlyStopping {
    pub monitor: Monitor,
    pub patience: usize,
    pub min_delta: f64,
    /// Put back the weights of the best evaluation when training ends.
    pub restore_best: bool,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping { monitor: Monitor::ValLoss, patience: 5, min_delta: 0.0, restore_best: true }
    }
}

/// Everything that defines a training run. `seed` fixes the batch order, the
/// augmentation draws and (with the classifier's own seed) the whole run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub optimizer: Optimizer,
    pub lr: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub batch_size: usize,
    pub length: Length,
    /// Evaluate on the validation set every this many steps; `None`: after every epoch.
    pub eval_every: Option<usize>,
    pub early_stopping: Option<EarlyStopping>,
    /// Leave out each epoch's last, shorter batch (every step then sees `batch_size`
    /// images, as batch norm prefers when pretraining on a large set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_last: bool,
    pub seed: u64,
    /// Show a progress bar (only ever drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for TrainConfig {
    /// Adam, lr 1e-3, no weight decay, constant rate, batch 64, 400 steps, seed 0.
    fn default() -> Self {
        TrainConfig {
            optimizer: Optimizer::Adam,
            lr: 1e-3,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            batch_size: 64,
            length: Length::Steps(400),
            eval_every: None,
            early_stopping: None,
            drop_last: false,
            seed: 0,
            progress: true,
        }
    }
}

impl TrainConfig {
    /// Check every field; errors name the value.
    pub fn check(&self) -> Result<()> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("learning rate", self.lr, "must be positive and finite"));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(Error::invalid("weight decay", self.weight_decay, "must be ≥ 0"));
        }
        if let Optimizer::Sgd { momentum, .. } = self.optimizer {
            if !(0.0..1.0).contains(&momentum) {
                return Err(Error::invalid("momentum", momentum, "must lie in [0, 1)"));
            }
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch size", 0, "must be at least 1"));
        }
        match self.length {
            Length::Steps(0) => return Err(Error::invalid("steps", 0, "must be at least 1")),
            Length::Epochs(0) => return Err(Error::invalid("epochs", 0, "must be at least 1")),
            _ => {}
        }
        if self.eval_every == Some(0) {
            return Err(Error::invalid("eval_every", 0, "must be at least 1 step"));
        }
        if let Some(es) = &self.early_stopping {
            if es.patience == 0 {
                return Err(Error::invalid("early-stopping patience", 0, "must be at least 1 evaluation"));
            }
        }
        self.schedule.check()
    }

    /// Total optimisation steps on a training set of `n` images.
    pub fn total_steps(&self, n: usize) -> usize {
        match self.length {
            Length::Steps(s) => s,
            Length::Epochs(e) if self.drop_last => e * (n / self.batch_size.max(1)),
            Length::Epochs(e) => e * n.div_ceil(self.batch_size.max(1)),
        }
    }

    fn optimizer(&self, vs: &nn::VarStore) -> Result<nn::Optimizer> {
        let wd = self.weight_decay;
        let opt = match self.optimizer {
            Optimizer::Adam => nn::Adam { wd, ..Default::default() }.build(vs, self.lr),
            Optimizer::AdamW => nn::AdamW { wd, ..Default::default() }.build(vs, self.lr),
            Optimizer::Sgd { momentum, nesterov } => nn::Sgd { momentum, wd, nesterov, dampening: 0.0 }.build(vs, self.lr),
        };
        Ok(opt?)
    }
}

/// Batch-level mixing applied after the per-image augmentation.
#[derive(Debug, Clone)]
pub enum BatchMix {
    MixUp(MixUp),
    CutMix(CutMix),
}

/// One validation measurement.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValPoint {
    pub step: usize,
    pub loss: f64,
    pub accuracy: f64,
}

/// Where training is, as callbacks see it. A callback may set `stop`.
#[derive(Debug, Clone, Default)]
pub struct TrainState {
    /// Epochs completed before the current one (0-based index of the current epoch).
    pub epoch: usize,
    /// Optimisation steps taken.
    pub step: usize,
    pub total_steps: usize,
    pub lr: f64,
    /// Loss of the last mini-batch.
    pub batch_loss: f64,
    /// Mean loss over the current epoch's batches so far.
    pub epoch_loss: f64,
    /// The last validation measurement.
    pub val: Option<ValPoint>,
    /// Set to end training after the current batch.
    pub stop: bool,
}

/// Hooks around epochs and batches. Every method has an empty default.
pub trait Callback {
    fn before_epoch(&mut self, _state: &mut TrainState, _model: &Classifier) -> Result<()> {
        Ok(())
    }
    fn after_epoch(&mut self, _state: &mut TrainState, _model: &Classifier) -> Result<()> {
        Ok(())
    }
    fn before_batch(&mut self, _state: &mut TrainState, _model: &Classifier) -> Result<()> {
        Ok(())
    }
    fn after_batch(&mut self, _state: &mut TrainState, _model: &Classifier) -> Result<()> {
        Ok(())
    }
}

/// Save the weights (safetensors) after every `every` epochs, to `path`
/// (overwritten, atomically), so a long run can be picked up with
/// [`Classifier::load`].
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub path: std::path::PathBuf,
    pub every: usize,
}

impl Callback for Checkpoint {
    fn after_epoch(&mut self, state: &mut TrainState, model: &Classifier) -> Result<()> {
        if self.every > 0 && (state.epoch + 1) % self.every == 0 {
            model.save(&self.path)?;
        }
        Ok(())
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    pub steps: usize,
    pub epochs: usize,
    /// (step at the end of the epoch, mean training loss over that epoch).
    pub train_loss: Vec<(usize, f64)>,
    pub val: Vec<ValPoint>,
    /// The step whose weights were kept, when early stopping restored the best.
    pub best_step: Option<usize>,
    pub stopped_early: bool,
    pub seconds: f64,
}

/// Trains a [`Classifier`]: `Trainer::new(cfg).augment(&pipeline).validation(&val).fit(&mut model, &train)`.
pub struct Trainer<'a> {
    cfg: TrainConfig,
    augment: Option<&'a dyn Augment>,
    mix: Option<BatchMix>,
    val: Option<&'a ImageDataset>,
    callbacks: Vec<&'a mut dyn Callback>,
    /// `(optimiser group, factor)`: that group's rate is `factor` × the scheduled rate.
    group_lr: Vec<(usize, f64)>,
}

impl std::fmt::Debug for Trainer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("cfg", &self.cfg)
            .field("augment", &self.augment.map(|a| a.name()))
            .field("mix", &self.mix)
            .field("validation", &self.val.map(|v| v.len()))
            .field("callbacks", &self.callbacks.len())
            .field("group_lr", &self.group_lr)
            .finish()
    }
}

impl<'a> Trainer<'a> {
    pub fn new(cfg: TrainConfig) -> Self {
        Trainer { cfg, augment: None, mix: None, val: None, callbacks: Vec::new(), group_lr: Vec::new() }
    }

    /// Train the variables registered in optimiser group `group` (`nn::Path::set_group`)
    /// at `factor` × the scheduled rate: discriminative rates, e.g. a pretrained
    /// backbone at a tenth of its new head's.
    pub fn group_lr(mut self, group: usize, factor: f64) -> Self {
        self.group_lr.push((group, factor));
        self
    }

    /// Augment every mini-batch with `pipeline` (each image draws its own parameters).
    pub fn augment(mut self, pipeline: &'a dyn Augment) -> Self {
        self.augment = Some(pipeline);
        self
    }

    /// Mix every mini-batch (MixUp or CutMix) and train on the soft labels.
    pub fn mix(mut self, mix: BatchMix) -> Self {
        self.mix = Some(mix);
        self
    }

    /// Measure loss and accuracy on `val` (see [`TrainConfig::eval_every`]); needed
    /// for early stopping.
    pub fn validation(mut self, val: &'a ImageDataset) -> Self {
        self.val = Some(val);
        self
    }

    pub fn callback(mut self, callback: &'a mut dyn Callback) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// Train `model` on `train`.
    pub fn fit(mut self, model: &mut Classifier, train: &ImageDataset) -> Result<History> {
        let cfg = self.cfg.clone();
        cfg.check()?;
        model.check_data("training set", train)?;
        if let Some(val) = self.val {
            model.check_data("validation set", val)?;
        }
        if let Some(&(g, f)) = self.group_lr.iter().find(|(_, f)| !(*f > 0.0 && f.is_finite())) {
            return Err(Error::invalid(format!("learning-rate factor of group {g}"), f, "must be positive and finite"));
        }
        if cfg.early_stopping.is_some() && self.val.is_none() {
            return Err(Error::invalid("early stopping", "on", "needs a validation set (Trainer::validation)"));
        }
        let started = std::time::Instant::now();
        let device = model.device();
        let train = train.to_device(device);
        let n = train.len();
        let total = cfg.total_steps(n);
        let num_classes = model.spec.num_classes as usize;
        let mut opt = cfg.optimizer(&model.vs)?;
        let mut aug_rng = AugRng::new(derive_seed(cfg.seed, "augment"));
        let progress = Progress::new(total as u64, cfg.progress, "train");
        let mut history = History::default();
        let mut state = TrainState { total_steps: total, lr: cfg.lr, ..Default::default() };
        let mut best: Option<(f64, usize, Vec<(String, Tensor)>)> = None;
        let mut bad_evals = 0;

        'epochs: while state.step < total && !state.stop {
            for cb in self.callbacks.iter_mut() {
                cb.before_epoch(&mut state, model)?;
            }
            let order = batch_indices(n, cfg.batch_size, Some(derive_seed(cfg.seed, &format!("batches/{}", state.epoch))), cfg.drop_last);
            if order.is_empty() {
                return Err(Error::invalid("batch size", cfg.batch_size, format!("leaves no full batch of {n} images (drop_last)")));
            }
            let (mut loss_sum, mut batches) = (0.0, 0usize);
            for idx in order {
                if state.step >= total || state.stop {
                    break;
                }
                state.lr = cfg.schedule.lr(cfg.lr, state.step, total);
                opt.set_lr(state.lr);
                for &(group, factor) in &self.group_lr {
                    opt.set_lr_group(group, state.lr * factor);
                }
                for cb in self.callbacks.iter_mut() {
                    cb.before_batch(&mut state, model)?;
                }
                let idx = Tensor::from_slice(&idx.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(device);
                let mut x = train.batch_images(&idx);
                let y = train.labels.index_select(0, &idx);
                if let Some(a) = self.augment {
                    x = a.apply_rng(&x, &mut aug_rng)?;
                }
                let loss = match &self.mix {
                    None => model.forward_t(&x, true).cross_entropy_for_logits(&y),
                    Some(mix) => {
                        let (xm, soft) = match mix {
                            BatchMix::MixUp(m) => m.apply(&x, &y, num_classes, &mut aug_rng)?,
                            BatchMix::CutMix(m) => m.apply(&x, &y, num_classes, &mut aug_rng)?,
                        };
                        let logp = model.forward_t(&xm, true).log_softmax(-1, Kind::Float);
                        -(soft * logp).sum_dim_intlist(-1, false, Kind::Float).mean(Kind::Float)
                    }
                };
                opt.zero_grad();
                loss.backward();
                opt.step();
                state.batch_loss = loss.double_value(&[]);
                if !state.batch_loss.is_finite() {
                    return Err(Error::NonFinite {
                        context: format!("training loss at step {} (lower the learning rate, now {})", state.step, state.lr),
                        value: state.batch_loss,
                    });
                }
                state.step += 1;
                loss_sum += state.batch_loss;
                batches += 1;
                state.epoch_loss = loss_sum / batches as f64;
                progress.step(state.batch_loss);
                for cb in self.callbacks.iter_mut() {
                    cb.after_batch(&mut state, model)?;
                }
                if let (Some(every), Some(val)) = (cfg.eval_every, self.val) {
                    if state.step % every == 0 {
                        self.validate(model, val, &cfg, &mut state, &mut history, &mut best, &mut bad_evals)?;
                    }
                }
                if state.stop {
                    break 'epochs;
                }
            }
            history.train_loss.push((state.step, state.epoch_loss));
            if let (None, Some(val)) = (cfg.eval_every, self.val) {
                self.validate(model, val, &cfg, &mut state, &mut history, &mut best, &mut bad_evals)?;
            }
            for cb in self.callbacks.iter_mut() {
                cb.after_epoch(&mut state, model)?;
            }
            state.epoch += 1;
        }
        progress.finish();
        history.steps = state.step;
        history.epochs = state.epoch;
        history.stopped_early = state.stop && state.step < total;
        if let (Some(es), Some((_, step, weights))) = (&cfg.early_stopping, &best) {
            if es.restore_best {
                model.set_weights(weights)?;
                history.best_step = Some(*step);
            }
        }
        history.seconds = started.elapsed().as_secs_f64();
        Ok(history)
    }

    #[allow(clippy::too_many_arguments)]
    fn validate(
        &self,
        model: &Classifier,
        val: &ImageDataset,
        cfg: &TrainConfig,
        state: &mut TrainState,
        history: &mut History,
        best: &mut Option<(f64, usize, Vec<(String, Tensor)>)>,
        bad_evals: &mut usize,
    ) -> Result<()> {
        let (accuracy, log_loss) = model.accuracy_and_loss(val)?;
        let point = ValPoint { step: state.step, loss: log_loss, accuracy };
        history.val.push(point);
        state.val = Some(point);
        if let Some(es) = &cfg.early_stopping {
            // lower is better for both, after flipping accuracy's sign
            let score = match es.monitor {
                Monitor::ValLoss => log_loss,
                Monitor::ValAccuracy => -accuracy,
            };
            let improved = best.as_ref().is_none_or(|(b, ..)| score < b - es.min_delta);
            if improved {
                *best = Some((score, state.step, model.weights()));
                *bad_evals = 0;
            } else {
                *bad_evals += 1;
                if *bad_evals >= es.patience {
                    state.stop = true;
                }
            }
        }
        Ok(())
    }
}
