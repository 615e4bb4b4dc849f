//! What more than one test file needs: every image operation with typical settings.
#![allow(dead_code)] // each test file uses part of it

use smalldata::augment::*;

/// Every operation of the library with typical settings, keeping the size.
pub fn all_ops() -> Vec<Box<dyn Augment>> {
    vec![
        Box::new(RandomCrop::new(16, 16).padding(3).build().unwrap()),
        Box::new(RandomCrop::new(16, 16).padding(2).fill(Fill::Reflect).build().unwrap()),
        Box::new(RandomResizedCrop::new(16, 16).build().unwrap()),
        Box::new(RandomRotation::new(-30.0, 30.0).build().unwrap()),
        Box::new(RandomAffine::new().degrees(-10.0, 10.0).translate(0.1, 0.1).scale(0.9, 1.1).shear_x(-10.0, 10.0).build().unwrap()),
        Box::new(Flip::horizontal(0.5).build().unwrap()),
        Box::new(Flip::vertical(0.5).build().unwrap()),
        Box::new(GaussianNoise::new(0.1).build().unwrap()),
        Box::new(GaussianBlur::new(0.5, 1.5).build().unwrap()),
        Box::new(ColorJitter::new().brightness(0.4).contrast(0.4).saturation(0.4).hue(0.1).build().unwrap()),
        Box::new(RandomErasing::new(0.5).build().unwrap()),
        Box::new(ElasticTransform::new(3.0, 2.0).build().unwrap()),
        Box::new(Compose::new(vec![Box::new(Flip::horizontal(0.5).build().unwrap()), Box::new(GaussianNoise::new(0.05).build().unwrap())])),
        Box::new(RandomApply::new(Box::new(RandomRotation::new(-90.0, 90.0).build().unwrap()), 0.5).unwrap()),
        Box::new(OneOf::new(vec![Box::new(Identity), Box::new(GaussianBlur::new(1.0, 1.0).build().unwrap())]).unwrap()),
        Box::new(RandAugment::new(2, 9.0).unwrap()),
        Box::new(TrivialAugmentWide),
    ]
}
