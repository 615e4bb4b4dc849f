//! Every command-line setting parses back to itself, so that the CLI's defaults,
//! spelt from the library's `Default`s, mean what the library means.
use smalldata::finetune::Strategy;
use smalldata::params::{settings, Setting};
use smalldata::study::{Op, StudyConfig};
use smalldata::tabular::{Regressor, TabularMethod};

fn round_trips<T: Setting + PartialEq + std::fmt::Debug>(values: &[T]) {
    for v in values {
        let back: T = v.setting().parse().unwrap_or_else(|e| panic!("{v:?} spelt {:?}: {e}", v.setting()));
        assert_eq!(&back, v, "{}", v.setting());
    }
}

#[test]
fn every_setting_parses_back_to_itself() {
    round_trips(&StudyConfig::default().ops);
    round_trips(&[Op::Crop { padding: 4 }, Op::Rotate { degrees: 7.5 }, Op::Noise { sigma: 0.05 }, Op::Flip, Op::Erase, Op::Blur { sigma: 2.0 }, Op::Jitter { strength: 0.2 }, Op::Affine, Op::Elastic]);
    round_trips(&[Strategy::Scratch, Strategy::FrozenLinear, Strategy::FrozenMlp, Strategy::Lora { rank: 4 }, Strategy::Full, Strategy::Gradual]);
    let models: Vec<Regressor> = ["ols", "ridge=0.5", "lasso", "elasticnet=0.2", "svr=3", "knn=7", "mlp=32"].iter().map(|m| m.parse().unwrap()).collect();
    round_trips(&models);
    round_trips(&[TabularMethod::None, TabularMethod::Jitter, TabularMethod::Mixup, TabularMethod::Smoter, TabularMethod::Smogn, TabularMethod::Copula, TabularMethod::Gan]);
    assert_eq!(settings(&StudyConfig::default().ops), ["crop=3", "rotate=15", "noise=0.1"]);
}

