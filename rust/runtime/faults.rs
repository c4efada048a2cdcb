//! Deterministic fault injection for the reliability tests. **Test builds only.**
//!
//! Built only with the cargo feature `fault-injection` (and in `cargo test`). In every
//! other build — the wheels users install — [`Faults`] is an empty struct whose checks
//! compile to nothing, and the environment variable below is never read.
//!
//! In a fault-injection build, `FERROBOARD_FAULTS` (read when a writer opens) holds
//! comma-separated rules. Calls are counted per process (all writers together, across
//! reopened files), so "the 3rd write" means the same thing however many writers a test
//! opens; `Faults::parse` gives a plan with its own counts (for Rust tests).
//!
//! | rule                 | effect                                                          |
//! |----------------------|-----------------------------------------------------------------|
//! | `ERR@OP:N`           | the N-th OP fails with ERR (`enospc`, `eio`, `efbig`)           |
//! | `ERR@OP:N-M`, `N-`   | calls N to M (or N onwards) fail                                |
//! | `short@write:N:K`    | the N-th write stores only K bytes, then fails with ENOSPC      |
//! | `slow@OP:D`          | every OP first sleeps D (`20ms`, `1s`)                          |
//! | `hold@lock:N:D`      | the worker sleeps D holding its state lock, at its N-th batch   |
//! | `oom@encode:N`       | encoding the N-th event (or N-M, N-) runs out of memory: its    |
//! |                      | first fallible allocation on the writer thread fails            |
//! | `max_event_bytes:B`  | events of B bytes or more are rejected (instead of 2 GiB)       |
//!
//! OP is `open` (creating an event file), `write` (one batch of records), `fsync`,
//! `lock` (the worker taking a batch) or `encode` (the worker encoding one event).

use std::time::Duration;

/// Operations a fault can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Open,
    Write,
    Fsync,
    Lock,
    Encode,
}

/// What an injected fault does to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Fail with this errno, writing nothing.
    Fail(i32),
    /// Write this many bytes of the buffer, then fail with ENOSPC.
    Short(usize),
    /// Sleep, then carry on (done by `Faults::next` itself, never returned).
    Sleep(Duration),
    /// The next fallible allocation fails (see `fallible`).
    OutOfMemory,
}

#[cfg(any(test, feature = "fault-injection"))]
mod enabled {
    use super::{Action, Op};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// The environment variable holding the rules.
    pub const ENV_VAR: &str = "FERROBOARD_FAULTS";

    #[derive(Clone, Debug)]
    struct Rule {
        op: Op,
        first: u64,
        last: u64,
        action: Action,
    }

    type Counts = [AtomicU64; 5];

    /// A fault plan and how many times each operation has run.
    #[derive(Clone, Debug, Default)]
    pub struct Faults {
        rules: Vec<Rule>,
        max_event_bytes: Option<usize>,
        counts: Arc<Counts>,
    }

    /// The counts shared by every plan read from the environment.
    fn process_counts() -> Arc<Counts> {
        static COUNTS: std::sync::OnceLock<Arc<Counts>> = std::sync::OnceLock::new();
        Arc::clone(COUNTS.get_or_init(Arc::default))
    }

    fn op_index(op: Op) -> usize {
        match op {
            Op::Open => 0,
            Op::Write => 1,
            Op::Fsync => 2,
            Op::Lock => 3,
            Op::Encode => 4,
        }
    }

    fn parse_op(s: &str) -> Result<Op, String> {
        match s {
            "open" => Ok(Op::Open),
            "write" => Ok(Op::Write),
            "fsync" => Ok(Op::Fsync),
            "lock" => Ok(Op::Lock),
            "encode" => Ok(Op::Encode),
            _ => Err(format!("unknown operation {s:?}")),
        }
    }

    fn parse_errno(s: &str) -> Option<i32> {
        match s {
            "enospc" => Some(libc::ENOSPC),
            "eio" => Some(libc::EIO),
            "efbig" => Some(libc::EFBIG),
            _ => None,
        }
    }

    fn parse_count(s: &str) -> Result<u64, String> {
        s.parse().map_err(|_| format!("bad count {s:?}"))
    }

    fn parse_range(s: &str) -> Result<(u64, u64), String> {
        match s.split_once('-') {
            None => {
                let n = parse_count(s)?;
                Ok((n, n))
            }
            Some((a, "")) => Ok((parse_count(a)?, u64::MAX)),
            Some((a, b)) => Ok((parse_count(a)?, parse_count(b)?)),
        }
    }

    fn parse_duration(s: &str) -> Result<Duration, String> {
        let bad = || format!("bad duration {s:?} (use e.g. 20ms or 2s)");
        if let Some(ms) = s.strip_suffix("ms") {
            return ms.parse().map(Duration::from_millis).map_err(|_| bad());
        }
        if let Some(secs) = s.strip_suffix('s') {
            return secs
                .parse::<f64>()
                .ok()
                .and_then(|v| Duration::try_from_secs_f64(v).ok())
                .ok_or_else(bad);
        }
        Err(bad())
    }

    impl Faults {
        /// No faults.
        pub fn none() -> Faults {
            Faults::default()
        }

        /// The plan in `FERROBOARD_FAULTS`, or none. A malformed plan is reported on
        /// stderr and ignored (this only ever runs in test builds).
        pub fn from_env() -> Faults {
            match std::env::var(ENV_VAR) {
                Ok(spec) if !spec.trim().is_empty() => match Faults::parse(&spec) {
                    Ok(mut faults) => {
                        faults.counts = process_counts();
                        faults
                    }
                    Err(e) => {
                        eprintln!("ferroboard: ignoring {ENV_VAR}={spec:?}: {e}");
                        Faults::none()
                    }
                },
                _ => Faults::none(),
            }
        }

        /// Parses rules in the syntax of the module documentation.
        pub fn parse(spec: &str) -> Result<Faults, String> {
            let mut faults = Faults::none();
            for rule in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                if let Some(b) = rule.strip_prefix("max_event_bytes:") {
                    faults.max_event_bytes =
                        Some(b.parse().map_err(|_| format!("bad byte count {b:?}"))?);
                    continue;
                }
                let (kind, rest) = rule
                    .split_once('@')
                    .ok_or_else(|| format!("rule {rule:?} has no '@'"))?;
                let mut parts = rest.split(':');
                let op = parse_op(parts.next().unwrap_or(""))?;
                let args: Vec<&str> = parts.collect();
                let parsed = match (kind, args.as_slice()) {
                    ("slow", [d]) => Rule {
                        op,
                        first: 1,
                        last: u64::MAX,
                        action: Action::Sleep(parse_duration(d)?),
                    },
                    ("hold", [n, d]) if op == Op::Lock => {
                        let (first, last) = parse_range(n)?;
                        Rule {
                            op,
                            first,
                            last,
                            action: Action::Sleep(parse_duration(d)?),
                        }
                    }
                    ("oom", [n]) if op == Op::Encode => {
                        let (first, last) = parse_range(n)?;
                        Rule {
                            op,
                            first,
                            last,
                            action: Action::OutOfMemory,
                        }
                    }
                    ("short", [n, k]) if op == Op::Write => {
                        let (first, last) = parse_range(n)?;
                        Rule {
                            op,
                            first,
                            last,
                            action: Action::Short(
                                k.parse().map_err(|_| format!("bad byte count {k:?}"))?,
                            ),
                        }
                    }
                    (err, [n]) => {
                        let errno =
                            parse_errno(err).ok_or_else(|| format!("unknown fault {err:?}"))?;
                        let (first, last) = parse_range(n)?;
                        Rule {
                            op,
                            first,
                            last,
                            action: Action::Fail(errno),
                        }
                    }
                    _ => return Err(format!("cannot parse rule {rule:?}")),
                };
                faults.rules.push(parsed);
            }
            Ok(faults)
        }

        /// Counts one call of `op`, sleeps as the plan says (delays add up), and returns
        /// the failure to inject into it, if any.
        pub fn next(&mut self, op: Op) -> Option<Action> {
            let n = self.counts[op_index(op)].fetch_add(1, Ordering::Relaxed) + 1;
            let mut failure = None;
            for rule in self
                .rules
                .iter()
                .filter(|r| r.op == op && r.first <= n && n <= r.last)
            {
                match rule.action {
                    Action::Sleep(d) => std::thread::sleep(d),
                    action => failure = failure.or(Some(action)),
                }
            }
            failure
        }

        /// A lower limit for one event's size, if the plan sets one.
        pub fn max_event_bytes(&self) -> Option<usize> {
            self.max_event_bytes
        }
    }
}

#[cfg(any(test, feature = "fault-injection"))]
pub use enabled::{Faults, ENV_VAR};

/// The production stand-in: no state, no faults, nothing read from the environment.
#[cfg(not(any(test, feature = "fault-injection")))]
#[derive(Clone, Debug, Default)]
pub struct Faults;

#[cfg(not(any(test, feature = "fault-injection")))]
impl Faults {
    #[inline(always)]
    pub fn none() -> Faults {
        Faults
    }

    #[inline(always)]
    pub fn from_env() -> Faults {
        Faults
    }

    #[inline(always)]
    pub fn next(&mut self, _op: Op) -> Option<Action> {
        None
    }

    #[inline(always)]
    pub fn max_event_bytes(&self) -> Option<usize> {
        None
    }
}

/// Whether this build honours `FERROBOARD_FAULTS` (tests skip what needs it otherwise).
pub const ENABLED: bool = cfg!(any(test, feature = "fault-injection"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_per_operation() {
        let mut f = Faults::parse("enospc@write:2, eio@fsync:1-2,efbig@open:3-").unwrap();
        assert_eq!(f.next(Op::Write), None);
        assert_eq!(f.next(Op::Write), Some(Action::Fail(libc::ENOSPC)));
        assert_eq!(f.next(Op::Write), None);
        assert_eq!(f.next(Op::Fsync), Some(Action::Fail(libc::EIO)));
        assert_eq!(f.next(Op::Fsync), Some(Action::Fail(libc::EIO)));
        assert_eq!(f.next(Op::Fsync), None);
        assert_eq!(f.next(Op::Open), None);
        assert_eq!(f.next(Op::Open), None);
        for _ in 0..5 {
            assert_eq!(f.next(Op::Open), Some(Action::Fail(libc::EFBIG)));
        }
    }

    #[test]
    fn parses_short_slow_hold_and_limits() {
        let mut f = Faults::parse(
            "short@write:1:20,slow@fsync:30ms,hold@lock:2:0.1s,eio@fsync:2,max_event_bytes:99",
        )
        .unwrap();
        assert_eq!(f.next(Op::Write), Some(Action::Short(20)));
        let t = std::time::Instant::now();
        assert_eq!(f.next(Op::Fsync), None);
        assert!(t.elapsed() >= Duration::from_millis(30));
        // A delay and a failure on the same call: both happen.
        let t = std::time::Instant::now();
        assert_eq!(f.next(Op::Fsync), Some(Action::Fail(libc::EIO)));
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert_eq!(f.next(Op::Lock), None);
        let t = std::time::Instant::now();
        assert_eq!(f.next(Op::Lock), None);
        assert!(t.elapsed() >= Duration::from_millis(100));
        assert_eq!(f.max_event_bytes(), Some(99));
    }

    #[test]
    fn out_of_memory_hits_the_named_encodes() {
        let mut f = Faults::parse("oom@encode:2,oom@encode:4-5").unwrap();
        let hits: Vec<bool> = (0..6)
            .map(|_| f.next(Op::Encode) == Some(Action::OutOfMemory))
            .collect();
        assert_eq!(hits, [false, true, false, true, true, false]);
        assert_eq!(f.next(Op::Write), None);
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            "enospc",
            "bogus@write:1",
            "enospc@disk:1",
            "short@fsync:1:2",
            "slow@write:5",
            "oom@write:1",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Faults::parse("").unwrap().next(Op::Write), None);
    }
}
