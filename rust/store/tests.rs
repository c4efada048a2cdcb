//! A remote writer end to end against `memory://` and an unreachable S3 endpoint.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prost::Message;

use super::recover;
use super::segments::PUBLISHES_PER_SEGMENT;
use super::url::RemoteDir;
use super::RemoteConfig;
use crate::format::proto::Event;
use crate::format::tf_record::{read_records, ReadStop};
use crate::runtime::writer::{EventWriter, WriterConfig};
use crate::summary::job::{Job, JobKind};

fn scalar(step: i64) -> Job {
    Job {
        step: Some(step),
        wall_time: 1.0,
        kind: JobKind::Scalar {
            tag: "s".into(),
            value: step as f64,
            new_style: false,
            double_precision: false,
        },
    }
}

fn unique_url(scheme_bucket: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{scheme_bucket}/run-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn open(url: &str, options: Vec<(String, String)>, close_timeout: Duration) -> EventWriter {
    EventWriter::open(WriterConfig {
        dir: "unused".into(),
        filename_suffix: ".v2".into(),
        max_queue: 10,
        flush_secs: 0.01,
        max_pending_bytes: 1 << 30,
        remote: Some(RemoteConfig {
            dir: RemoteDir::parse(url, options).unwrap(),
            close_timeout,
        }),
    })
    .unwrap()
}

/// Steps of every event of one object, which must be a whole event file.
fn steps(object: &[u8]) -> Vec<i64> {
    let (records, stop) = read_records(object);
    assert_eq!(stop, ReadStop::Clean);
    let events: Vec<Event> = records.iter().map(|r| Event::decode(*r).unwrap()).collect();
    assert!(matches!(
        events[0].what,
        Some(crate::format::proto::EventWhat::FileVersion(_))
    ));
    events[1..].iter().map(|e| e.step).collect()
}

#[test]
fn memory_store_gets_every_event_in_order_in_sealed_segments() {
    let url = unique_url("memory://unit");
    let w = open(&url, vec![], Duration::from_secs(30));
    let staging = w.path().parent().unwrap().to_owned();
    let mut step = 0;
    for _ in 0..20 {
        for _ in 0..3 {
            w.try_submit(scalar(step)).unwrap();
            step += 1;
        }
        w.flush().unwrap();
        std::thread::sleep(Duration::from_millis(15));
    }
    w.close().unwrap();
    let objects = recover::list(&url, &[]).unwrap();
    assert!(
        objects.len() as u64 >= 20 / PUBLISHES_PER_SEGMENT,
        "{objects:?}"
    );
    let mut all = Vec::new();
    for (i, (name, _)) in objects.iter().enumerate() {
        assert!(name.ends_with(&format!(".{i:06}.v2")), "{name}");
        all.extend(steps(&recover::read(&url, &[], name).unwrap()));
    }
    assert_eq!(all, (0..step).collect::<Vec<_>>());
    assert!(!staging.exists(), "staging kept after a complete upload");
}

#[test]
fn an_unreachable_store_makes_close_fail_naming_url_staging_and_count() {
    // Port 1 on loopback refuses connections at once.
    let options = vec![
        ("endpoint".to_owned(), "http://127.0.0.1:1".to_owned()),
        ("aws_access_key_id".to_owned(), "k".to_owned()),
        ("aws_secret_access_key".to_owned(), "s".to_owned()),
        ("aws_region".to_owned(), "us-east-1".to_owned()),
    ];
    let url = unique_url("s3://nowhere");
    let w = open(&url, options, Duration::from_millis(500));
    for i in 0..5 {
        w.try_submit(scalar(i)).unwrap();
    }
    w.flush().unwrap(); // the local guarantee holds without the store
    let staging = w.path().parent().unwrap().to_owned();
    let err = w.close().unwrap_err().to_string();
    assert!(err.contains(&url), "{err}");
    assert!(err.contains(&staging.display().to_string()), "{err}");
    assert!(err.contains("5 accepted event(s) not stored"), "{err}");
    // The staging files are kept, whole, for `ferroboard.sync`.
    let segment = std::fs::read(w.path()).unwrap();
    assert_eq!(steps(&segment), vec![0, 1, 2, 3, 4]);
    assert!(Path::new(&staging).join(super::staging::SIDECAR).exists());
    // Closing again reports the same loss.
    let again = w.close().unwrap_err().to_string();
    assert!(again.contains("5 accepted event(s) not stored"), "{again}");
    std::fs::remove_dir_all(staging).unwrap();
}

#[test]
fn close_right_after_writing_still_publishes_the_last_events() {
    // close() may arrive while the worker runs an ordinary iteration; the last publish
    // must still be asked for.
    for _ in 0..30 {
        let url = unique_url("memory://unit");
        let w = open(&url, vec![], Duration::from_secs(30));
        w.try_submit(scalar(0)).unwrap();
        w.flush().unwrap();
        w.try_submit(scalar(1)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        w.close().unwrap();
        let objects = recover::list(&url, &[]).unwrap();
        let mut all = Vec::new();
        for (name, _) in &objects {
            all.extend(steps(&recover::read(&url, &[], name).unwrap()));
        }
        assert_eq!(all, vec![0, 1]);
    }
}
