//! Places in file order reserved for events whose values arrive later (docs/gpu.md).
//!
//! A caller that logs a value still being computed on a GPU reserves a slot at the call:
//! the event's step and wall time are fixed then, and so is its position among the
//! writer's events. Its values come later (`fill`), or never (`cancel`: a device error,
//! a close that could not wait). Jobs accepted after the first unfilled slot wait here,
//! in order, behind it; the ready prefix moves on to the worker's queue as soon as it
//! exists. So the file keeps call order (G8 in docs/architecture.md) while the caller
//! never waits for a device.
//!
//! Sequence numbers are the writer's `accepted` count at the call: every accepted job
//! and every reservation takes the next one, so slot `seq` sits at `seq - base` here.

use std::collections::VecDeque;

use crate::error::FerroError;
use crate::summary::job::{Job, JobKind};

enum Held {
    /// Waiting for its values; the event's step and wall time were taken at the call.
    Reserved {
        step: Option<i64>,
        wall_time: f64,
    },
    Ready(Job),
}

#[derive(Default)]
pub(super) struct Reserved {
    /// From the first unfilled slot on, every accepted job and slot in order.
    held: VecDeque<Held>,
    /// Sequence number of `held[0]`.
    base: u64,
    /// Slots still waiting for their values.
    unfilled: usize,
}

impl Reserved {
    /// Nothing waits behind an unfilled slot: new jobs go straight to the queue.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Sequence number of the first unfilled slot: a flush covers everything before it.
    pub(super) fn first_unfilled(&self) -> Option<u64> {
        (!self.held.is_empty()).then_some(self.base)
    }

    /// Slots still waiting for their values.
    pub(super) fn unfilled(&self) -> usize {
        self.unfilled
    }

    /// Reserves slot `seq` (the writer's next sequence number).
    pub(super) fn reserve(&mut self, seq: u64, step: Option<i64>, wall_time: f64) {
        if self.held.is_empty() {
            self.base = seq;
        }
        self.held.push_back(Held::Reserved { step, wall_time });
        self.unfilled += 1;
    }

    /// Keeps a job accepted while an earlier slot is unfilled (callers check `is_empty`).
    pub(super) fn hold(&mut self, job: Job) {
        self.held.push_back(Held::Ready(job));
    }

    /// Gives slot `seq` its job (whose step and wall time become the reserved ones).
    pub(super) fn fill(&mut self, seq: u64, mut job: Job) -> Result<(), FerroError> {
        let index = self.index_of(seq)?;
        if let Held::Reserved { step, wall_time } = self.held[index] {
            job.step = step;
            job.wall_time = wall_time;
            self.held[index] = Held::Ready(job);
            self.unfilled -= 1;
            Ok(())
        } else {
            Err(not_reserved(seq))
        }
    }

    /// Gives up slot `seq`: it will write nothing. False if it was not waiting.
    pub(super) fn cancel(&mut self, seq: u64) -> bool {
        let Ok(index) = self.index_of(seq) else {
            return false;
        };
        if let Held::Reserved { step, wall_time } = self.held[index] {
            self.held[index] = Held::Ready(cancelled(step, wall_time));
            self.unfilled -= 1;
            true
        } else {
            false
        }
    }

    /// Gives up every unfilled slot; returns how many there were.
    pub(super) fn cancel_all(&mut self) -> u64 {
        let mut count = 0;
        for held in self.held.iter_mut() {
            if let Held::Reserved { step, wall_time } = *held {
                *held = Held::Ready(cancelled(step, wall_time));
                count += 1;
            }
        }
        self.unfilled = 0;
        count
    }

    /// Moves the ready prefix to `queue`; returns how many jobs moved.
    pub(super) fn take_ready(&mut self, queue: &mut VecDeque<Job>) -> usize {
        let mut moved = 0;
        while let Some(Held::Ready(_)) = self.held.front() {
            if let Some(Held::Ready(job)) = self.held.pop_front() {
                queue.push_back(job);
                moved += 1;
            }
        }
        self.base += moved as u64;
        moved
    }

    /// Forgets everything (the writer failed: the sticky error counts these as lost).
    pub(super) fn clear(&mut self) {
        self.held.clear();
        self.unfilled = 0;
    }

    fn index_of(&self, seq: u64) -> Result<usize, FerroError> {
        match seq.checked_sub(self.base) {
            Some(offset) if offset < self.held.len() as u64 => Ok(offset as usize),
            _ => Err(not_reserved(seq)),
        }
    }
}

fn cancelled(step: Option<i64>, wall_time: f64) -> Job {
    Job {
        step,
        wall_time,
        kind: JobKind::Cancelled,
    }
}

fn not_reserved(seq: u64) -> FerroError {
    FerroError::InvalidArgument(format!(
        "slot {seq} is not a reserved slot waiting for its values (filled, cancelled, \
         or never reserved by this writer)"
    ))
}
