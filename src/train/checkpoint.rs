//! Checkpoints of generative models: every variable of several var stores and the
//! state of their optimisers in one safetensors file, and a JSON companion holding
//! whatever the model needs to check that it resumes under the same settings.
//! Both files are written through a temporary file and a rename; the safetensors file
//! is renamed last, so a checkpoint that exists is complete.

use super::optim::Adam;
use crate::error::IoContext;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, Tensor};

/// How long, where and how visibly a resumable training run goes. These may change
/// between a run and its resumption (a larger `steps` continues it); what the weights
/// are and how they learn may not.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSettings {
    /// Optimisation steps in all (a resumed run continues up to this).
    pub steps: usize,
    /// Where checkpoints and sample grids go (`None`: nowhere, no resume).
    pub out: Option<std::path::PathBuf>,
    /// Save a checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,
    /// Save a sample grid every this many steps (0: only at the end).
    pub sample_every: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

impl Default for RunSettings {
    /// 1,000 steps, no output folder, a checkpoint every 500 steps, a sample grid at
    /// the end, no progress bar.
    fn default() -> Self {
        RunSettings { steps: 1000, out: None, checkpoint_every: 500, sample_every: 0, progress: false }
    }
}

impl RunSettings {
    /// Check the counts; `what` names the model in errors.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::invalid(format!("{what} steps"), 0, "must be at least 1"));
        }
        if self.checkpoint_every == 0 {
            return Err(Error::invalid("checkpoint_every", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// The fields in which two settings of one kind differ, as `part.field: A there, B
/// here` (empty when they are equal): what a refused resumption tells its user.
pub(crate) fn differences<T: serde::Serialize + PartialEq>(part: &str, there: &T, here: &T) -> Result<Vec<String>> {
    if there == here {
        return Ok(Vec::new());
    }
    let (a, b) = (serde_json::to_value(there)?, serde_json::to_value(here)?);
    Ok(match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).map(|(k, v)| format!("{part}.{k}: {v} there, {} here", b.get(k).cloned().unwrap_or_default())).collect()
        }
        _ => vec![format!("{part}: {a} there, {b} here")],
    })
}

pub(crate) const TENSORS: &str = "checkpoint.safetensors";
pub(crate) const META: &str = "checkpoint.json";

/// The tensor of a checkpoint that holds its metadata (the JSON's UTF-8 bytes).
const META_TENSOR: &str = "__meta__/json";

/// Write `stores` (each under its prefix), `optimizers` and `meta` into `dir`.
///
/// The metadata travels inside the tensor file (as the bytes of [`META_TENSOR`]), so
/// one rename replaces the whole checkpoint: a kill at any moment leaves either the
/// old checkpoint or the new one, never the step of one with the weights of the other.
/// `checkpoint.json` is a copy written afterwards, for people to read.
pub(crate) fn save<M: serde::Serialize>(dir: &Path, stores: &[(&str, &nn::VarStore)], optimizers: &[(&str, &Adam)], meta: &M) -> Result<()> {
    std::fs::create_dir_all(dir).at(dir)?;
    let mut named = named_state(stores, optimizers);
    let json = serde_json::to_string_pretty(meta)?;
    named.push((META_TENSOR.into(), Tensor::from_slice(json.as_bytes())));
    crate::io::write_safetensors(&dir.join(TENSORS), named)?;
    crate::io::write_atomic(&dir.join(META), json.as_bytes())
}

/// Environment variable that makes resumable trainings print a digest of their whole
/// state (every variable and the optimisers' moments) after each checkpoint they write
/// and after each they load: a diverging kill-and-resume chain can then be compared,
/// checkpoint by checkpoint, with an uninterrupted run.
pub const TRACE_STATE_ENV: &str = "SMALLDATA_TRACE_STATE";

/// Every variable of `stores` (as `{prefix}/{name}`) and the state of `optimizers`:
/// what a checkpoint holds besides its metadata.
fn named_state(stores: &[(&str, &nn::VarStore)], optimizers: &[(&str, &Adam)]) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (prefix, vs) in stores {
        named.extend(vs.variables().into_iter().map(|(k, v)| (format!("{prefix}/{k}"), v)));
    }
    for (prefix, opt) in optimizers {
        named.extend(opt.state(prefix));
    }
    named
}

/// FNV-1a over the bits of every tensor of `stores` and `optimizers`, in name order.
pub(crate) fn state_digest(stores: &[(&str, &nn::VarStore)], optimizers: &[(&str, &Adam)]) -> Result<u64> {
    let mut named = named_state(stores, optimizers);
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hash = 0xcbf29ce484222325u64;
    for (name, t) in &named {
        let bytes = name.bytes().chain(Vec::<f64>::try_from(t.flatten(0, -1).to_kind(tch::Kind::Double))?.into_iter().flat_map(|v| v.to_bits().to_le_bytes()));
        for b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    Ok(hash)
}

/// Create the output folder `out` (when there is one) and return it if it holds a
/// checkpoint to resume from — only for a model that has not trained yet (`step` 0).
pub(crate) fn to_resume(out: Option<&Path>, step: usize) -> Result<Option<std::path::PathBuf>> {
    let Some(out) = out else { return Ok(None) };
    std::fs::create_dir_all(out).at(out)?;
    Ok((step == 0 && out.join(TENSORS).exists()).then(|| out.to_path_buf()))
}

/// Read the metadata of the checkpoint in `dir` (from inside its tensor file).
pub(crate) fn read_meta<M: serde::de::DeserializeOwned>(dir: &Path) -> Result<M> {
    let path = dir.join(TENSORS);
    if !path.exists() {
        return Err(Error::NotFound { what: "checkpoint".into(), searched: vec![path] });
    }
    let stored = crate::io::read_safetensors(&path)?;
    let Some((_, bytes)) = stored.iter().find(|(k, _)| k == META_TENSOR) else {
        return Err(Error::Format { path, reason: format!("no {META_TENSOR:?} tensor (a checkpoint from an older smalldata?); delete the folder to start afresh") });
    };
    let bytes = Vec::<u8>::try_from(bytes.flatten(0, -1))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Format { path, reason: format!("{META_TENSOR}: {e}") })
}

/// Copy every variable of `stores` and the state of `optimizers` from the checkpoint
/// in `dir`; a missing or misshaped tensor is an error naming it and the file.
pub(crate) fn load(dir: &Path, stores: &[(&str, &nn::VarStore)], optimizers: &mut [(&str, &mut Adam)]) -> Result<()> {
    let path = dir.join(TENSORS);
    let stored: HashMap<String, Tensor> = crate::io::read_safetensors(&path)?.into_iter().collect();
    let fail = |e: Error| Error::Format { path: path.clone(), reason: e.to_string() };
    for (prefix, vs) in stores {
        copy_into(vs, prefix, &stored).map_err(fail)?;
    }
    for (prefix, opt) in optimizers.iter_mut() {
        opt.load_state(prefix, &stored).map_err(fail)?;
    }
    Ok(())
}

/// Copy `{prefix}/{name}` of `stored` into every variable `name` of `vs`.
pub(crate) fn copy_into(vs: &nn::VarStore, prefix: &str, stored: &HashMap<String, Tensor>) -> Result<()> {
    tch::no_grad(|| {
        for (k, v) in vs.variables() {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}/{k}") };
            let src = stored.get(&key).ok_or_else(|| Error::invalid("tensor", &key, "is missing"))?;
            if src.size() != v.size() {
                return Err(Error::shape(key, format!("{:?}", v.size()), format!("{:?}", src.size())));
            }
            if src.kind() != v.kind() {
                return Err(Error::shape(format!("{key} dtype"), format!("{:?}", v.kind()), format!("{:?}", src.kind())));
            }
            v.shallow_clone().copy_(&src.to_device(v.device()));
        }
        Ok(())
    })
}

/// `dst ← decay·dst + (1 − decay)·src` for every variable of the same name except
/// batch-norm statistics; a plain copy of everything when `decay` is `None`.
pub(crate) fn ema_update(src: &nn::VarStore, dst: &nn::VarStore, decay: Option<f64>) {
    let from = src.variables();
    tch::no_grad(|| {
        for (name, d) in dst.variables() {
            let Some(s) = from.get(&name) else { continue };
            let mut d = d.shallow_clone();
            match decay {
                // an average's own batch-norm statistics are recomputed by its owner
                Some(_) if name.contains("running_") || name.contains("num_batches") => {}
                Some(beta) => {
                    let _ = d.g_mul_scalar_(beta).g_add_(&(s * (1.0 - beta)));
                }
                None => {
                    d.copy_(s);
                }
            }
        }
    });
}

/// The warmed-up EMA decay at step `t`: `min(decay, (1 + t)/(10 + t))`, so that the
/// weights of an untrained network do not linger in the average for thousands of steps.
pub(crate) fn ema_decay(decay: f64, t: usize) -> f64 {
    let t = t as f64;
    decay.min((1.0 + t) / (10.0 + t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_digest_sees_every_bit_of_weights_and_moments() {
        let store = |w: f32| {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let _ = vs.root().var_copy("w", &Tensor::from_slice(&[1.0f32, w]));
            vs
        };
        let (a, b) = (store(2.0), store(2.0));
        let (opt_a, opt_b) = (Adam::new(&a, 0.1, (0.9, 0.999)).unwrap(), Adam::new(&b, 0.1, (0.9, 0.999)).unwrap());
        let digest = |vs: &nn::VarStore, opt: &Adam| state_digest(&[("g", vs)], &[("opt", opt)]).unwrap();
        assert_eq!(digest(&a, &opt_a), digest(&b, &opt_b));
        // one ulp in one weight changes it
        let c = store(f32::from_bits(2.0f32.to_bits() + 1));
        assert_ne!(digest(&a, &opt_a), digest(&c, &Adam::new(&c, 0.1, (0.9, 0.999)).unwrap()));
        // so does the optimiser's step count
        let mut later = Adam::new(&b, 0.1, (0.9, 0.999)).unwrap();
        later.t = 1;
        assert_ne!(digest(&a, &opt_a), digest(&b, &later));
    }
}
