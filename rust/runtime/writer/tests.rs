use super::*;
use crate::format::tf_record::{read_records, ReadStop};
use crate::summary::job::JobKind;
use std::path::Path;

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

fn config(dir: &Path) -> WriterConfig {
    WriterConfig {
        dir: dir.to_owned(),
        filename_suffix: String::new(),
        max_queue: 10,
        flush_secs: 120.0,
        max_pending_bytes: 1 << 30,
        remote: None,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferroboard-writer-{name}-{}-{}",
        std::process::id(),
        crate::format::event_file::now_secs()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(dir: &Path, faults: &str) -> EventWriter {
    EventWriter::open_with_faults(config(dir), Faults::parse(faults).unwrap()).unwrap()
}

/// Steps of every scalar in the file; asserts the file is made of whole records.
fn steps(path: &Path) -> Vec<i64> {
    use prost::Message;
    let data = std::fs::read(path).unwrap();
    let (records, stop) = read_records(&data);
    assert_eq!(stop, ReadStop::Clean, "{}", path.display());
    let events: Vec<crate::format::proto::Event> = records
        .iter()
        .map(|r| crate::format::proto::Event::decode(*r).unwrap())
        .collect();
    assert_eq!(
        events[0].what,
        Some(crate::format::proto::EventWhat::FileVersion(
            "brain.Event:2".into()
        ))
    );
    events[1..].iter().map(|e| e.step).collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn short_write_is_cut_back_and_the_error_sticks() {
    let dir = temp_dir("short");
    let w = open(&dir, "short@write:2:20");
    for i in 0..5 {
        w.try_submit(scalar(i)).unwrap();
    }
    w.flush().unwrap();
    for i in 5..10 {
        w.try_submit(scalar(i)).unwrap();
    }
    let err = w.flush().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("5 accepted event(s) not saved"), "{text}");
    assert!(text.contains(&w.path().display().to_string()), "{text}");
    // Every later call raises the same error, promptly.
    match w.try_submit(scalar(99)) {
        Err(e) => assert_eq!(e.to_string(), text),
        Ok(_) => panic!("a job was accepted after the failure"),
    }
    assert_eq!(w.flush().unwrap_err().to_string(), text);
    assert_eq!(w.close().unwrap_err().to_string(), text);
    assert_eq!(w.close().unwrap_err().to_string(), text);
    assert_eq!(steps(&w.path()), vec![0, 1, 2, 3, 4]);
}

#[test]
fn fsync_failure_is_reported_by_flush() {
    let dir = temp_dir("fsync");
    let w = open(&dir, "eio@fsync:2");
    w.try_submit(scalar(0)).unwrap();
    w.flush().unwrap();
    w.try_submit(scalar(1)).unwrap();
    let err = w.flush().unwrap_err();
    assert!(
        matches!(&err, FerroError::Io { source, lost: 1, .. }
        if source.raw_os_error() == Some(libc::EIO)),
        "{err}"
    );
}

#[test]
fn blocked_callers_wake_when_the_worker_dies() {
    let dir = temp_dir("blocked");
    let mut cfg = config(&dir);
    cfg.max_pending_bytes = 1000;
    let w = Arc::new(
        EventWriter::open_with_faults(cfg, Faults::parse("slow@write:50ms,eio@write:3-").unwrap())
            .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let w = Arc::clone(&w);
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    let mut job = scalar(i);
                    job.step = Some(t * 100_000 + i);
                    if w.submit_blocking(job).is_err() {
                        return i;
                    }
                }
                -1
            })
        })
        .collect();
    for t in threads {
        let stopped_at = t.join().unwrap();
        assert!(
            stopped_at >= 0,
            "a producer was never told about the failure"
        );
    }
    assert!(w.close().is_err());
}

#[test]
fn deleted_file_is_replaced_and_the_batch_rewritten() {
    let dir = temp_dir("deleted");
    let w = open(&dir, "");
    for i in 0..3 {
        w.try_submit(scalar(i)).unwrap();
    }
    w.flush().unwrap();
    let first = w.path();
    std::fs::remove_file(&first).unwrap();
    for i in 3..6 {
        w.try_submit(scalar(i)).unwrap();
    }
    w.flush().unwrap();
    let second = w.path();
    assert_ne!(first, second);
    assert!(second > first, "the new name must sort after the old one");
    assert!(w.has_notices());
    let notices = w.take_notices();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].contains(&first.display().to_string()),
        "{notices:?}"
    );
    w.close().unwrap();
    assert_eq!(steps(&second), vec![3, 4, 5]);
    assert_eq!(files(&dir), vec![second]);
}

#[test]
fn deleted_directory_is_created_again() {
    let dir = temp_dir("rmtree");
    let logdir = dir.join("run");
    let w = open(&logdir, "");
    w.try_submit(scalar(0)).unwrap();
    w.flush().unwrap();
    std::fs::remove_dir_all(&logdir).unwrap();
    w.try_submit(scalar(1)).unwrap();
    w.close().unwrap();
    assert_eq!(steps(&w.path()), vec![1]);
    assert!(w.path().starts_with(&logdir));
}

#[test]
fn moved_file_keeps_its_records_and_later_ones_go_to_a_new_file() {
    let dir = temp_dir("moved");
    let w = open(&dir, "");
    w.try_submit(scalar(0)).unwrap();
    w.flush().unwrap();
    let first = w.path();
    let moved = dir.join("moved.tfevents");
    std::fs::rename(&first, &moved).unwrap();
    w.try_submit(scalar(1)).unwrap();
    w.flush().unwrap();
    w.try_submit(scalar(2)).unwrap();
    w.close().unwrap();
    assert_eq!(steps(&moved), vec![0, 1]);
    assert_eq!(steps(&w.path()), vec![2]);
}

#[test]
fn failed_replacement_is_an_error_naming_the_directory() {
    let dir = temp_dir("noreplace");
    let w = open(&dir, "eio@open:2");
    w.try_submit(scalar(0)).unwrap();
    w.flush().unwrap();
    std::fs::remove_file(w.path()).unwrap();
    w.try_submit(scalar(1)).unwrap();
    let err = w.flush().unwrap_err().to_string();
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(err.contains("1 accepted event(s) not saved"), "{err}");
}

#[test]
fn events_reach_the_file_within_the_batch_window_after_a_write() {
    // Once something is written but not yet fsync'd, later events must not wait for
    // the fsync deadline (flush_secs) to be written.
    let dir = temp_dir("stale");
    let w = open(&dir, "");
    w.try_submit(scalar(0)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for i in 1..4 {
        w.try_submit(scalar(i)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(steps(&w.path()), vec![0, 1, 2, 3]);
    w.close().unwrap();
}

fn large_histogram(step: i64) -> Job {
    use crate::summary::histogram::Bins;
    use crate::summary::job::HistogramJob;
    use crate::summary::raw_array::{DType, RawArray};
    let values: Vec<u8> = (0..20_000)
        .flat_map(|i| f64::to_ne_bytes(i as f64))
        .collect();
    let values = RawArray::copy_from(DType::Float64, vec![20_000], &values).unwrap();
    assert!(values.nbytes() >= LARGE_JOB_BYTES);
    Job {
        step: Some(step),
        wall_time: 1.0,
        kind: JobKind::Histogram(Box::new(HistogramJob {
            tag: "h".into(),
            values,
            bins: Bins::Default,
            max_bins: None,
        })),
    }
}

#[test]
fn a_burst_that_never_ends_still_reaches_the_file() {
    // The worker holds back while large jobs keep arriving, but only for
    // MAX_BURST_DEFER: a stream with no quiet gap must not starve the file.
    let dir = temp_dir("burst");
    let w = open(&dir, "");
    let start = Instant::now();
    let mut step = 0;
    while start.elapsed() < MAX_BURST_DEFER * 4 {
        assert!(w.try_submit(large_histogram(step)).unwrap().is_none());
        step += 1;
        std::thread::sleep(BURST_QUIET / 4);
    }
    let written = steps(&w.path());
    assert!(
        written.first() == Some(&0),
        "nothing written {:?} after a {:?} burst of {step} large jobs",
        start.elapsed(),
        MAX_BURST_DEFER * 4
    );
    w.close().unwrap();
    assert_eq!(steps(&w.path()), (0..step).collect::<Vec<_>>());
}

#[test]
fn an_idle_writer_frees_snapshot_buffers_no_one_reused() {
    // Other tests share the process-wide pool, but they only add newer buffers: what
    // is checked is that nothing cached before `cached_by` outlives the idle time.
    let max_idle = Duration::from_millis(200);
    snapshot_pool::set_max_idle(max_idle);
    let dir = temp_dir("pool");
    let w = open(&dir, "");
    assert!(w.try_submit(large_histogram(0)).unwrap().is_none());
    w.flush().unwrap(); // encoded: its buffer is back in the pool
    let cached_by = Instant::now();
    assert!(snapshot_pool::next_release_waiting().is_some());
    std::thread::sleep(max_idle * 5);
    let next = snapshot_pool::next_release_waiting();
    assert!(
        next.is_none_or(|t| t > cached_by + max_idle),
        "a buffer cached {:?} ago is still kept",
        next.map(|t| t.elapsed() + max_idle)
    );
    w.close().unwrap();
}

#[test]
fn an_event_that_runs_out_of_memory_is_dropped_and_the_rest_written() {
    let dir = temp_dir("oom");
    let w = open(&dir, "oom@encode:2");
    for i in 0..4 {
        w.try_submit(scalar(i)).unwrap();
    }
    w.close().unwrap();
    assert_eq!(steps(&w.path()), vec![0, 2, 3]);
    assert_eq!(w.dropped().unwrap(), 1);
    let notices = w.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("dropped an event (tag \"s\", step 1)")
            && notices[0].contains("out of memory"),
        "{notices:?}"
    );
}

#[test]
fn oversized_events_are_dropped_and_reported() {
    let dir = temp_dir("oversized");
    let w = open(&dir, "max_event_bytes:50");
    assert_eq!(w.max_event_bytes(), 50);
    let big = Job {
        step: Some(1),
        wall_time: 1.0,
        kind: JobKind::Text {
            tag: "t".into(),
            text: "x".repeat(100),
        },
    };
    w.try_submit(scalar(0)).unwrap();
    w.try_submit(big).unwrap();
    w.try_submit(scalar(2)).unwrap();
    w.close().unwrap();
    assert_eq!(steps(&w.path()), vec![0, 2]);
    let notices = w.take_notices();
    assert!(
        notices.iter().any(|n| n.contains("dropped an event of")),
        "{notices:?}"
    );
}

// -- reserved slots (values that arrive later, docs/gpu.md) ------------------------------

/// A scalar job whose step and wall time the slot replaces.
fn filling(value: f64) -> Job {
    Job {
        step: None,
        wall_time: 0.0,
        kind: JobKind::Scalar {
            tag: "s".into(),
            value,
            new_style: false,
            double_precision: false,
        },
    }
}

#[test]
fn a_reserved_slot_holds_back_later_events_until_it_is_filled() {
    let dir = temp_dir("reserve-order");
    let w = open(&dir, "");
    w.try_submit(scalar(0)).unwrap();
    let slot = w.reserve(Some(1), 5.0).unwrap();
    w.try_submit(scalar(2)).unwrap();
    w.try_submit(scalar(3)).unwrap();
    // flush() covers what precedes the unfilled slot, and returns without it.
    w.flush().unwrap();
    assert_eq!(steps(&w.path()), vec![0]);
    assert_eq!(w.unfilled().unwrap(), 1);
    w.fill(slot, filling(1.0)).unwrap();
    w.flush().unwrap();
    assert_eq!(steps(&w.path()), vec![0, 1, 2, 3]);
    assert_eq!(w.unfilled().unwrap(), 0);
    w.close().unwrap();
}

#[test]
fn slots_filled_out_of_order_are_written_in_reservation_order() {
    let dir = temp_dir("reserve-ooo");
    let w = open(&dir, "");
    let slots: Vec<u64> = (0..5).map(|i| w.reserve(Some(i), 1.0).unwrap()).collect();
    for &i in &[3usize, 1, 4, 0] {
        w.fill(slots[i], filling(i as f64)).unwrap();
    }
    w.flush().unwrap();
    assert_eq!(steps(&w.path()), vec![0, 1]);
    w.fill(slots[2], filling(2.0)).unwrap();
    w.close().unwrap();
    assert_eq!(steps(&w.path()), vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_slot_takes_the_step_and_wall_time_of_its_reservation() {
    use prost::Message;
    let dir = temp_dir("reserve-time");
    let w = open(&dir, "");
    let slot = w.reserve(Some(7), 123.5).unwrap();
    let mut job = filling(2.0);
    job.step = Some(99);
    job.wall_time = 999.0;
    w.fill(slot, job).unwrap();
    w.close().unwrap();
    let data = std::fs::read(w.path()).unwrap();
    let (records, _) = read_records(&data);
    let event = crate::format::proto::Event::decode(records[1]).unwrap();
    assert_eq!((event.step, event.wall_time), (7, 123.5));
}

#[test]
fn cancelled_slots_write_nothing_and_a_slot_is_filled_once() {
    let dir = temp_dir("reserve-cancel");
    let w = open(&dir, "");
    let a = w.reserve(Some(0), 1.0).unwrap();
    let b = w.reserve(Some(1), 1.0).unwrap();
    w.try_submit(scalar(2)).unwrap();
    assert!(w.cancel(a).unwrap());
    assert!(!w.cancel(a).unwrap(), "a slot is cancelled once");
    w.fill(b, filling(1.0)).unwrap();
    let again = w.fill(b, filling(1.0)).unwrap_err().to_string();
    assert!(again.contains(&format!("slot {b}")), "{again}");
    assert!(w.fill(1000, filling(1.0)).is_err(), "never reserved");
    w.flush().unwrap();
    assert_eq!(steps(&w.path()), vec![1, 2]);
    assert_eq!(w.cancelled().unwrap(), 1);
    w.close().unwrap();
}

#[test]
fn close_cancels_unfilled_slots_with_a_count_and_writes_the_rest() {
    let dir = temp_dir("reserve-close");
    let w = open(&dir, "");
    w.try_submit(scalar(0)).unwrap();
    let slot = w.reserve(Some(1), 1.0).unwrap();
    w.reserve(Some(2), 1.0).unwrap();
    w.try_submit(scalar(3)).unwrap();
    w.close().unwrap(); // never waits for the missing values
    assert_eq!(steps(&w.path()), vec![0, 3]);
    assert_eq!(w.cancelled().unwrap(), 2);
    let notices = w.take_notices();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("2 event(s)") && n.contains("closed")),
        "{notices:?}"
    );
    assert!(w.fill(slot, filling(1.0)).is_err(), "closed");
}

#[test]
fn events_behind_a_slot_do_not_block_their_caller_on_the_budget() {
    // The budget is exceeded by jobs waiting behind the slot; the worker cannot write
    // them, so a caller waiting for room would wait forever (G5).
    let dir = temp_dir("reserve-budget");
    let mut cfg = config(&dir);
    cfg.max_pending_bytes = 1000;
    let w = EventWriter::open_with_faults(cfg, Faults::default()).unwrap();
    let slot = w.reserve(Some(0), 1.0).unwrap();
    for i in 1..100 {
        w.submit_blocking(scalar(i)).unwrap();
    }
    w.fill(slot, filling(0.0)).unwrap();
    w.close().unwrap();
    assert_eq!(steps(&w.path()), (0..100).collect::<Vec<_>>());
}
