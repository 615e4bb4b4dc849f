//! `advise` on images: the arms that apply to an image dataset, a training length
//! that grows with the data, the cost probe, the stages, and the page's pictures
//! (augmented samples per arm, a sample strip per class).

use super::plan::{Cost, PROBE_SEED};
use super::{Candidates, Stage, StageCommon};
use crate::data::ImageDataset;
use crate::experiment::{html_escape, parallel_runs, run_experiment, Arm, ArmOutput, Experiment, ExperimentOutcome, ImageDraw, ImageTask, Metric, RunContext, Task};
use crate::finetune::TransferArm;
use crate::plot::image_grid;
use crate::study::{methods, GanArm, ImageArm, Method, Op, StudyData};
use crate::train::{Length, ModelKind, TrainConfig};
use crate::error::IoContext;
use crate::{Error, Result};
use std::path::Path;

/// How long each run trains: `epochs` passes over its training images, but at least
/// `min_steps` and at most `max_steps` optimisation steps. The floor matters most:
/// augmented data is harder to fit, and a short fixed budget makes every
/// augmentation look useless (the README's 400- against 2,000-step study).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LengthRule {
    pub epochs: usize,
    pub min_steps: usize,
    pub max_steps: usize,
}

impl Default for LengthRule {
    /// 50 epochs, at least 600 and at most 2,000 steps.
    fn default() -> Self {
        LengthRule { epochs: 50, min_steps: 600, max_steps: 2000 }
    }
}

impl LengthRule {
    /// Steps for `images` training images in batches of `batch`, times `factor`.
    pub fn steps(&self, images: usize, batch: usize, factor: usize) -> usize {
        (self.epochs * images.div_ceil(batch.max(1))).clamp(self.min_steps, self.max_steps) * factor.max(1)
    }

    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 || self.min_steps == 0 || self.min_steps > self.max_steps {
            return Err(Error::invalid(
                "training length rule",
                format!("{} epochs, {}–{} steps", self.epochs, self.min_steps, self.max_steps),
                "needs epochs ≥ 1 and 1 ≤ min steps ≤ max steps",
            ));
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        format!("{} epochs, {}–{} steps", self.epochs, self.min_steps, self.max_steps)
    }
}

/// What makes two image stages comparable (stored in each stage's `study.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdviseImageProtocol {
    pub data: StudyData,
    pub model: ModelKind,
    pub train: TrainConfig,
    pub rule: LengthRule,
    /// Training length multiplier (2 in the stability stage).
    pub factor: usize,
    pub test_limit: Option<usize>,
}

/// A study method trained for the length the rule gives its draw.
#[derive(Debug, Clone)]
struct RuledArm {
    method: Method,
    model: ModelKind,
    train: TrainConfig,
    rule: LengthRule,
    factor: usize,
}

impl Arm<ImageDraw> for RuledArm {
    fn name(&self) -> String {
        self.method.name()
    }
    fn describe(&self) -> String {
        self.method.describe()
    }
    fn run(&self, draw: &ImageDraw, ctx: &RunContext) -> Result<ArmOutput> {
        let steps = self.rule.steps(draw.train.len(), self.train.batch_size, self.factor);
        let arm = ImageArm { method: self.method.clone(), model: self.model, train: TrainConfig { length: Length::Steps(steps), ..self.train.clone() } };
        arm.run(draw, ctx)
    }
}

/// Image data and every arm that applies to it.
#[allow(missing_debug_implementations)]
pub struct ImageCandidates {
    pub data: StudyData,
    pub task: ImageTask,
    pub source: String,
    pub model: ModelKind,
    pub train: TrainConfig,
    pub rule: LengthRule,
    pub methods: Vec<Method>,
    pub transfer: Vec<TransferArm>,
    pub test_limit: Option<usize>,
}

/// GAN steps are divided by this in the cost probe (and its time multiplied back).
const GAN_PROBE_DIVISOR: usize = 50;
/// Training steps of a probe run.
const PROBE_STEPS: usize = 40;

impl ImageCandidates {
    /// Load `data`, hold out the test part (capped at `test_limit` images, stratified)
    /// and list the arms: none, every combination of the operations that suit the
    /// images (crop, flip, rotate, noise; colour jitter for RGB), RandAugment,
    /// TrivialAugment, MixUp, CutMix, the GAN, plus the diffusion arm and transfer
    /// strategies when given.
    pub fn new(data: StudyData, test_limit: Option<usize>, rule: LengthRule, diffusion: Option<crate::study::DiffusionArm>, transfer: Vec<TransferArm>) -> Result<Self> {
        rule.check()?;
        let loaded = data.load()?;
        let test = match test_limit {
            Some(k) if k < loaded.test.len() => {
                let per_class = k.div_ceil(loaded.test.num_classes());
                let fewest = loaded.test.class_counts().into_iter().min().unwrap_or(0);
                loaded.test.subsample_per_class(per_class.min(fewest), 0)?
            }
            _ => loaded.test.shallow_clone(),
        };
        let [c, h, w] = loaded.train.image_shape();
        let mut ops = vec![Op::Crop { padding: 3 }, Op::Flip, Op::Rotate { degrees: 15.0 }, Op::Noise { sigma: 0.1 }];
        if c == 3 {
            ops.push(Op::Jitter { strength: 0.3 });
        }
        let mut all = methods(&ops, true);
        all.push(Method::MixUp);
        all.push(Method::CutMix);
        all.push(Method::Gan(GanArm::default()));
        all.extend(diffusion.map(Method::Diffusion));
        // the small CNN up to 32 px, the small ResNet above (more capacity, global pooling)
        let model = if h.max(w) <= 32 { ModelKind::SmallCnn } else { ModelKind::SmallResNet };
        let train = TrainConfig { batch_size: 32, progress: false, ..TrainConfig::default() };
        Ok(ImageCandidates { data, task: ImageTask { train: loaded.train, test }, source: loaded.source, model, train, rule, methods: all, transfer, test_limit })
    }

    fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.name() == name)
    }

    fn arm(&self, name: &str, factor: usize) -> Result<Box<dyn Arm<ImageDraw>>> {
        if let Some(m) = self.method(name) {
            return Ok(Box::new(RuledArm { method: m.clone(), model: self.model, train: self.train.clone(), rule: self.rule, factor }));
        }
        if let Some(t) = self.transfer.iter().find(|t| t.name() == name) {
            let mut t = t.clone();
            t.train.steps *= factor.max(1);
            return Ok(Box::new(t));
        }
        Err(Error::invalid("arm", name, "not an arm of this data"))
    }

    fn protocol(&self, factor: usize) -> AdviseImageProtocol {
        AdviseImageProtocol { data: self.data.clone(), model: self.model, train: self.train.clone(), rule: self.rule, factor, test_limit: self.test_limit }
    }

    /// One training image of each class (the first), `[K, C, H, W]`.
    fn one_per_class(&self) -> Result<ImageDataset> {
        let labels = self.task.train.labels_vec();
        let idx: Vec<usize> = (0..self.task.train.num_classes() as i64).filter_map(|k| labels.iter().position(|&l| l == k)).collect();
        self.task.train.select(&idx)
    }

    fn scale(&self) -> u32 {
        let [_, h, w] = self.task.train.image_shape();
        (64 / h.max(w).max(1)).max(1) as u32
    }
}

/// A file-name-safe form of an arm's name.
fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

impl Candidates for ImageCandidates {
    fn size_label(&self) -> &'static str {
        "images per class"
    }

    fn primary(&self) -> Metric {
        Metric::Accuracy
    }

    fn describe_data(&self) -> String {
        let [c, h, w] = self.task.train.image_shape();
        format!(
            "{}: {} classes, {} training images (the pool each run draws from), {} test images, {}×{} {}",
            self.source,
            self.task.train.num_classes(),
            self.task.train.len(),
            self.task.test.len(),
            h,
            w,
            if c == 1 { "gray" } else { "RGB" }
        )
    }

    fn max_size(&self) -> usize {
        self.task.train.class_counts().into_iter().min().unwrap_or(0)
    }

    fn rungs(&self) -> &'static [usize] {
        &[5, 10, 20, 50, 100, 200, 500]
    }

    fn arm_names(&self) -> Vec<String> {
        self.methods.iter().map(|m| m.name()).chain(self.transfer.iter().map(|t| t.name())).collect()
    }

    fn baseline_of(&self, _arm: &str) -> String {
        "none".into()
    }

    fn drop_rank(&self, arm: &str) -> Option<u32> {
        match self.method(arm) {
            Some(Method::Ops(ops)) if ops.len() >= 2 => Some(ops.len() as u32 * 10),
            // a generator trains per run: by far the costliest, dropped first
            Some(Method::Gan(_)) | Some(Method::Diffusion(_)) => Some(50),
            _ => None,
        }
    }

    fn units(&self, size: usize, factor: usize) -> f64 {
        let images = size * self.task.train.num_classes();
        self.rule.steps(images, self.train.batch_size, factor) as f64
    }

    fn probe(&self, arms: &[String], size: usize, jobs: usize) -> Result<Vec<Cost>> {
        let device = crate::device()?;
        self.task.draw(size, PROBE_SEED)?; // its error, if any, before the workers start
        let probe_arm = |name: &String| -> Result<Box<dyn Arm<ImageDraw>>> {
            if let Some(m) = self.method(name) {
                let method = match m {
                    Method::Gan(g) => {
                        let mut gan = g.gan.clone();
                        gan.run.steps = (g.gan.run.steps / GAN_PROBE_DIVISOR).max(1);
                        Method::Gan(GanArm { gan, ..g.clone() })
                    }
                    Method::Diffusion(d) => {
                        let mut d = d.clone();
                        d.inversion.steps = (d.inversion.steps / GAN_PROBE_DIVISOR).max(1);
                        Method::Diffusion(d)
                    }
                    other => other.clone(),
                };
                let rule = LengthRule { epochs: 1, min_steps: PROBE_STEPS, max_steps: PROBE_STEPS };
                Ok(Box::new(RuledArm { method, model: self.model, train: self.train.clone(), rule, factor: 1 }))
            } else {
                self.arm(name, 1)
            }
        };
        // each worker first warms up on one untimed run (libtorch's first steps are slow)
        let warm = arms.iter().position(|a| a == "none").unwrap_or(0);
        let mut boxed: Vec<(usize, Box<dyn Arm<ImageDraw>>)> = (0..jobs.max(1)).map(|_| Ok((usize::MAX, probe_arm(&arms[warm])?))).collect::<Result<_>>()?;
        boxed.extend(arms.iter().enumerate().map(|(i, a)| Ok((i, probe_arm(a)?))).collect::<Result<Vec<_>>>()?);
        let mut outputs: Vec<Option<ArmOutput>> = vec![None; arms.len()];
        parallel_runs(
            boxed,
            jobs,
            || self.task.draw(size, PROBE_SEED).ok(),
            |draw, (i, arm)| match draw {
                Some(draw) => (*i, arm.run(draw, &RunContext { size, seed: PROBE_SEED, device })),
                None => (*i, Err(Error::invalid("cost probe", size, "drawing the probe's training images failed on a worker"))),
            },
            |_, (i, out)| {
                if i == usize::MAX {
                    return out.map(|_| ());
                }
                outputs[i] = Some(out.map_err(|e| Error::Run { key: format!("cost probe of {}", arms[i]), source: Box::new(e) })?);
                Ok(())
            },
        )?;
        let outputs: Vec<ArmOutput> = outputs.into_iter().map(|o| o.ok_or_else(|| Error::invalid("cost probe", "missing", "a probe run did not report"))).collect::<Result<_>>()?;
        let base = arms.iter().position(|a| a == "none").map(|i| outputs[i].train_seconds / PROBE_STEPS as f64).unwrap_or(0.0);
        Ok(arms
            .iter()
            .zip(&outputs)
            .map(|(name, o)| match self.method(name) {
                Some(Method::Gan(_)) | Some(Method::Diffusion(_)) => {
                    let generator = (o.train_seconds - base * PROBE_STEPS as f64).max(0.0) * GAN_PROBE_DIVISOR as f64;
                    Cost { fixed: o.eval_seconds + generator, per_unit: base }
                }
                Some(_) => Cost { fixed: o.eval_seconds, per_unit: o.train_seconds / PROBE_STEPS as f64 },
                // transfer strategies train for their own fixed number of steps
                None => Cost { fixed: o.eval_seconds + o.train_seconds, per_unit: 0.0 },
            })
            .collect())
    }

    fn run_stage(&self, stage: &Stage, out: &Path, common: &StageCommon) -> Result<ExperimentOutcome> {
        let arms = stage.arms.iter().map(|a| self.arm(a, stage.factor)).collect::<Result<Vec<_>>>()?;
        let exp = Experiment {
            title: stage.title.clone(),
            protocol: self.protocol(stage.factor),
            sizes: stage.sizes.clone(),
            size_label: self.size_label().into(),
            seeds: stage.seeds.clone(),
            arms,
            baseline: "none".into(),
            jobs: common.jobs,
            out: out.to_path_buf(),
            progress: common.progress,
            restart: common.restart,
            notes: vec![format!("Data: {}.", self.describe_data()), self.protocol_note(stage.factor)],
            config: serde_json::Value::Null,
            deadline: common.deadline,
        };
        run_experiment(&exp, || Ok(self.task.shallow_clone()))
    }

    fn protocol_note(&self, factor: usize) -> String {
        let t = &self.train;
        format!(
            "Model: {} (chosen for {}-px images). Training: {:?}, lr {}, batch {}, length {} per run{}; GAN arm: {} generator steps; scored on {} test images{}.",
            self.model,
            self.task.train.image_shape()[1],
            t.optimizer,
            t.lr,
            t.batch_size,
            self.rule.describe(),
            if factor > 1 { format!(", × {factor} in this stage") } else { String::new() },
            GanArm::default().gan.run.steps,
            self.task.test.len(),
            if self.test_limit.is_some_and(|k| k < self.task.test.len() + 1) { " (a stratified subset)" } else { "" }
        )
    }

    fn inputs(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": "images",
            "protocol": self.protocol(1),
            "arms": self.arm_names(),
        })
    }

    fn has_length(&self) -> bool {
        true
    }

    fn recipe(&self, arm: &str, size: usize) -> String {
        let dataset = match &self.data {
            StudyData::Folder { path, .. } => path.display().to_string(),
            StudyData::FashionMnist { .. } => "fashion-mnist".into(),
            StudyData::FashionMnistEmbedded => "fashion-mnist-embedded".into(),
            StudyData::Digits => "digits".into(),
            StudyData::Cifar10 { .. } => "cifar10".into(),
        };
        let steps = self.units(size, 1) as usize;
        let common = format!("--dataset {dataset} --sizes {size} --seeds 5 --steps {steps} --batch-size {} --model {}", self.train.batch_size, self.model);
        match self.method(arm) {
            Some(Method::Ops(ops)) if !ops.is_empty() => {
                let flags: Vec<String> = ops.iter().map(op_flag).collect();
                format!("smalldata study {common} --ops {}", flags.join(","))
            }
            Some(Method::RandAugment) | Some(Method::TrivialAugment) => format!("smalldata study {common} --ops none --policies   # {arm}"),
            Some(Method::Gan(g)) => format!("smalldata study {common} --ops none --gan {} --gan-steps {}", g.ratio, g.gan.run.steps),
            Some(Method::MixUp) => "Trainer::new(cfg).mix(BatchMix::MixUp(MixUp::new(0.2)?))   # in a notebook; Method::MixUp in a StudyConfig".into(),
            Some(Method::CutMix) => "Trainer::new(cfg).mix(BatchMix::CutMix(CutMix::new(1.0)?))   # in a notebook; Method::CutMix in a StudyConfig".into(),
            _ => format!("smalldata study {common} --ops none   # {arm}"),
        }
    }

    fn page_pictures(&self, out: &Path, arms: &[String]) -> Result<String> {
        let dir = out.join("samples");
        std::fs::create_dir_all(&dir).at(&dir)?;
        let names = &self.task.train.class_names;
        let firsts = self.one_per_class()?;
        let scale = self.scale();
        let header: String = names.iter().map(|n| format!("<th>{}</th>", html_escape(n))).collect();
        let mut rows = String::new();
        let mut row = |label: &str, images: &tch::Tensor, tag: &str| -> Result<()> {
            let mut cells = String::new();
            for k in 0..names.len() {
                let file = format!("samples/{tag}_{k}.png");
                image_grid(&images.narrow(0, k as i64, 1), 1, scale)?.save(out.join(&file))?;
                cells.push_str(&format!("<td><img src=\"{file}\" alt=\"{} · {}\"></td>", html_escape(label), html_escape(&names[k])));
            }
            rows.push_str(&format!("<tr><th class=\"row\">{}</th>{cells}</tr>", html_escape(label)));
            Ok(())
        };
        row("original", &firsts.images(), "original")?;
        let [_, h, w] = firsts.image_shape();
        for (i, name) in arms.iter().enumerate() {
            let Some(m) = self.method(name) else { continue };
            let Some(p) = m.pipeline(h as i64, w as i64)? else { continue };
            let images = p.apply(&firsts.images(), crate::derive_seed(i as u64, "advise-samples"))?;
            row(name, &images, &slug(name))?;
        }
        let samples = format!(
            "<h2>What each augmentation does</h2><p>The first training image of each class, as each screened per-image pipeline \
             transforms it once (MixUp, CutMix and the generators act on batches or add images, so they have no row).</p>\
             <table class=\"grid\"><tr><th></th>{header}</tr>{rows}</table>"
        );
        // the data: counts and eight training images per class
        let train_counts = self.task.train.class_counts();
        let test_counts = self.task.test.class_counts();
        let labels = self.task.train.labels_vec();
        let mut data_rows = String::new();
        for (k, name) in names.iter().enumerate() {
            let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == k as i64).take(8).collect();
            let file = format!("samples/class_{k}.png");
            image_grid(&self.task.train.select(&idx)?.images(), 8, scale)?.save(out.join(&file))?;
            data_rows.push_str(&format!(
                "<tr><th class=\"row\">{}</th><td>{}</td><td>{}</td><td><img src=\"{file}\" alt=\"{} examples\"></td></tr>",
                html_escape(name),
                train_counts[k],
                test_counts.get(k).copied().unwrap_or(0),
                html_escape(name)
            ));
        }
        Ok(format!(
            "{samples}<h2>The data</h2><p>{}.</p><table class=\"grid\"><tr><th>class</th><th>training pool</th><th>test</th><th>examples</th></tr>{data_rows}</table>",
            html_escape(&self.describe_data())
        ))
    }
}

/// An operation as the `--ops` flag writes it.
fn op_flag(op: &Op) -> String {
    match *op {
        Op::Crop { padding } => format!("crop={padding}"),
        Op::Rotate { degrees } => format!("rotate={degrees}"),
        Op::Noise { sigma } => format!("noise={sigma}"),
        Op::Blur { sigma } => format!("blur={sigma}"),
        Op::Jitter { strength } => format!("jitter={strength}"),
        other => other.name().into(),
    }
}
