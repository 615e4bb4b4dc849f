//! Where the time of a 128×128 rotation goes (one thread): the sampling grid, the
//! bilinear sampling, and the whole op. `cargo run --release --example prof_rotate`
use smalldata::augment::{Augment, RandomRotation};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn main() {
    tch::set_num_threads(1);
    let n = 64i64;
    let x = Tensor::rand([n, 1, 128, 128], (Kind::Float, Device::Cpu));
    let theta = Tensor::from_slice(&[0.9f32, -0.3, 0.0, 0.3, 0.9, 0.0]).view([1, 2, 3]).repeat([n, 1, 1]);
    let rot = RandomRotation::new(-30.0, 30.0).build().unwrap();
    let per = |d: std::time::Duration| d.as_secs_f64() / 10.0 / n as f64 * 1e6;
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut grid = Tensor::zeros([1], (Kind::Float, Device::Cpu));
        for _ in 0..10 {
            grid = Tensor::affine_grid_generator(&theta, [n, 1, 128, 128], false);
        }
        let t1 = Instant::now();
        for _ in 0..10 {
            let _ = x.grid_sampler(&grid, 0, 0, false);
        }
        let t2 = Instant::now();
        for i in 0..10 {
            let _ = rot.apply(&x, i).unwrap();
        }
        let t3 = Instant::now();
        println!("affine_grid_generator {:.1} µs/img, grid_sampler {:.1} µs/img, RandomRotation {:.1} µs/img", per(t1 - t0), per(t2 - t1), per(t3 - t2));
    }
}
