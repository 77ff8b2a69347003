//! A delaying TCP proxy on 127.0.0.1: every byte crosses it `one_way` later than it
//! arrived, in each direction, so a loopback server looks `2 × one_way` away (the round
//! trip of a distant S3). Bytes keep their order; nothing else changes. It counts the
//! connections it accepted, so a benchmark can tell whether a client reused them.
//!
//! Each direction of a connection is a reader task stamping each chunk with its due time
//! and a writer task sending it then: the delay is a pipeline, not a stall, so the proxy
//! carries thousands of requests per second whatever the delay. With a zero delay it is a
//! plain relay.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A running proxy; it stops when dropped.
pub struct LatencyProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LatencyProxy {
    /// Starts a proxy to `upstream` (`host:port` or `http://host:port`) on `port` (0: any
    /// free port), delaying each direction by `one_way`.
    pub async fn start(upstream: &str, port: u16, one_way: Duration) -> std::io::Result<Self> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, one_way).await;
                    }
                });
            }
        });
        Ok(LatencyProxy {
            url,
            accepted,
            task,
        })
    }

    /// How many client connections the proxy has accepted.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

async fn relay(mut client: TcpStream, mut server: TcpStream, one_way: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    if one_way.is_zero() {
        let _ = tokio::io::copy_bidirectional_with_sizes(
            &mut client,
            &mut server,
            256 << 10,
            256 << 10,
        )
        .await;
        return;
    }
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        direction(client_read, server_write, one_way),
        direction(server_read, client_write, one_way),
    );
}

/// One direction: chunks read now are written `one_way` later, in order; the end of the
/// stream is passed on (as a shutdown of the write side) after the same delay.
async fn direction(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, one_way: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            buf.truncate(n);
            let due = Instant::now() + one_way;
            // An empty chunk is the end of the stream.
            if tx.send((due, buf)).is_err() || n == 0 {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            if !one_way.is_zero() {
                tokio::time::sleep_until(due).await;
            }
            if chunk.is_empty() || to.write_all(&chunk).await.is_err() {
                let _ = to.shutdown().await;
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}
