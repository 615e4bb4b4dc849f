//! The augmentation operations a study combines ([`Op`]): parsed from the command
//! line, named in results, and built for the data's image size.

use crate::augment::{Augment, ColorJitter, ElasticTransform, Flip, GaussianBlur, GaussianNoise, RandomAffine, RandomCrop, RandomErasing, RandomRotation};
use crate::{Error, Result};

/// One augmentation operation a study can combine with others. Parsed from
/// `crop`, `crop=4` (padding), `rotate=15` (degrees), `noise=0.1` (sigma), `flip`,
/// `erase`, `blur=1.0` (max sigma), `jitter=0.3` (brightness and contrast),
/// `affine`, `elastic`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Random crop back to the image size after zero padding of `padding` pixels.
    Crop { padding: i64 },
    /// Random rotation uniform in ±`degrees`.
    Rotate { degrees: f64 },
    /// Gaussian noise of standard deviation `sigma`, clipped to [0, 1].
    Noise { sigma: f64 },
    /// Horizontal flip with probability 0.5.
    Flip,
    /// Random erasing (torchvision's defaults, p = 0.5).
    Erase,
    /// Gaussian blur, sigma uniform in [0.1, `sigma`].
    Blur { sigma: f64 },
    /// Brightness and contrast jitter of ±`strength`.
    Jitter { strength: f64 },
    /// Random affine: ±10°, translate 10%, scale 0.9–1.1, shear ±10°.
    Affine,
    /// Elastic deformation (alpha 34, sigma 4, in pixels).
    Elastic,
}

impl std::str::FromStr for Op {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, value, given) = crate::params::parse_setting(s, "augmentation", f64::NAN)?;
        let num = |default: f64| if given { value } else { default };
        let no_value = |op: Op| if given { Err(Error::invalid("augmentation", s, format!("{name} takes no parameter"))) } else { Ok(op) };
        match name.as_str() {
            "crop" => {
                let p = num(3.0);
                if p < 0.0 || p.fract() != 0.0 {
                    return Err(Error::invalid("crop padding", s, "must be a whole number of pixels ≥ 0"));
                }
                Ok(Op::Crop { padding: p as i64 })
            }
            "rotate" => Ok(Op::Rotate { degrees: num(15.0) }),
            "noise" => Ok(Op::Noise { sigma: num(0.1) }),
            "flip" => no_value(Op::Flip),
            "erase" => no_value(Op::Erase),
            "blur" => Ok(Op::Blur { sigma: num(1.0) }),
            "jitter" => Ok(Op::Jitter { strength: num(0.3) }),
            "affine" => no_value(Op::Affine),
            "elastic" => no_value(Op::Elastic),
            _ => Err(Error::invalid(
                "augmentation",
                s,
                "known: crop[=padding], rotate[=degrees], noise[=sigma], flip, erase, blur[=sigma], jitter[=strength], affine, elastic",
            )),
        }
    }
}

impl crate::params::Setting for Op {
    fn setting(&self) -> String {
        match *self {
            Op::Crop { padding } => format!("crop={padding}"),
            Op::Rotate { degrees } => format!("rotate={degrees}"),
            Op::Noise { sigma } => format!("noise={sigma}"),
            Op::Blur { sigma } => format!("blur={sigma}"),
            Op::Jitter { strength } => format!("jitter={strength}"),
            _ => self.name().to_string(),
        }
    }
}

impl Op {
    /// The short name used in method names (`crop+rotate`).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Crop { .. } => "crop",
            Op::Rotate { .. } => "rotate",
            Op::Noise { .. } => "noise",
            Op::Flip => "flip",
            Op::Erase => "erase",
            Op::Blur { .. } => "blur",
            Op::Jitter { .. } => "jitter",
            Op::Affine => "affine",
            Op::Elastic => "elastic",
        }
    }

    /// The name with its parameter, e.g. `crop(padding 3)`.
    pub fn describe(&self) -> String {
        match *self {
            Op::Crop { padding } => format!("crop(padding {padding})"),
            Op::Rotate { degrees } => format!("rotate(±{degrees}°)"),
            Op::Noise { sigma } => format!("noise(σ {sigma}, clipped)"),
            Op::Blur { sigma } => format!("blur(σ 0.1–{sigma})"),
            Op::Jitter { strength } => format!("jitter(±{strength})"),
            _ => self.name().to_string(),
        }
    }

    /// The operation for images of `height` × `width`, its parameters checked.
    ///
    /// Parameters are given for 28×28 images. Those counted in pixels — the crop's
    /// padding, the blur's sigma, the elastic deformation's alpha and sigma — scale
    /// with the shorter side over 28 (a 3-pixel shift moves a 28-pixel image by a
    /// tenth, a 64-pixel one by a twenty-first: the same padding would be a weaker
    /// augmentation on larger images). Angles, noise sigma (in intensity),
    /// brightness and the affine's fractions do not depend on the size. On 28×28
    /// nothing changes.
    pub fn build(&self, height: i64, width: i64) -> Result<Box<dyn Augment>> {
        let scale = height.min(width) as f64 / REFERENCE_SIDE as f64;
        Ok(match *self {
            Op::Crop { padding } => Box::new(RandomCrop::new(height, width).padding((padding as f64 * scale).round() as i64).build()?),
            Op::Rotate { degrees } => {
                if degrees < 0.0 {
                    return Err(Error::invalid("rotate degrees", degrees, "give the half-range, ≥ 0"));
                }
                Box::new(RandomRotation::new(-degrees, degrees).build()?)
            }
            Op::Noise { sigma } => Box::new(GaussianNoise::new(sigma).build()?),
            Op::Flip => Box::new(Flip::horizontal(0.5).build()?),
            Op::Erase => Box::new(RandomErasing::new(0.5).build()?),
            Op::Blur { sigma } => Box::new(GaussianBlur::new(0.1, (sigma * scale).max(0.1)).build()?),
            Op::Jitter { strength } => Box::new(ColorJitter::new().brightness(strength).contrast(strength).build()?),
            Op::Affine => Box::new(
                RandomAffine::new().degrees(-10.0, 10.0).translate(0.1, 0.1).scale(0.9, 1.1).shear_x(-10.0, 10.0).build()?,
            ),
            Op::Elastic => Box::new(ElasticTransform::new(34.0 * scale, 4.0 * scale).build()?),
        })
    }
}

/// The image side, in pixels, that [`Op`] parameters are stated for (Fashion-MNIST's
/// 28): pixel-counted parameters scale with the data's shorter side over it. Because
/// the unit is defined here, [`StudyConfig::check`] can check every operation before
/// any data is read by building it at this size; `check_data` builds it again at the
/// data's own size.
pub const REFERENCE_SIDE: i64 = 28;
