//! Measures worker-side histogram binning (torch's default edges) of 1e7 float32 values.
use _core::runtime::pools::with_caller_waiting;
use _core::summary::histogram::{histogram, Bins};
use _core::summary::raw_array::{DType, RawArray};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 10_000_000usize;
    // A cheap deterministic spread of magnitudes and signs (no rand dependency needed).
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32 * 4.0
        })
        .collect();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    for round in 0..3 {
        let t = Instant::now();
        let raw = RawArray::copy_from(DType::Float32, vec![n as i64], &bytes)?;
        let copied = t.elapsed();
        let t = Instant::now();
        let h = histogram(&raw, &Bins::Default, None)?;
        let binned = t.elapsed();
        // As the writer bins a batch that flush() or close() waits for: on every core.
        let t = Instant::now();
        with_caller_waiting(true, || histogram(&raw, &Bins::Default, None))?;
        let binned_waiting = t.elapsed();
        println!(
            "round {round}: copy {copied:?}, bin {binned:?} ({:.2} ns/value), with a caller \
             waiting {binned_waiting:?}, {} buckets",
            binned.as_nanos() as f64 / n as f64,
            h.bucket.len()
        );
    }
    Ok(())
}
