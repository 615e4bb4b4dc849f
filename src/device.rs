//! Which device computations run on.
//!
//! [`device()`] picks CUDA when libtorch sees a GPU and the CPU otherwise. The
//! environment variable `SMALLDATA_DEVICE` overrides the choice: `cpu`, `cuda` or
//! `cuda:N`. Asking for CUDA where there is none is an error, not a silent fallback,
//! so a study meant for the GPU never quietly runs for hours on the CPU.

use crate::{Error, Result};
use tch::Device;

/// Name of the environment variable that overrides [`device()`].
pub const DEVICE_ENV: &str = "SMALLDATA_DEVICE";

/// The device to run on: `SMALLDATA_DEVICE` if set, else CUDA if available, else CPU.
pub fn device() -> Result<Device> {
    match std::env::var(DEVICE_ENV) {
        Ok(s) if !s.trim().is_empty() => parse_device(&s),
        _ => Ok(Device::cuda_if_available()),
    }
}

/// Parse `cpu`, `cuda` or `cuda:N`, checking that a CUDA device really exists.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim().to_ascii_lowercase();
    match s.as_str() {
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => parse_device("cuda:0"),
        _ => {
            let Some(index) = s.strip_prefix("cuda:") else {
                return Err(Error::invalid(DEVICE_ENV, &s, "expected cpu, cuda or cuda:N"));
            };
            let index: usize = index
                .parse()
                .map_err(|_| Error::invalid(DEVICE_ENV, &s, "the CUDA index must be a non-negative integer"))?;
            let count = tch::Cuda::device_count() as usize;
            if count == 0 {
                return Err(Error::Device {
                    asked: s,
                    reason: "libtorch sees no CUDA device (no GPU, or no CUDA driver)".into(),
                });
            }
            if index >= count {
                return Err(Error::Device { asked: s, reason: format!("only {count} CUDA device(s) present") });
            }
            Ok(Device::Cuda(index))
        }
    }
}

/// Name of the environment variable that caps libtorch's CPU threads ([`use_cpu_threads`]).
pub const THREADS_ENV: &str = "SMALLDATA_THREADS";

/// Let libtorch use every core (single runs; studies set one thread per worker), or
/// `SMALLDATA_THREADS` of them. Two libtorch processes that each use every core slow
/// each other down many times over (each small op waits for threads the other holds):
/// give each `SMALLDATA_THREADS=1` when running two at once. The thread count is part
/// of what a CPU run computes: reductions split across threads round differently.
pub fn use_cpu_threads() {
    let n = std::env::var(THREADS_ENV).ok().and_then(|s| s.parse::<i32>().ok()).filter(|&n| n > 0);
    tch::set_num_threads(n.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1)));
}

/// A short human description of a device, e.g. `cpu` or `cuda:0`.
pub fn describe(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device(" CPU ").unwrap(), Device::Cpu);
    }

    #[test]
    fn garbage_is_an_error_naming_the_value() {
        let e = parse_device("tpu").unwrap_err().to_string();
        assert!(e.contains("tpu"), "{e}");
        let e = parse_device("cuda:x").unwrap_err().to_string();
        assert!(e.contains("cuda:x"), "{e}");
    }

    #[test]
    fn cuda_without_gpu_is_an_error() {
        if tch::Cuda::device_count() == 0 {
            let e = parse_device("cuda").unwrap_err();
            assert!(matches!(e, Error::Device { .. }), "{e}");
        } else {
            assert_eq!(parse_device("cuda").unwrap(), Device::Cuda(0));
        }
    }
}
