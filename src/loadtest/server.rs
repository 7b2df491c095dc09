//! The server under load: `optbench serve` started on the package (this
//! executable, on 127.0.0.1 with a free port) and timed from exec to ready,
//! or one already running; its `/metrics` read between steps, and its
//! memory read at the end.

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the report says about the server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub addr: String,
    pub name: String,
    pub model_id: String,
    /// The package's version as served (its SHA-256 prefix).
    pub version: String,
    /// Started by the load test (and so timed and measured below).
    pub started_here: bool,
    pub threads: Option<usize>,
    /// From starting the process to the first 200 of `/v2/health/ready`
    /// (polled every millisecond).
    pub cold_start_ms: Option<f64>,
    /// Resident memory at the end, and its peak (Linux `/proc`), in KiB.
    pub rss_kib: Option<u64>,
    pub peak_rss_kib: Option<u64>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub name: String,
    child: Option<Child>,
    info: ServerInfo,
}

/// One GET on its own connection: (status, body), `None` when the server
/// cannot be reached.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let call = async {
            let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                    .await
                    .ok()?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let request = hyper::Request::get(path)
                .header(hyper::header::HOST, addr.to_string())
                .body(Empty::new())
                .ok()?;
            let response = sender.send_request(request).await.ok()?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .ok()
            .flatten()
    })
}

fn info(addr: SocketAddr, name: &str, artifact: &Artifact) -> ServerInfo {
    ServerInfo {
        addr: addr.to_string(),
        name: name.into(),
        model_id: artifact.metadata.model.id.clone(),
        version: artifact
            .metadata
            .model_file
            .sha256
            .chars()
            .take(12)
            .collect(),
        started_here: false,
        threads: None,
        cold_start_ms: None,
        rss_kib: None,
        peak_rss_kib: None,
    }
}

impl Running {
    /// A server already running on `addr`, serving `artifact`.
    pub fn existing(addr: SocketAddr, artifact: &Artifact) -> Result<Running> {
        if !matches!(get(addr, "/v2/health/ready"), Some((200, _))) {
            return Err(Error::Flag {
                flag: "--addr".into(),
                message: format!("no ready V2 server answers on {addr} (GET /v2/health/ready)"),
            });
        }
        // The name `optbench serve` gives the package without --name.
        let name = crate::serve::model_name(&artifact.metadata.model.id);
        Ok(Running {
            addr,
            name: name.clone(),
            child: None,
            info: info(addr, &name, artifact),
        })
    }

    /// Any HTTP server on `addr` (one that accepts a connection), loaded
    /// at `path`.
    pub fn endpoint(addr: SocketAddr, path: &str) -> Result<Running> {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_err() {
            return Err(Error::Flag {
                flag: "--url".into(),
                message: format!("nothing accepts connections on {addr}"),
            });
        }
        Ok(Running {
            addr,
            name: path.into(),
            child: None,
            info: ServerInfo {
                addr: addr.to_string(),
                name: path.into(),
                model_id: String::new(),
                version: String::new(),
                started_here: false,
                threads: None,
                cold_start_ms: None,
                rss_kib: None,
                peak_rss_kib: None,
            },
        })
    }

    /// Starts `optbench serve` on `model` (127.0.0.1, a free port) and
    /// waits until it is ready, timing it.
    pub fn start(model: &Path, threads: usize, artifact: &Artifact) -> Result<Running> {
        let exe = std::env::current_exe().map_err(|e| Error::io(model, e))?;
        let dir = tempfile_dir()?;
        let port_file = dir.join("port.txt");
        let started = Instant::now();
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .arg("--model")
            .arg(model)
            .args(["--addr", "127.0.0.1:0", "--port-file"])
            .arg(&port_file)
            .stdout(Stdio::null());
        if threads > 0 {
            command.args(["--threads", &threads.to_string()]);
        }
        let mut child = command.spawn().map_err(|e| Error::io(model, e))?;
        let deadline = started + Duration::from_secs(60);
        let fail = |child: &mut Child, message: String| {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::Measure(message))
        };
        let addr: SocketAddr = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Some(a) = text.strip_suffix('\n').and_then(|t| t.parse().ok()) {
                    break a;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Error::Measure(format!(
                    "optbench serve exited ({status}) before it listened"
                )));
            }
            if Instant::now() > deadline {
                return fail(
                    &mut child,
                    "optbench serve did not listen within 60 s".into(),
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        loop {
            if matches!(get(addr, "/v2/health/ready"), Some((200, _))) {
                break;
            }
            if Instant::now() > deadline {
                return fail(
                    &mut child,
                    "optbench serve was not ready within 60 s".into(),
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let cold = started.elapsed().as_secs_f64() * 1e3;
        let _ = std::fs::remove_dir_all(&dir);
        let name = crate::serve::model_name(&artifact.metadata.model.id);
        let mut info = info(addr, &name, artifact);
        info.started_here = true;
        info.threads = Some(if threads > 0 {
            threads
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        });
        info.cold_start_ms = Some(cold);
        Ok(Running {
            addr,
            name,
            child: Some(child),
            info,
        })
    }

    /// The server's `/metrics` text.
    pub fn metrics(&self) -> Option<String> {
        match get(self.addr, "/metrics") {
            Some((200, text)) => Some(text),
            _ => None,
        }
    }

    /// Reads the server's memory, stops a server started here (SIGTERM,
    /// then waits), and returns what the report says about it.
    pub fn finish(mut self) -> Result<ServerInfo> {
        let mut info = self.info.clone();
        if let Some(mut child) = self.child.take() {
            let status =
                std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
            let kib = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            };
            info.rss_kib = kib("VmRSS:");
            info.peak_rss_kib = kib("VmHWM:");
            stop(&mut child);
        }
        Ok(info)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            stop(child);
        }
    }
}

/// SIGTERM (a graceful drain), then at most 10 s before SIGKILL.
fn stop(child: &mut Child) {
    #[cfg(unix)]
    // SAFETY: kill(2) with the id of a child this process started and has
    // not yet reaped; it touches no memory.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh private directory for the port file.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "optbench-loadtest-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
