//! Measures worker-side histogram binning of 1e7 values: four distributions (N(0, 0.02)
//! "weights", N(0, 1e-4) "gradients", uniform on [-1, 1), and a heavy-tailed mix), each
//! as float32, float16, bfloat16 and float64 with torch's default edges, and float32 with
//! 64 explicit uniform edges.
//!
//!     cargo run --release --example histogram_bench [-- ROUNDS [FILTER]]
//!
//! FILTER keeps the rows whose "distribution dtype bins" contains it (e.g. "f32 default").
//! The first row is the floor: one read of the float32 array (a sum).
//!
//! `bin` is `histogram()` as the worker runs it while training goes on (the binning pool:
//! one thread fewer than the machine has); `waiting` as it runs for a batch a caller
//! blocked in flush()/close() waits for (every core). Medians of ROUNDS rounds (default
//! 5). "values/ns/core" divides the values by the CPU time the process spent (every
//! thread, spinning included), which a busy shared machine distorts far less than wall
//! time; wall time is shown too.
use _core::runtime::pools::{binning_threads, with_caller_waiting};
use _core::summary::histogram::{histogram, Bins};
use _core::summary::raw_array::{DType, RawArray};
use std::time::{Duration, Instant};

const N: usize = 10_000_000;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform on [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn distribution(name: &str) -> Vec<f64> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    (0..N)
        .map(|_| match name {
            "N(0,0.02)" => 0.02 * rng.normal(),
            "N(0,1e-4)" => 1e-4 * rng.normal(),
            "uniform" => 2.0 * rng.uniform() - 1.0,
            // Mostly small gradients, a few large ones, some exact zeros.
            _ => match rng.next_u64() % 100 {
                0..=79 => 1e-3 * rng.normal(),
                80..=94 => 0.0,
                _ => rng.normal() / (rng.uniform() + 1e-6),
            },
        })
        .collect()
}

fn array(values: &[f64], dtype: DType) -> Result<RawArray, Box<dyn std::error::Error>> {
    let bytes: Vec<u8> = match dtype {
        DType::Float32 => values
            .iter()
            .flat_map(|&v| (v as f32).to_ne_bytes())
            .collect(),
        DType::Float16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f64(v).to_bits().to_ne_bytes())
            .collect(),
        DType::BFloat16 => values
            .iter()
            .flat_map(|&v| half::bf16::from_f64(v).to_bits().to_ne_bytes())
            .collect(),
        _ => values.iter().flat_map(|&v| v.to_ne_bytes()).collect(),
    };
    Ok(RawArray::copy_from(
        dtype,
        vec![values.len() as i64],
        &bytes,
    )?)
}

/// CPU time of the whole process (every thread).
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and CPU time of `f`.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let r = f();
    (r, wall.elapsed(), cpu_time().saturating_sub(cpu))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5)
        .max(1);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let (bin_threads, all_threads) = (
        binning_threads(),
        with_caller_waiting(true, binning_threads),
    );
    println!(
        "1e7 values, {rounds} rounds; binning pool {bin_threads} thread(s), \
         with a caller waiting {all_threads}"
    );
    println!(
        "| distribution | dtype | bins | bin: wall ms | bin: values/ns/core | waiting: wall ms \
         | waiting: values/ns/core |"
    );
    println!("|---|---|---|---|---|---|---|");
    {
        let floor: Vec<f32> = distribution("uniform").iter().map(|&v| v as f32).collect();
        let mut cpu = vec![];
        let mut wall = vec![];
        for _ in 0..rounds {
            // Integer adds of the bits: vectorized, so memory bandwidth bounds it.
            let (s, w, c) = timed(|| {
                floor
                    .iter()
                    .fold(0u32, |acc, v| acc.wrapping_add(v.to_bits()))
            });
            std::hint::black_box(s);
            wall.push(w);
            cpu.push(c);
        }
        println!(
            "| floor: one read of 1e7 f32, one thread | f32 | - | {:.2} | {:.2} | - | - |",
            median(wall).as_secs_f64() * 1e3,
            N as f64 / median(cpu).as_nanos().max(1) as f64
        );
    }
    let uniform64: Vec<f64> = (0..=64).map(|i| -1.0 + i as f64 / 32.0).collect();
    for name in ["N(0,0.02)", "N(0,1e-4)", "uniform", "heavy-tailed"] {
        let values = distribution(name);
        let cases = [
            (DType::Float32, "f32", Bins::Default, "default"),
            (DType::Float16, "f16", Bins::Default, "default"),
            (DType::BFloat16, "bf16", Bins::Default, "default"),
            (DType::Float64, "f64", Bins::Default, "default"),
            (
                DType::Float32,
                "f32",
                Bins::Edges(uniform64.clone()),
                "64 explicit",
            ),
        ];
        for (dtype, dtype_name, bins, bins_name) in cases {
            if !format!("{name} {dtype_name} {bins_name}").contains(&filter) {
                continue;
            }
            let raw = array(&values, dtype)?;
            histogram(&raw, &bins, None)?; // warm-up: tables, pools, page faults
            let (mut bin, mut bin_cpu, mut waiting, mut waiting_cpu) =
                (vec![], vec![], vec![], vec![]);
            for _ in 0..rounds {
                let (h, wall, cpu) = timed(|| histogram(&raw, &bins, None));
                std::hint::black_box(h?);
                bin.push(wall);
                bin_cpu.push(cpu);
                let (h, wall, cpu) =
                    timed(|| with_caller_waiting(true, || histogram(&raw, &bins, None)));
                std::hint::black_box(h?);
                waiting.push(wall);
                waiting_cpu.push(cpu);
            }
            let per_ns = |cpu: Vec<Duration>| N as f64 / median(cpu).as_nanos().max(1) as f64;
            println!(
                "| {name} | {dtype_name} | {bins_name} | {:.2} | {:.2} | {:.2} | {:.2} |",
                median(bin).as_secs_f64() * 1e3,
                per_ns(bin_cpu),
                median(waiting).as_secs_f64() * 1e3,
                per_ns(waiting_cpu),
            );
        }
    }
    Ok(())
}
