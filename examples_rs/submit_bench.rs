//! Measures the caller side of `EventWriter::try_submit` without Python in the way.
use _core::runtime::writer::{EventWriter, WriterConfig};
use _core::summary::job::{Job, JobKind};
use std::time::Instant;

fn job(i: i64) -> Job {
    Job {
        step: Some(i),
        wall_time: _core::format::event_file::now_secs(),
        kind: JobKind::Scalar {
            tag: "loss".into(),
            value: 0.5,
            new_style: false,
            double_precision: false,
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("ferroboard-submit-bench");
    let n = 1_000_000;
    let t = Instant::now();
    let mut keep = Vec::with_capacity(n);
    for i in 0..n as i64 {
        keep.push(job(i));
    }
    println!("size_of Job = {}", std::mem::size_of::<Job>());
    println!(
        "build jobs only: {:.0} ns/job",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    drop(keep);
    let w = EventWriter::open(WriterConfig {
        dir,
        filename_suffix: String::new(),
        max_queue: 10,
        flush_secs: 120.0,
        max_pending_bytes: 1 << 30,
        remote: None,
    })?;
    for round in 0..3 {
        let t = Instant::now();
        for i in 0..n as i64 {
            let _ = w.try_submit(job(i))?;
        }
        println!(
            "round {round}: {:.0} ns/submit",
            t.elapsed().as_nanos() as f64 / n as f64
        );
    }
    let t = Instant::now();
    w.close()?;
    println!("close {:?}", t.elapsed());
    Ok(())
}
