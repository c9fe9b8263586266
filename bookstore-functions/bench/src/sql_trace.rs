//! A trace of the SQL a client sends: a TCP proxy in front of PostgreSQL that reads the
//! frontend protocol (startup, `Query`, `Parse`, `Bind`, `Sync`) and forwards every byte
//! unchanged. Clients must connect with `sslmode=disable` (the proxy cannot read TLS).
//! A round trip is a `Query` or a `Sync`: the client waits for `ReadyForQuery` after each.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use anyhow::Context as _;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

/// One message the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// A connection's startup packet.
    Startup,
    /// Simple query protocol.
    Query(String),
    /// Extended protocol: a statement prepared (`name` empty for the unnamed statement).
    Parse {
        /// Statement name.
        name: String,
        /// Its SQL.
        sql: String,
    },
    /// Extended protocol: a prepared statement run again, with the SQL it was prepared from.
    Bind {
        /// Statement name.
        name: String,
        /// Its SQL, when this connection's `Parse` was seen.
        sql: Option<String>,
    },
    /// End of an extended-protocol exchange: one round trip.
    Sync,
}

/// A running proxy.
pub struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<Msg>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free port, forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the SQL trace proxy")?;
        let port = listener.local_addr()?.port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let log = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let _ = pipe(client, server, log).await;
                    }
                });
            }
        });
        Ok(Self { port, log, task })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything recorded since the last call.
    pub fn take(&self) -> Vec<Msg> {
        std::mem::take(
            &mut *self
                .log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    log: Arc<Mutex<Vec<Msg>>>,
) -> std::io::Result<()> {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let back =
        tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
    let mut parser = Parser::default();
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = client_read.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        server_write.write_all(&buf[..n]).await?;
        let msgs = parser.feed(&buf[..n]);
        if !msgs.is_empty() {
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(msgs);
        }
    }
    let _ = server_write.shutdown().await;
    back.abort();
    Ok(())
}

#[derive(Default)]
struct Parser {
    pending: Vec<u8>,
    started: bool,
    statements: HashMap<String, String>,
    /// The statement parsed in the current exchange: its `Bind` is not a second statement.
    just_parsed: Option<String>,
}

fn cstr(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let rest = bytes.get(end + 1..).unwrap_or_default();
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), rest)
}

fn be_len(bytes: &[u8]) -> usize {
    let mut raw = [0_u8; 4];
    raw.copy_from_slice(&bytes[..4]);
    usize::try_from(u32::from_be_bytes(raw)).unwrap_or(usize::MAX)
}

impl Parser {
    fn feed(&mut self, bytes: &[u8]) -> Vec<Msg> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if !self.started {
                // Untyped: length, then a code (SSLRequest, GSSENCRequest or the startup packet).
                if self.pending.len() < 8 {
                    break;
                }
                let len = be_len(&self.pending);
                if self.pending.len() < len {
                    break;
                }
                let code = be_len(&self.pending[4..]);
                if code != 80_877_103 && code != 80_877_104 {
                    self.started = true;
                    out.push(Msg::Startup);
                }
                self.pending.drain(..len);
                continue;
            }
            if self.pending.len() < 5 {
                break;
            }
            let tag = self.pending[0];
            let len = be_len(&self.pending[1..]);
            if self.pending.len() < 1 + len {
                break;
            }
            let body = self.pending[5..=len].to_vec();
            self.pending.drain(..=len);
            match tag {
                b'Q' => out.push(Msg::Query(cstr(&body).0)),
                b'P' => {
                    let (name, rest) = cstr(&body);
                    let (sql, _) = cstr(rest);
                    if !name.is_empty() {
                        self.statements.insert(name.clone(), sql.clone());
                    }
                    self.just_parsed = Some(name.clone());
                    out.push(Msg::Parse { name, sql });
                }
                b'B' => {
                    let (_portal, rest) = cstr(&body);
                    let (name, _) = cstr(rest);
                    if !name.is_empty() && self.just_parsed.as_deref() != Some(name.as_str()) {
                        let sql = self.statements.get(&name).cloned();
                        out.push(Msg::Bind { name, sql });
                    }
                }
                b'S' => {
                    self.just_parsed = None;
                    out.push(Msg::Sync);
                }
                _ => {}
            }
        }
        out
    }
}

/// Round trips in a trace.
pub fn round_trips(msgs: &[Msg]) -> usize {
    msgs.iter()
        .filter(|m| matches!(m, Msg::Query(_) | Msg::Sync))
        .count()
}

fn squash(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 140 {
        format!("{}…", one_line.chars().take(140).collect::<String>())
    } else {
        one_line
    }
}

/// The statements in a trace, one per line, as markdown list items: `parse` for a
/// statement sent with its text, `execute <name>` for a cached one.
pub fn render(msgs: &[Msg]) -> String {
    let mut out = String::new();
    for m in msgs {
        let line = match m {
            Msg::Startup => "connect (startup packet)".to_owned(),
            Msg::Query(sql) => format!("simple query: `{}`", squash(sql)),
            Msg::Parse { name, sql } if name.is_empty() => {
                format!("parse (unnamed): `{}`", squash(sql))
            }
            Msg::Parse { name, sql } => format!("parse as `{name}`: `{}`", squash(sql)),
            Msg::Bind { name, sql } => format!(
                "execute cached `{name}`: `{}`",
                sql.as_deref().map_or_else(|| "?".to_owned(), squash)
            ),
            Msg::Sync => continue,
        };
        out.push_str("    - ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}
