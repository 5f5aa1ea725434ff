//! Checkpoints for resuming an interrupted scan (`scan --resume`, issue 18): the bookkeeping
//! that turns results finishing out of order into a watermark in walk order.
//!
//! Why a watermark: the engine walks the (address x port) pairs in a deterministic order (the
//! plan and the seed fix it), but a window of attempts is in flight at once, and a silent port
//! is retried after ports sent later have answered, so results arrive out of order. A
//! checkpoint must say exactly which probes are final, in little space and without a row per
//! probe: "every position below W is final, and these are their results". [`Watermark`]
//! keeps the positions issued and not yet passed, advances W over the longest prefix that is
//! final, and hands back the results of that prefix in walk order ([`Watermark::drain`]), so a
//! writer can store the prefix's results and W in one transaction. A resumed scan skips the
//! positions below W and redoes every position at or above it: a result found above W before
//! the interruption was never part of a checkpoint, so it is found again, not counted twice.
//!
//! Memory: one slot per position between W and the newest issued one, i.e. about the window
//! in flight plus the retries waiting behind the oldest silent port.
//!
//! The engine uses it when asked ([`crate::ScannerBuilder::checkpoints`]): port results then
//! come in walk order, each batch followed by an [`crate::Event::Checkpoint`] with the
//! [`WalkPoint`] they reach, and [`crate::ScannerBuilder::resume_from`] starts a scan at one.
//! Not built yet (see docs/scale.md): the store's record of checkpoints and the `--resume`
//! flag itself.

use std::collections::VecDeque;

/// A point in a scan's walk: every port result of the host groups before `group` (1-based, in
/// target order, [`crate::engine::HOST_GROUP`] hosts each) is final, and so is every one at a
/// permutation index below `position` in `group`'s port phase. The walk order is fixed by the
/// targets, the ports, the seed and the shard, so the same point means the same pairs to a
/// scan started again with them; `live` is the number of hosts of `group` that host discovery
/// found up, which the permutation of that group depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalkPoint {
    pub group: u64,
    pub position: u64,
    pub live: u64,
}

impl WalkPoint {
    /// The start of a scan.
    pub const START: WalkPoint = WalkPoint {
        group: 1,
        position: 0,
        live: 0,
    };
}

/// A misuse of [`Watermark`]: a position completed that was never issued, or twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("position {position} completed but only positions below {issued} were issued")]
    NotIssued { position: u64, issued: u64 },
    #[error("position {position} completed twice")]
    Twice { position: u64 },
}

#[derive(Debug)]
enum Slot<T> {
    /// Issued, result not final yet.
    Pending,
    /// Final: its result, or none (a position skipped, e.g. not the shard's).
    Done(Option<T>),
}

/// Tracks the positions of one walk (0, 1, 2, ... in walk order) from issue to final result,
/// and the watermark below which every one is final.
#[derive(Debug)]
pub struct Watermark<T> {
    /// Every position below `base` is final and drained or ready.
    base: u64,
    /// Slot `i` is position `base + i`; positions from `base` to `issued - 1`.
    slots: VecDeque<Slot<T>>,
    /// Results of positions that passed below the watermark, in walk order, not drained.
    ready: Vec<T>,
}

impl<T> Watermark<T> {
    /// A walk that starts (or resumes) at `start`: positions below it count as final already.
    pub fn new(start: u64) -> Self {
        Watermark {
            base: start,
            slots: VecDeque::new(),
            ready: Vec::new(),
        }
    }

    /// Every position below this one is final.
    pub fn watermark(&self) -> u64 {
        self.base
    }

    /// The next position to be issued.
    pub fn issued(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    /// Positions issued and not yet below the watermark (the memory held).
    pub fn held(&self) -> usize {
        self.slots.len()
    }

    /// Issues the next position in walk order and returns it.
    pub fn issue(&mut self) -> u64 {
        let p = self.issued();
        self.slots.push_back(Slot::Pending);
        p
    }

    /// Issues the next position as final at once with no result (a pair the walk passes over,
    /// e.g. one of another shard's).
    pub fn skip(&mut self) -> u64 {
        let p = self.issued();
        self.slots.push_back(Slot::Done(None));
        self.advance();
        p
    }

    /// Records the final result of an issued position.
    pub fn complete(&mut self, position: u64, result: T) -> Result<(), CheckpointError> {
        self.settle(position, Some(result))
    }

    /// Records that an issued position is final with no result to keep.
    pub fn complete_empty(&mut self, position: u64) -> Result<(), CheckpointError> {
        self.settle(position, None)
    }

    fn settle(&mut self, position: u64, result: Option<T>) -> Result<(), CheckpointError> {
        if position < self.base {
            return Err(CheckpointError::Twice { position });
        }
        let issued = self.issued();
        let i = usize::try_from(position - self.base).unwrap_or(usize::MAX);
        let Some(slot) = self.slots.get_mut(i) else {
            return Err(CheckpointError::NotIssued { position, issued });
        };
        if matches!(slot, Slot::Done(_)) {
            return Err(CheckpointError::Twice { position });
        }
        *slot = Slot::Done(result);
        if i == 0 {
            self.advance();
        }
        Ok(())
    }

    fn advance(&mut self) {
        while let Some(Slot::Done(_)) = self.slots.front() {
            if let Some(Slot::Done(r)) = self.slots.pop_front() {
                self.ready.extend(r);
            }
            self.base += 1;
        }
    }

    /// Takes the results of the positions that passed below the watermark since the last
    /// drain, in walk order, with the watermark they make up: what one checkpoint writes.
    pub fn drain(&mut self) -> (u64, Vec<T>) {
        (self.base, std::mem::take(&mut self.ready))
    }
}

/// The watermark of a walk split between `n = marks.len()` drivers, driver `k` taking the
/// indexes `k, k + n, k + 2n, ...` (as the engine's threads share a permutation) and having
/// finished its first `marks[k]` of them: every index below the result is final.
///
/// Index `i = k + n * j` is final when `j < marks[k]`, i.e. when `i < k + n * marks[k]`; so
/// the bound is the least `k + n * marks[k]`. Saturates instead of overflowing.
pub fn strided(marks: &[u64]) -> u64 {
    let n = marks.len() as u64;
    marks
        .iter()
        .zip(0u64..)
        .map(|(&m, k)| k.saturating_add(n.saturating_mul(m)))
        .min()
        .unwrap_or(0)
}

/// Where a driver `k` of `n` resumes a walk whose watermark is `mark`: its first index at or
/// above it (`k + n * j` for the least such `j`), as a count `j` of its own indexes to skip.
pub fn strided_start(mark: u64, k: u64, n: u64) -> u64 {
    if n == 0 || mark <= k {
        return 0;
    }
    (mark - k).div_ceil(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small seeded generator for the tests (xorshift64*): no dependency for shuffles.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn in_order_completions_advance_one_by_one() {
        let mut w = Watermark::new(0);
        for i in 0..5 {
            assert_eq!(w.issue(), i);
            w.complete(i, i * 10).unwrap();
            assert_eq!(w.watermark(), i + 1);
        }
        assert_eq!(w.drain(), (5, vec![0, 10, 20, 30, 40]));
        assert_eq!(w.drain(), (5, vec![]));
        assert_eq!(w.held(), 0);
    }

    #[test]
    fn a_slow_position_holds_the_watermark_and_its_followers() {
        let mut w = Watermark::new(0);
        for _ in 0..4 {
            w.issue();
        }
        // 0 is a silent port being retried; 1..3 answer first.
        w.complete(2, "c").unwrap();
        w.complete(1, "b").unwrap();
        w.complete(3, "d").unwrap();
        assert_eq!(w.watermark(), 0);
        assert_eq!(w.drain(), (0, vec![]));
        assert_eq!(w.held(), 4);
        w.complete(0, "a").unwrap();
        assert_eq!(w.drain(), (4, vec!["a", "b", "c", "d"]));
    }

    #[test]
    fn skipped_and_empty_positions_pass_without_results() {
        let mut w = Watermark::new(0);
        let a = w.issue();
        assert_eq!(w.skip(), 1);
        let c = w.issue();
        w.complete_empty(c).unwrap();
        assert_eq!(w.watermark(), 0);
        w.complete(a, 'a').unwrap();
        assert_eq!(w.drain(), (3, vec!['a']));
        // A skip with nothing pending passes at once.
        w.skip();
        assert_eq!(w.watermark(), 4);
    }

    #[test]
    fn misuse_is_an_error_not_a_double_count() {
        let mut w = Watermark::new(10);
        assert_eq!(
            w.complete(10, ()),
            Err(CheckpointError::NotIssued {
                position: 10,
                issued: 10
            })
        );
        assert_eq!(w.issue(), 10);
        w.issue();
        w.complete(11, ()).unwrap();
        assert_eq!(
            w.complete(11, ()),
            Err(CheckpointError::Twice { position: 11 })
        );
        w.complete(10, ()).unwrap();
        // Below the watermark: already final.
        assert_eq!(
            w.complete(3, ()),
            Err(CheckpointError::Twice { position: 3 })
        );
        assert_eq!(w.drain(), (12, vec![(), ()]));
    }

    /// The property a resume relies on, with random out-of-order completions (a window of
    /// attempts, retries sent to the back) and interruptions at random points: the results of
    /// all checkpoints, plus a resumed walk from the last watermark, give every position's
    /// result exactly once.
    #[test]
    fn interrupted_and_resumed_walks_lose_nothing_and_count_nothing_twice() {
        let mut resumed_midway = 0;
        for seed in 1..=200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let total = 1 + rng.below(400) as u64;
            // What the store holds: checkpointed results and the watermark.
            let mut stored: Vec<u64> = Vec::new();
            let mut stored_mark = 0u64;
            let mut runs = 0;
            loop {
                runs += 1;
                assert!(runs < 100, "seed {seed}: no progress");
                let mut w = Watermark::new(stored_mark);
                let window = 1 + rng.below(32);
                let mut in_flight: Vec<u64> = Vec::new();
                // Kill after this many events, or never on the last run.
                let kill_at = if runs < 5 {
                    Some(rng.below(3 * total as usize + 1))
                } else {
                    None
                };
                let mut steps = 0usize;
                let finished = loop {
                    if kill_at == Some(steps) {
                        break false;
                    }
                    steps += 1;
                    while in_flight.len() < window && w.issued() < total {
                        let p = w.issue();
                        // Every 7th pair belongs to another shard.
                        if p % 7 == 3 {
                            w.complete_empty(p).unwrap();
                        } else {
                            in_flight.push(p);
                        }
                    }
                    if in_flight.is_empty() {
                        break true;
                    }
                    let i = rng.below(in_flight.len());
                    let p = in_flight.swap_remove(i);
                    if rng.below(5) == 0 {
                        // A retry: back into flight, still pending.
                        in_flight.push(p);
                    } else {
                        w.complete(p, p).unwrap();
                    }
                    // A checkpoint now and then: results and watermark together.
                    if rng.below(4) == 0 {
                        let (mark, results) = w.drain();
                        stored.extend(results);
                        stored_mark = mark;
                    }
                };
                if finished {
                    let (mark, results) = w.drain();
                    stored.extend(results);
                    stored_mark = mark;
                    break;
                }
                // kill -9: whatever was not checkpointed is lost.
                if stored_mark > 0 && stored_mark < total {
                    resumed_midway += 1;
                }
            }
            assert_eq!(stored_mark, total, "seed {seed}");
            let want: Vec<u64> = (0..total).filter(|p| p % 7 != 3).collect();
            assert_eq!(stored, want, "seed {seed}: each result once, in walk order");
        }
        // The property is exercised: many walks were cut after a checkpoint, before the end.
        assert!(
            resumed_midway > 50,
            "only {resumed_midway} mid-walk resumes"
        );
    }

    #[test]
    fn strided_watermark_is_the_exact_final_prefix() {
        let mut rng = Rng(7);
        for _ in 0..2000 {
            let n = 1 + rng.below(8) as u64;
            let total = rng.below(200) as u64;
            // Driver k finished its first marks[k] indexes (bounded by its share).
            let marks: Vec<u64> = (0..n)
                .map(|k| {
                    let share = total.saturating_sub(k).div_ceil(n);
                    rng.next() % (share + 1)
                })
                .collect();
            let fin = |i: u64| i / n < marks[(i % n) as usize];
            let w = strided(&marks);
            // Every index below w is final, and index w (if in the walk) is not.
            assert!((0..w.min(total)).all(fin), "n {n} marks {marks:?} w {w}");
            if w < total {
                assert!(!fin(w), "n {n} marks {marks:?} w {w}");
            }
            // Each driver resumes at its first index at or above w, none below.
            for k in 0..n {
                let j = strided_start(w, k, n);
                assert!(k + n * j >= w);
                assert!(j == 0 || k + n * (j - 1) < w);
                assert!(
                    j <= marks[k as usize],
                    "a resume never skips an unfinished index"
                );
            }
        }
        assert_eq!(strided(&[]), 0);
        assert_eq!(strided(&[u64::MAX, 3]), 7);
    }
}
