//! Recent figures behind the overflow triggers and borrowing (docs/routing.md, 4b): answers
//! in the last 15 minutes, service level in the last 30, and the caps they drive.

use super::*;

impl Engine {
    pub(super) fn prune_windows(&mut self, q: usize) {
        let clock = self.clock;
        let rt = &mut self.qrt[q];
        while rt
            .answers
            .front()
            .is_some_and(|t| *t <= clock - ANSWER_WINDOW_MS)
        {
            rt.answers.pop_front();
        }
        while let Some(&(t, met)) = rt.sl.front() {
            if t > clock - SL_WINDOW_MS {
                break;
            }
            rt.sl.pop_front();
            if met {
                rt.sl_met -= 1;
            }
        }
    }

    pub(super) fn record_answer(&mut self, q: usize, wait_ms: i64) {
        let clock = self.clock;
        let (track_a, track_sl, thr) = {
            let queue = &self.queues[q];
            (queue.track_answers, queue.track_sl, queue.sl_threshold_ms)
        };
        if !(track_a || track_sl) {
            return;
        }
        self.prune_windows(q);
        let rt = &mut self.qrt[q];
        if track_a {
            rt.answers.push_back(clock);
        }
        if track_sl {
            let met = wait_ms <= thr;
            rt.sl.push_back((clock, met));
            if met {
                rt.sl_met += 1;
            }
        }
    }

    pub(super) fn record_abandon(&mut self, q: usize, wait_ms: i64) {
        let queue = &self.queues[q];
        if !queue.track_sl || wait_ms <= queue.sl_threshold_ms {
            return;
        }
        let clock = self.clock;
        self.prune_windows(q);
        self.qrt[q].sl.push_back((clock, false));
    }

    /// Expected wait in ms of an arrival now (`None`: unbounded).
    pub(super) fn expected_wait(&mut self, q: usize) -> Option<i64> {
        self.prune_windows(q);
        let w = self.queue_waiting[q] as i64;
        let r = self.qrt[q].answers.len() as i64;
        if w == 0 {
            Some(0)
        } else if r == 0 {
            None
        } else {
            Some((w + 1) * ANSWER_WINDOW_MS / r)
        }
    }

    /// The recent service level as (met, counted).
    pub(super) fn recent_sl(&mut self, q: usize) -> (u64, u64) {
        self.prune_windows(q);
        let rt = &self.qrt[q];
        (rt.sl_met, rt.sl.len() as u64)
    }

    pub(super) fn borrow_mask(&mut self, q: u32) -> u32 {
        let rules = self.queues[q as usize].borrow.clone();
        let mut mask = 0u32;
        for (i, (_, w, at_least)) in rules.into_iter().enumerate() {
            let (met, count) = self.recent_sl(w as usize);
            if count == 0 || met as f64 * 100.0 >= at_least * count as f64 {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// The overflow trigger an arrival meets, if any (docs/routing.md, 4b).
    pub(super) fn overflow_trigger(&mut self, q: usize) -> Option<&'static str> {
        let queue = &self.queues[q];
        let (over, ewt, sl, target) = (
            queue.overflow_waiting_over,
            queue.ewt_over_ms,
            queue.sl_trigger,
            queue.sl_target,
        );
        if over.is_some_and(|n| self.queue_waiting[q] > n) {
            return Some("long_line");
        }
        if let Some(limit) = ewt {
            if self.expected_wait(q).is_none_or(|w| w > limit) {
                return Some("expected_wait");
            }
        }
        if sl {
            let (met, count) = self.recent_sl(q);
            if count > 0 && (met as f64) * 100.0 < target * count as f64 {
                return Some("service_level");
            }
        }
        None
    }
}
