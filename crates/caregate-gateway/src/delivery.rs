//! Push delivery: a worker that finds copies due for a push, POSTs each to its recipient (the message id as
//! the `Idempotency-Key`, the copy in the recipient's format), and records the outcome. A failure is retried
//! with exponential backoff and jitter up to the configured number of attempts, then dead-lettered. Each
//! copy is sent on its own task, so one slow or failing recipient never holds up another. State lives in the
//! store, so delivery resumes after a restart.
//!
//! An https push is verified with rustls: against the platform's roots and `delivery.ca_file`, or, for a
//! recipient with a `push_ca_file`, against that file's CAs only.
//!
//! Not for: mailbox recipients, who collect their copies (`routes`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt as _;

use super::audit::{Event, Record};
use super::config::{read_ca_file, Config, DeliveryConfig, DFE_ROUTE};
use super::dfe::route::Outcome;
use super::store::sqlite::{now_text, timestamp};
use super::store::{Attempt, CopyRecord};
use super::App;

/// How often the worker looks for due copies when nothing wakes it.
const POLL: Duration = Duration::from_millis(250);

/// The delay before retry number `attempt` (1 = after the first failure): base·2^(attempt-1), capped, with up
/// to a quarter added at random so that many failing copies do not retry in step.
pub fn backoff(config: &DeliveryConfig, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let delay = config.base_delay_ms.saturating_mul(1u64 << exponent).min(config.max_delay_ms);
    Duration::from_millis(delay + (delay as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as u64)
}

/// Copies being pushed, and those finished since the last look for due copies.
#[derive(Default)]
struct Tracker {
    in_flight: HashSet<(String, String)>,
    finished: HashSet<(String, String)>,
}

fn lock(tracker: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    match tracker.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The push clients: one shared by the recipients that trust what the gateway trusts, and one for each
/// recipient with a CA of its own.
pub struct Clients {
    shared: reqwest::Client,
    own: HashMap<String, reqwest::Client>,
}

impl Clients {
    /// Builds every client the configuration asks for; the reason when one cannot be built.
    pub fn new(config: &Config) -> Result<Clients, String> {
        let builder = || reqwest::Client::builder().timeout(Duration::from_millis(config.delivery.timeout_ms));
        let extra = match &config.delivery.ca_file {
            Some(path) => certificates(path)?,
            None => Vec::new(),
        };
        let shared = match builder().tls_certs_merge(extra.clone()).build() {
            Ok(client) => client,
            // No platform roots (a machine without a CA bundle): http pushes go on, https ones trust only ca_file.
            Err(error) => {
                tracing::warn!(error = %chain(&error), "no platform CA roots; https pushes trust only delivery.ca_file");
                builder().tls_certs_only(extra).build().map_err(|e| chain(&e))?
            }
        };
        let mut own = HashMap::new();
        for org in &config.organisations {
            if let Some(path) = &org.push_ca_file {
                let client = builder().tls_certs_only(certificates(path)?).build().map_err(|e| chain(&e))?;
                own.insert(org.code.clone(), client);
            }
        }
        Ok(Clients { shared, own })
    }

    fn for_recipient(&self, organisation: &str) -> &reqwest::Client {
        self.own.get(organisation).unwrap_or(&self.shared)
    }
}

fn certificates(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let ders = read_ca_file(path).map_err(|why| format!("`{}` {why}", path.display()))?;
    ders.iter().map(|der| reqwest::Certificate::from_der(der).map_err(|e| chain(&e))).collect()
}

/// An error and its causes, outermost first (reqwest names what went wrong only deep in the chain).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// The innermost cause of an error: what went wrong, without the layers that carried it.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Runs until the process ends.
pub async fn run(app: Arc<App>) {
    let clients = match Clients::new(&app.config) {
        Ok(clients) => Arc::new(clients),
        Err(error) => {
            tracing::error!(%error, "cannot build the delivery clients; push delivery is off");
            return;
        }
    };
    let tracker: Arc<Mutex<Tracker>> = Arc::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(app.config.delivery.concurrency));
    loop {
        lock(&tracker).finished.clear();
        // A leased copy is pushed at once or its lease may run out before it is sent (and another instance
        // send it too): ask for no more than there are free pushes.
        let limit = if app.store.leases() { permits.available_permits().min(256) } else { 256 };
        let due = match limit {
            0 => Vec::new(),
            _ => match app.store.due(&now_text(), limit).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!(%error, "cannot read due deliveries");
                    Vec::new()
                }
            },
        };
        for copy in due {
            let key = (copy.message.clone(), copy.recipient.clone());
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
            {
                let mut tracker = lock(&tracker);
                // In flight, or finished since the query began (the list is stale for it): not again.
                if tracker.finished.contains(&key) || !tracker.in_flight.insert(key.clone()) {
                    continue;
                }
            }
            let (app, clients, tracker) = (Arc::clone(&app), Arc::clone(&clients), Arc::clone(&tracker));
            tokio::spawn(async move {
                deliver(&app, clients.for_recipient(&copy.recipient), copy).await;
                drop(permit);
                let mut tracker = lock(&tracker);
                tracker.in_flight.remove(&key);
                tracker.finished.insert(key);
            });
        }
        tokio::select! {
            _ = app.delivery_wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn deliver(app: &App, client: &reqwest::Client, copy: CopyRecord) {
    let Some(url) = copy.push_url.clone() else { return };
    if url == DFE_ROUTE {
        return deliver_to_dfe(app, copy).await;
    }
    let (body, content_type) = match app.render(&copy.content, &copy.format) {
        Ok(rendered) => rendered,
        Err(error) => {
            record(app, &copy, Attempt::Dead { error: error.clone() }, "dead", &error).await;
            return;
        }
    };
    let started = Instant::now();
    let result = client
        .post(&url)
        .header("content-type", content_type)
        .header("idempotency-key", &copy.message)
        .header("x-caregate-recipient", &copy.recipient)
        .body(body)
        .send()
        .await;
    app.metrics.delivery_latency.observe(started.elapsed());
    let error = match result {
        Ok(response) if response.status().is_success() => {
            record(app, &copy, Attempt::Delivered, "delivered", &format!("{}", response.status().as_u16())).await;
            return;
        }
        Ok(response) => format!("the recipient answered {}", response.status()),
        Err(error) if error.is_timeout() => "the recipient did not answer in time".to_string(),
        Err(error) if error.is_connect() => format!("the recipient could not be reached ({})", root_cause(&error)),
        Err(error) => format!("the request failed: {error}"),
    };
    failed(app, &copy, error).await;
}

/// A copy for DfE's CSC API, delivered through the route of `[outbound.dfe-csc-api]`.
async fn deliver_to_dfe(app: &App, copy: CopyRecord) {
    let Some(route) = &app.dfe else {
        let error = "no [outbound.dfe-csc-api] is configured".to_string();
        record(app, &copy, Attempt::Dead { error: error.clone() }, "dead", &error).await;
        return;
    };
    let started = Instant::now();
    let outcome = route.deliver(&copy.standard, &copy.content).await;
    app.metrics.delivery_latency.observe(started.elapsed());
    match outcome {
        Outcome::Delivered(detail) => record(app, &copy, Attempt::Delivered, "delivered", &detail).await,
        Outcome::Dead(error) => record(app, &copy, Attempt::Dead { error: error.clone() }, "dead", &error).await,
        Outcome::Retry(error) => failed(app, &copy, error).await,
    }
}

/// A failed attempt: retried with backoff, or dead-lettered once the attempts are spent.
async fn failed(app: &App, copy: &CopyRecord, error: String) {
    let attempts = copy.attempts + 1;
    if attempts >= app.config.delivery.max_attempts {
        record(app, copy, Attempt::Dead { error: error.clone() }, "dead", &error).await;
    } else {
        let jitter: f64 = rand::rng().random();
        let wait = backoff(&app.config.delivery, attempts, jitter);
        let next_at = timestamp(chrono::Utc::now() + chrono::Duration::milliseconds(wait.as_millis() as i64));
        record(app, copy, Attempt::Retry { error: error.clone(), next_at }, "retry", &error).await;
    }
}

async fn record(app: &App, copy: &CopyRecord, attempt: Attempt, outcome: &str, detail: &str) {
    app.metrics.delivery(outcome);
    let entry = Record::new(Event::DeliveryAttempt, "gateway")
        .message(&copy.message)
        .recipient(&copy.recipient)
        .digest(caregate_engine::digest::sha256(copy.content.to_string().as_bytes()))
        .detail(format!("attempt {}: {outcome} ({detail})", copy.attempts + 1));
    if let Err(error) = app.store.attempted(&copy.message, &copy.recipient, attempt, entry).await {
        tracing::error!(%error, message = %copy.message, "cannot record a delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jitters_up_to_a_quarter() {
        let config = DeliveryConfig { base_delay_ms: 100, max_delay_ms: 1000, ..DeliveryConfig::default() };
        assert_eq!(backoff(&config, 1, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(&config, 3, 0.0), Duration::from_millis(400));
        assert_eq!(backoff(&config, 10, 0.0), Duration::from_millis(1000));
        assert_eq!(backoff(&config, 3, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(&config, 99, 0.5), Duration::from_millis(1125));
    }
}
