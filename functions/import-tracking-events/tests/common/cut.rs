//! TCP proxies that cut connections mid-stream, for testing that an import survives a dropped
//! source connection with the real protocols (S3 on moto, FTP on pyftpdlib).
//!
//! A connection is cut once its server-to-client bytes reach `cut_after`, for the first `cuts`
//! connections that get that far; smaller exchanges (listings, logins) pass untouched. The FTP
//! proxy also rewrites passive-mode replies so data connections run through it too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The `host:port` of an `http://host:port` endpoint.
pub fn socket_of(endpoint: &str) -> SocketAddr {
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    host.parse().expect("an http://127.0.0.1:port endpoint")
}

/// How many cuts are left to make, and how many were made.
#[derive(Debug, Default)]
pub struct Cuts {
    left: AtomicU32,
    made: AtomicU32,
}

impl Cuts {
    pub fn new(cuts: u32) -> Arc<Cuts> {
        Arc::new(Cuts {
            left: AtomicU32::new(cuts),
            made: AtomicU32::new(0),
        })
    }

    pub fn made(&self) -> u32 {
        self.made.load(Ordering::SeqCst)
    }

    /// Takes one cut, if any is left.
    fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Relays `client` ⇄ `server`, cutting both once the server has sent `cut_after` bytes (if a
/// cut is left for this connection when it gets there).
async fn relay(client: TcpStream, server: TcpStream, cut_after: u64, cuts: Arc<Cuts>) {
    relay_within(client, server, cut_after, cuts, None).await
}

/// What a stalling proxy still relays from its server, in bytes, over all its connections.
type Budget = Arc<AtomicU64>;

/// [`relay`], holding the connection open without passing on anything more once `budget` (if
/// any) is spent: a server that stops answering.
async fn relay_within(
    client: TcpStream,
    server: TcpStream,
    cut_after: u64,
    cuts: Arc<Cuts>,
    budget: Option<Budget>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(budget) = &budget {
            let spent = budget
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(n as u64)
                })
                .is_err();
            if spent {
                std::future::pending::<()>().await;
            }
        }
        if sent + n as u64 >= cut_after && cuts.take() {
            let keep = (cut_after - sent) as usize;
            let _ = client_write.write_all(&buf[..keep]).await;
            cuts.made.fetch_add(1, Ordering::SeqCst);
            upstream.abort();
            // Dropping both halves resets the connection mid-response.
            return;
        }
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n as u64;
        if sent >= cut_after {
            // Past the cut point without a cut to make: just relay the rest.
            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            break;
        }
    }
    let _ = client_write.shutdown().await;
    let _ = upstream.await;
}

/// A plain TCP proxy to `upstream` (an HTTP server such as moto).
pub struct CutProxy {
    pub addr: SocketAddr,
    pub cuts: Arc<Cuts>,
    accept: JoinHandle<()>,
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl CutProxy {
    pub async fn start(upstream: SocketAddr, cut_after: u64, cuts: u32) -> CutProxy {
        let (addr, cuts, accept) = listen(upstream, cuts, move |client, server, cuts| {
            relay(client, server, cut_after, cuts)
        })
        .await;
        CutProxy { addr, cuts, accept }
    }

    /// A proxy that relays the server's first `budget` bytes (over all connections), then holds
    /// every connection open and relays nothing more: the client stalls there, however fast
    /// it is, until the test is done with it.
    pub async fn start_stalling(upstream: SocketAddr, budget: u64) -> CutProxy {
        let budget: Budget = Arc::new(AtomicU64::new(budget));
        let (addr, cuts, accept) = listen(upstream, 0, move |client, server, cuts| {
            relay_within(client, server, u64::MAX, cuts, Some(Arc::clone(&budget)))
        })
        .await;
        CutProxy { addr, cuts, accept }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// An FTP proxy: the control connection is relayed line by line, passive-mode replies are
/// pointed at a listener of ours, and data connections are cut like [`CutProxy`]'s.
pub struct FtpCutProxy {
    pub addr: SocketAddr,
    pub cuts: Arc<Cuts>,
    accept: JoinHandle<()>,
}

impl Drop for FtpCutProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FtpCutProxy {
    pub async fn start(upstream: SocketAddr, cut_after: u64, cuts: u32) -> FtpCutProxy {
        let (addr, cuts, accept) = listen(upstream, cuts, move |client, server, cuts| {
            control(client, server, upstream, cut_after, cuts)
        })
        .await;
        FtpCutProxy { addr, cuts, accept }
    }
}

/// Listens on a free loopback port and hands every accepted client, with its own connection to
/// `upstream`, to `serve`; the listener and `serve` share one budget of `cuts`.
async fn listen<F, Fut>(
    upstream: SocketAddr,
    cuts: u32,
    serve: F,
) -> (SocketAddr, Arc<Cuts>, JoinHandle<()>)
where
    F: Fn(TcpStream, TcpStream, Arc<Cuts>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cuts = Cuts::new(cuts);
    let for_accept = Arc::clone(&cuts);
    let serve = Arc::new(serve);
    let accept = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (cuts, serve) = (Arc::clone(&for_accept), Arc::clone(&serve));
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(upstream).await {
                    serve(client, server, cuts).await;
                }
            });
        }
    });
    (addr, cuts, accept)
}

/// Relays one FTP control connection, rewriting `227` (PASV) and `229` (EPSV) replies.
async fn control(
    client: TcpStream,
    server: TcpStream,
    upstream: SocketAddr,
    cut_after: u64,
    cuts: Arc<Cuts>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    let commands = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut replies = BufReader::new(server_read);
    let mut line = String::new();
    loop {
        line.clear();
        match replies.read_line(&mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let rewritten = if line.starts_with("227 ") || line.starts_with("229 ") {
            let data = data_address(&line, upstream);
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let cuts = Arc::clone(&cuts);
            tokio::spawn(async move {
                if let Ok((client, _)) = listener.accept().await
                    && let Ok(server) = TcpStream::connect(data).await
                {
                    relay(client, server, cut_after, cuts).await;
                }
            });
            if line.starts_with("227 ") {
                format!(
                    "227 Entering Passive Mode (127,0,0,1,{},{}).\r\n",
                    port >> 8,
                    port & 0xff
                )
            } else {
                format!("229 Entering Extended Passive Mode (|||{port}|)\r\n")
            }
        } else {
            line.clone()
        };
        if client_write.write_all(rewritten.as_bytes()).await.is_err() {
            break;
        }
    }
    commands.abort();
}

/// The server's data address from a `227 … (h1,h2,h3,h4,p1,p2)` or `229 … (|||port|)` reply.
fn data_address(reply: &str, upstream: SocketAddr) -> SocketAddr {
    let inner = &reply[reply.find('(').unwrap() + 1..reply.rfind(')').unwrap()];
    if reply.starts_with("229 ") {
        let port = inner.trim_matches('|').parse().unwrap();
        return SocketAddr::new(upstream.ip(), port);
    }
    let n: Vec<u16> = inner
        .split(',')
        .map(|p| p.trim().parse().unwrap())
        .collect();
    SocketAddr::new(upstream.ip(), (n[4] << 8) | n[5])
}
