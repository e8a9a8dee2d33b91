//! The load of the gateway benchmark: keep-alive HTTP/1.1 connections that POST one JSON body, each time under
//! a new `messageId` (the gateway treats a `messageId` sent again as the same message, so a benchmark of
//! accepts needs a new one per request). Closed loop (each connection sends again as soon as it is answered)
//! or open loop (`rate=N`: requests are due at a constant rate, whether or not earlier ones were answered).
//!
//!   gateway-bench-load url=http://127.0.0.1:18181/v1/messages body=referral.json token=T \
//!       connections=64 seconds=20 [rate=5000] [threads=2] [ids=random|sequential] [keys=yes|no]
//!
//! `url=A,B` spreads the connections over several gateways in turn (two instances on one database).
//!
//! `ids=random` (the default) spreads the ids as version-4 UUIDs are spread, so that the gateway's index of
//! message ids is written at random places, as real traffic writes it; `ids=sequential` numbers them in order
//! (an index then only grows at one end, which flatters the store). `keys=yes` also sends each request with an
//! `Idempotency-Key`, the same text as its `messageId` (as a supplier that retries safely would; the default
//! is `no`).
//!
//! In the open loop a request's latency runs from when it was due, so that a server that falls behind is
//! charged for the wait (no coordinated omission) — except when a connection was free and only the timer
//! (1 ms grain) woke it late: then it runs from when it was sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Settings {
    /// One or more gateways (`url=A,B`): connection `i` sends to host `i mod n`, as a round-robin load balancer.
    hosts: Vec<String>,
    path: String,
    body: Vec<u8>,
    token: String,
    connections: usize,
    seconds: f64,
    rate: Option<f64>,
    threads: usize,
    random_ids: bool,
    keys: bool,
}

fn settings() -> Result<Settings, String> {
    let args: BTreeMap<String, String> =
        std::env::args().skip(1).filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let get = |name: &str| args.get(name).cloned().ok_or(format!("{name}= is needed"));
    let number = |name: &str, default: f64| args.get(name).map_or(Ok(default), |v| v.parse::<f64>().map_err(|e| format!("{name}: {e}")));
    let mut hosts = Vec::new();
    let mut path = String::new();
    for url in get("url")?.split(',') {
        let rest = url.strip_prefix("http://").ok_or("url must be http://")?;
        let (host, at) = rest.split_once('/').map_or((rest.to_string(), "/".to_string()), |(h, p)| (h.to_string(), format!("/{p}")));
        hosts.push(host);
        path = at;
    }
    let body = std::fs::read(get("body")?).map_err(|e| format!("body: {e}"))?;
    Ok(Settings {
        hosts,
        path,
        body,
        token: get("token")?,
        connections: number("connections", 64.0)? as usize,
        seconds: number("seconds", 20.0)?,
        rate: args.get("rate").map(|r| r.parse::<f64>().map_err(|e| format!("rate: {e}"))).transpose()?,
        threads: number("threads", 2.0)? as usize,
        random_ids: match args.get("ids").map(String::as_str) {
            None | Some("random") => true,
            Some("sequential") => false,
            Some(other) => return Err(format!("ids: `{other}` is neither random nor sequential")),
        },
        keys: match args.get("keys").map(String::as_str) {
            None | Some("no") => false,
            Some("yes") => true,
            Some(other) => return Err(format!("keys: `{other}` is neither yes nor no")),
        },
    })
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
}

/// One connection's request bytes, with the place of the `messageId` value in them, and of the
/// `Idempotency-Key`'s when there is one.
struct Request {
    bytes: Vec<u8>,
    id_at: usize,
    key_at: Option<usize>,
}

const ID_LEN: usize = 36;

impl Request {
    fn new(settings: &Settings, host: &str) -> Result<Request, String> {
        let key_header = "Idempotency-Key: ";
        let key_line = if settings.keys { format!("{key_header}{}\r\n", "0".repeat(ID_LEN)) } else { String::new() };
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\n{key_line}Content-Length: {}\r\n\r\n",
            settings.path,
            host,
            settings.token,
            settings.body.len()
        );
        let key_at = settings.keys.then(|| head.find(key_header).map(|at| at + key_header.len())).flatten();
        let key = b"\"messageId\"";
        let at = settings.body.windows(key.len()).position(|w| w == key).ok_or("the body has no messageId")?;
        let quote = settings.body[at + key.len()..].iter().position(|&b| b == b'"').ok_or("the messageId has no value")?;
        let id_at = head.len() + at + key.len() + quote + 1;
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&settings.body);
        if bytes.get(id_at + ID_LEN) != Some(&b'"') {
            return Err("the messageId is not a 36-character UUID".into());
        }
        Ok(Request { bytes, id_at, key_at })
    }

    /// Writes message id number `n` of this run into the request: in order, or scattered (every `n` still
    /// gives its own id, since the scattering is a bijection of 64-bit numbers; the run is in the last part).
    fn number(&mut self, run: u32, n: u64, random: bool) {
        let id = if random {
            let h = scatter(n);
            let (run_high, run_low) = (run >> 24, run & 0xFF_FFFF);
            format!("{:08x}-{:04x}-4{:03x}-8{:01x}{run_high:02x}-{run_low:06x}000000", h >> 32, (h >> 16) & 0xFFFF, (h >> 4) & 0xFFF, h & 0xF)
        } else {
            format!("{run:08x}-0000-4000-8000-{n:012x}")
        };
        self.bytes[self.id_at..self.id_at + ID_LEN].copy_from_slice(id.as_bytes());
        if let Some(at) = self.key_at {
            self.bytes[at..at + ID_LEN].copy_from_slice(id.as_bytes());
        }
    }
}

/// splitmix64's finaliser: a bijection of `u64` that scatters consecutive numbers.
fn scatter(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Reads one response; returns its status. `buffer` keeps what was read past it.
async fn response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<u16, String> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).map_err(|_| "a response head that is not text")?;
            let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).ok_or("a response without a status")?;
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .ok_or("a response without Content-Length")?;
            let total = end + 4 + length;
            while buffer.len() < total {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..total);
            return Ok(status);
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), String> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) => Err("the server closed the connection".into()),
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

struct Shared {
    settings: Settings,
    run: u32,
    start: Instant,
    end: Instant,
    next: AtomicU64,
}

async fn connection(shared: Arc<Shared>, index: usize) -> Tally {
    let mut tally = Tally::default();
    let host = shared.settings.hosts[index % shared.settings.hosts.len()].clone();
    let mut request = match Request::new(&shared.settings, &host) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("{error}");
            tally.errors += 1;
            return tally;
        }
    };
    let mut stream: Option<TcpStream> = None;
    let mut buffer = Vec::with_capacity(16 * 1024);
    loop {
        let picked = Instant::now();
        if picked >= shared.end {
            break;
        }
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let due = match shared.settings.rate {
            Some(rate) => shared.start + Duration::from_secs_f64(n as f64 / rate),
            None => picked,
        };
        if due >= shared.end {
            break;
        }
        if due > picked {
            tokio::time::sleep_until(due.into()).await;
        }
        let sent = Instant::now();
        // Late because the connection was busy: the server's delay. Late because the timer woke late: ours.
        let from = if due <= picked { due } else { sent };
        if stream.is_none() {
            match TcpStream::connect(&host).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                    buffer.clear();
                }
                Err(_) => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        request.number(shared.run, n, shared.settings.random_ids);
        let outcome = match s.write_all(&request.bytes).await {
            Ok(()) => response(s, &mut buffer).await,
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(status) => {
                let done = Instant::now();
                if done <= shared.end {
                    tally.latencies_us.push(done.duration_since(from).as_micros().min(u32::MAX as u128) as u32);
                    *tally.statuses.entry(status).or_default() += 1;
                }
            }
            Err(_) => {
                tally.errors += 1;
                stream = None;
            }
        }
    }
    tally
}

fn main() {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("gateway-bench-load: {error}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(settings.threads.max(1)).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gateway-bench-load: {error}");
            std::process::exit(2);
        }
    };
    let run = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()) ^ std::process::id()) | 1;
    let seconds = settings.seconds;
    let connections = settings.connections;
    let start = Instant::now() + Duration::from_millis(50);
    let shared = Arc::new(Shared { run, start, end: start + Duration::from_secs_f64(seconds), next: AtomicU64::new(0), settings });
    let tallies: Vec<Tally> = runtime.block_on(async {
        tokio::time::sleep_until(start.into()).await;
        let tasks: Vec<_> = (0..connections).map(|i| tokio::spawn(connection(Arc::clone(&shared), i))).collect();
        let mut tallies = Vec::new();
        for task in tasks {
            if let Ok(tally) = task.await {
                tallies.push(tally);
            }
        }
        tallies
    });
    let mut latencies: Vec<u32> = tallies.iter().flat_map(|t| t.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for tally in &tallies {
        for (status, n) in &tally.statuses {
            *statuses.entry(*status).or_default() += n;
        }
    }
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let quantile = |q: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    let answered = latencies.len();
    let offered = shared.settings.rate.map_or("closed loop".to_string(), |r| format!("{r}/s offered"));
    println!("  requests/s: {:.0} ({answered} answered in {seconds} s; {offered}; {connections} connections)", answered as f64 / seconds);
    println!(
        "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        quantile(0.50),
        quantile(0.90),
        quantile(0.99),
        quantile(0.999),
        quantile(1.0)
    );
    let not_202: u64 = statuses.iter().filter(|(s, _)| **s != 202).map(|(_, n)| n).sum();
    let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!("  statuses: {}; connection errors: {errors}", statuses.join(", "));
    // For the script's medians.
    println!(
        "RESULT rps={:.0} p50={:.3} p99={:.3} p999={:.3} not202={not_202} errors={errors}",
        answered as f64 / seconds,
        quantile(0.50),
        quantile(0.99),
        quantile(0.999)
    );
}
