//! Measures worker-side PR-curve computation (torch's `compute_curve`) of 1e5 points
//! with integer labels and float32 predictions, the shape of `add_pr_curve`'s bench.
use _core::summary::pr_curve::{compute_curve, Weights};
use _core::summary::raw_array::{DType, RawArray};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 100_000usize;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let labels: Vec<i64> = (0..n).map(|_| i64::from(next() < 0.5)).collect();
    let predictions: Vec<f32> = labels
        .iter()
        .map(|&l| (l as f64 * 0.3 + next() * 0.7) as f32)
        .collect();
    let label_bytes: Vec<u8> = labels.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let prediction_bytes: Vec<u8> = predictions.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let labels = RawArray::copy_from(DType::Int64, vec![n as i64], &label_bytes)?;
    let predictions = RawArray::copy_from(DType::Float32, vec![n as i64], &prediction_bytes)?;
    let mut best = f64::MAX;
    for _ in 0..200 {
        let t = Instant::now();
        std::hint::black_box(compute_curve(
            &labels,
            &predictions,
            &Weights::Scalar(1.0),
            127,
        ));
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "compute_curve of {n} points: best {:.1} µs ({:.2} ns/point)",
        best * 1e6,
        best * 1e9 / n as f64
    );
    Ok(())
}
