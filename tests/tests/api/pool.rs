//! The connection pool: the round trips a statement costs besides its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Backend, fresh_database, postgres_skipped};

/// `SSLRequest`'s code, in place of a protocol version: a message without a type byte.
const SSL_REQUEST: u32 = 80_877_103;

/// Counts, in one client's messages to PostgreSQL, the `Sync` messages that end no query (a
/// driver's ping: a `Sync` alone is the cheapest call and answer of the protocol). A query's
/// `Sync` follows its `Execute` (or `Describe` when a statement is prepared); a ping's follows
/// the previous `Sync`, a simple `Query`, or nothing.
#[derive(Default)]
struct Pings {
    buffer: Vec<u8>,
    started: bool,
    previous: Option<u8>,
    count: Arc<AtomicUsize>,
}

impl Pings {
    fn read(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        loop {
            let untyped = !self.started;
            let header = if untyped { 4 } else { 5 };
            if self.buffer.len() < header {
                return;
            }
            let at = header - 4;
            let length = u32::from_be_bytes(self.buffer[at..at + 4].try_into().unwrap()) as usize;
            let total = at + length;
            if self.buffer.len() < total {
                return;
            }
            if untyped {
                // The startup message (or an SSLRequest before it) has no type byte.
                let code = u32::from_be_bytes(self.buffer[4..8].try_into().unwrap());
                self.started = code != SSL_REQUEST;
            } else {
                let kind = self.buffer[0];
                if kind == b'S' && !matches!(self.previous, Some(b'E' | b'D' | b'P' | b'B' | b'C' | b'H')) {
                    self.count.fetch_add(1, Ordering::SeqCst);
                }
                self.previous = Some(kind);
            }
            self.buffer.drain(..total);
        }
    }
}

/// A TCP proxy in front of PostgreSQL that counts the pings of every connection through it.
async fn counting_proxy(upstream: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let pings = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(&upstream).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
            let mut counter = Pings { count: Arc::clone(&pings), ..Pings::default() };
            tokio::spawn(async move {
                let mut chunk = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = client_read.read(&mut chunk).await {
                    counter.read(&chunk[..n]);
                    if server_write.write_all(&chunk[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, count)
}

/// A statement outside a transaction takes a connection from the pool and gives it back. The
/// driver pinged a connection both when handing it out and when taking it back: three round
/// trips for one statement, on the path of every request. A connection in use is now handed
/// out without a ping (one that rested `PING_AFTER_IDLE` is still pinged), so 20 statements
/// cost 20 pings, those of the connection coming back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_connection_is_handed_out_without_a_ping() {
    let Some(url) = fresh_database(Backend::Postgres).await else {
        return postgres_skipped(module_path!());
    };
    let parsed = url::Url::parse(&url).unwrap();
    let upstream = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432));
    let (port, pings) = counting_proxy(upstream).await;
    let mut through = parsed.clone();
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(port)).unwrap();
    let settings = persistence::PoolSettings { max_connections: 1, ..persistence::PoolSettings::default() };
    let db = persistence::Database::connect(through.as_str(), &settings).await.unwrap();
    let one = || Statement::from_string(DatabaseBackend::Postgres, "SELECT 1 AS v");
    for _ in 0..5 {
        db.conn().query_one_raw(one()).await.unwrap(); // connects and prepares
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = pings.load(Ordering::SeqCst);
    for _ in 0..20 {
        db.conn().query_one_raw(one()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cost = pings.load(Ordering::SeqCst) - before;
    assert_eq!(cost, 20, "pings for 20 statements, one at a time on one connection");
}
