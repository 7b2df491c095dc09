//! What the `optbench serve` tests share: the binary started on loopback
//! (port 0, the address read from --port-file), requests on their own
//! connections, `optbench predict`'s answers to compare with. Every wait
//! here is bounded.

#![allow(dead_code)] // each test file uses its own share

use serde_json::{json, Value as Json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn optbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_optbench"));
    c.current_dir(root());
    c
}

/// A running server, stopped (SIGKILL) if a test fails before it does.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// Where the server's standard output and error go.
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(model: &Path, dir: &Path) -> Server {
        Server::start_with(model, dir, &[])
    }

    /// Started and ready.
    pub fn start_with(model: &Path, dir: &Path, extra: &[&str]) -> Server {
        let server = Server::spawn(model, dir, extra);
        server.wait_ready();
        server
    }

    /// Started and listening (its address read from --port-file), maybe not
    /// ready yet.
    pub fn spawn(model: &Path, dir: &Path, extra: &[&str]) -> Server {
        let port_file = dir.join("port.txt");
        let _ = std::fs::remove_file(&port_file);
        let (stdout, stderr) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
        let child = optbench()
            .args(["serve", "--model"])
            .arg(model)
            .args(["--addr", "127.0.0.1:0", "--threads", "2", "--port-file"])
            .arg(&port_file)
            .args(extra)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("optbench serve starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if text.ends_with('\n') {
                    break text.trim().to_string();
                }
            }
            assert!(Instant::now() < deadline, "no port file within 30 s");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        Server {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    /// Polls /v2/health/ready until it answers 200 (within 120 s).
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, body) = self.call("GET", "/v2/health/ready", "");
            if status == 200 {
                return;
            }
            assert_eq!(status, 503, "{body}");
            assert!(Instant::now() < deadline, "not ready within 120 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a request's head and the first `sent` bytes of its body, and
    /// leaves the connection open: a request in flight until
    /// [`Server::finish`].
    pub fn open_partial(&self, method: &str, path: &str, body: &str, sent: usize) -> TcpStream {
        let mut s = TcpStream::connect(&self.addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.addr,
            body.len(),
            &body[..sent]
        )
        .unwrap();
        s.flush().unwrap();
        s
    }

    /// Sends the rest of a partial request and reads its answer.
    pub fn finish(mut s: TcpStream, rest: &str) -> (u16, String) {
        s.write_all(rest.as_bytes()).unwrap();
        read_response(&mut s)
    }

    /// One request on its own connection: (status, body).
    pub fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        read_response(&mut s)
    }

    /// One request with extra header lines and a body of any bytes:
    /// (status, head, body).
    pub fn call_bytes(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(&self.addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut response = Vec::new();
        s.read_to_end(&mut response).expect("a response");
        let end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head and a body");
        let head = String::from_utf8(response[..end].to_vec()).expect("UTF-8 head");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status code");
        (status, head, response[end + 4..].to_vec())
    }

    pub fn json(&self, method: &str, path: &str, body: &Json) -> (u16, Json) {
        let (status, text) = self.call(method, path, &body.to_string());
        let parsed = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (status, parsed)
    }

    /// SIGTERM, then the exit status (within 20 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running 20 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads an answer to its end (the requests say `Connection: close`):
/// (status, body).
pub fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("a response");
    let text = String::from_utf8(response).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (status, body.to_string())
}

/// The rows of a CSV file: header, then cells as text.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// `optbench predict --proba` of `input`: (classes, probabilities as f32).
pub fn predicted(model: &Path, input: &Path, dir: &Path) -> (Vec<String>, Vec<Vec<f32>>) {
    let out = dir.join("predict.csv");
    let status = optbench()
        .args(["predict", "--proba", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let (_, rows) = read_csv(&out);
    let classes = rows.iter().map(|r| r[1].clone()).collect();
    let proba = rows
        .iter()
        .map(|r| r[2..].iter().map(|p| p.parse::<f32>().unwrap()).collect())
        .collect();
    (classes, proba)
}

/// The served classes and probabilities of a V2 response.
pub fn served(response: &Json) -> (Vec<String>, Vec<Vec<f32>>) {
    let output = |name: &str| {
        response["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {response}"))
    };
    let labels = output("label")["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let p = output("probabilities");
    let k = p["shape"][1].as_u64().unwrap() as usize;
    let flat: Vec<f32> = p["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    (labels, flat.chunks(k).map(<[f32]>::to_vec).collect())
}

pub fn bits(p: &[Vec<f32>]) -> Vec<Vec<u32>> {
    p.iter()
        .map(|r| r.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// A cell as a V2 or JSON client sends it: a number, `null` for a missing
/// value, text for a categorical column.
pub fn cell(text: &str, categorical: bool) -> Json {
    if text.is_empty() || text == "NA" {
        Json::Null
    } else if categorical {
        json!(text)
    } else {
        json!(text.parse::<f64>().unwrap())
    }
}

/// The penguins fixture's categorical columns (its first column is the
/// target).
pub const PENGUINS_CATEGORICAL: [&str; 2] = ["island", "sex"];

/// A penguins row as a /predict object (all columns but the target).
pub fn penguin(header: &[String], row: &[String]) -> serde_json::Map<String, Json> {
    let mut o = serde_json::Map::new();
    for (j, name) in header.iter().enumerate().skip(1) {
        o.insert(
            name.clone(),
            cell(&row[j], PENGUINS_CATEGORICAL.contains(&name.as_str())),
        );
    }
    o
}

/// The V2 request of penguins rows, one tensor per column.
pub fn v2_request(header: &[String], rows: &[Vec<String>]) -> Json {
    let inputs: Vec<Json> = header
        .iter()
        .enumerate()
        .skip(1)
        .map(|(j, name)| {
            let categorical = PENGUINS_CATEGORICAL.contains(&name.as_str());
            json!({
                "name": name,
                "shape": [rows.len(), 1],
                "datatype": if categorical { "BYTES" } else { "FP64" },
                "data": rows.iter().map(|r| cell(&r[j], categorical)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "inputs": inputs })
}
