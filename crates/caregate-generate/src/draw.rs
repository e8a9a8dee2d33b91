//! The draws every generator makes of its seeded random numbers: a chance, a number or date in a range, an item
//! of a weighted table; and a date some days on.

use chrono::{NaiveDate, TimeDelta};
use rand::RngExt;

/// A table of codes with their weights.
pub(crate) type Weighted = [(&'static str, u32)];

/// One item of a table of (item, weight), drawn in proportion to the weights; `None` for an empty table.
pub(crate) fn weighted<'t, T>(rng: &mut (impl RngExt + ?Sized), table: &'t [(T, u32)]) -> Option<&'t T> {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut at = rng.random_range(0..total.max(1));
    for (item, weight) in table {
        if at < *weight {
            return Some(item);
        }
        at -= weight;
    }
    table.first().map(|(item, _)| item)
}

/// `n` days after `d` (before, for a negative `n`); `d` itself past the calendar's end.
pub(crate) fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(TimeDelta::days(n)).unwrap_or(d)
}

/// Draws on any random number generator.
pub(crate) trait Draw: RngExt {
    /// True with probability `p` (clamped to 0–1).
    fn chance(&mut self, p: f64) -> bool {
        self.random_bool(p.clamp(0.0, 1.0))
    }

    /// A number in `[lo, hi]`; `lo` when the range is empty.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.random_range(lo..=hi)
        }
    }

    /// A code of a weighted table; `""` for an empty one.
    fn pick(&mut self, table: &Weighted) -> &'static str {
        weighted(self, table).copied().unwrap_or_default()
    }

    /// A date uniformly in `[from, to]`.
    fn date_in(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days();
        days(from, self.between(0, span))
    }
}

impl<R: RngExt + ?Sized> Draw for R {}
