//! Counters and histograms for `/metrics`, in the Prometheus text format: messages accepted, rejected by rule
//! (or by status when no rule applies), deliveries by outcome, accept and delivery latency, queue depth.
//!
//! Not for: logs (tracing) or the audit trail (`audit`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 14],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", count.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[derive(Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    deliveries: Mutex<BTreeMap<String, u64>>,
    pub accept_latency: Histogram,
    pub delivery_latency: Histogram,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
    let mut map = match map.lock() {
        Ok(map) => map,
        Err(poisoned) => poisoned.into_inner(),
    };
    *map.entry(key.to_string()).or_default() += 1;
}

fn snapshot(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    match map.lock() {
        Ok(map) => map.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

impl Metrics {
    /// A refusal, counted once per rule that caused it (`http-403`, … when no rule did).
    pub fn rejected(&self, rule: &str) {
        bump(&self.rejected, rule);
    }

    /// A push attempt's outcome: `delivered`, `retry` or `dead`.
    pub fn delivery(&self, outcome: &str) {
        bump(&self.deliveries, outcome);
    }

    pub fn render(&self, queue_depth: u64) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP caregate_messages_accepted_total Messages accepted (202).\n# TYPE caregate_messages_accepted_total counter");
        let _ = writeln!(out, "caregate_messages_accepted_total {}", self.accepted.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP caregate_messages_rejected_total Messages refused, by rule.\n# TYPE caregate_messages_rejected_total counter");
        for (rule, n) in snapshot(&self.rejected) {
            let _ = writeln!(out, "caregate_messages_rejected_total{{rule=\"{}\"}} {n}", escape(&rule));
        }
        let _ = writeln!(out, "# HELP caregate_deliveries_total Push delivery attempts, by outcome.\n# TYPE caregate_deliveries_total counter");
        for (outcome, n) in snapshot(&self.deliveries) {
            let _ = writeln!(out, "caregate_deliveries_total{{outcome=\"{}\"}} {n}", escape(&outcome));
        }
        self.accept_latency.render("caregate_accept_seconds", "Time from request to durable 202.", &mut out);
        self.delivery_latency.render("caregate_delivery_seconds", "Time of one push attempt.", &mut out);
        let _ = writeln!(
            out,
            "# HELP caregate_queue_depth Copies waiting for delivery or collection.\n# TYPE caregate_queue_depth gauge"
        );
        let _ = writeln!(out, "caregate_queue_depth {queue_depth}");
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let metrics = Metrics::default();
        metrics.accepted.fetch_add(2, Ordering::Relaxed);
        metrics.rejected("ENV-001");
        metrics.rejected("ENV-001");
        metrics.delivery("dead");
        metrics.accept_latency.observe(Duration::from_millis(3));
        let text = metrics.render(7);
        for line in [
            "caregate_messages_accepted_total 2",
            "caregate_messages_rejected_total{rule=\"ENV-001\"} 2",
            "caregate_deliveries_total{outcome=\"dead\"} 1",
            "caregate_accept_seconds_bucket{le=\"0.0025\"} 0",
            "caregate_accept_seconds_bucket{le=\"0.005\"} 1",
            "caregate_queue_depth 7",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
