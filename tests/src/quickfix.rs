//! QuickFIX's `executor` example (Debian `libquickfix-doc`) as a reference FIX peer for the
//! interop tests (a test fixture: it lived in the gateway's public API until issue #11): an
//! acceptor that fills every limit order at its price.
//!
//! [`Executor::start`] unpacks the binary into a directory, writes its `executor.cfg` (acceptor
//! on a loopback port, file store in that directory, BeginString FIX.4.4) and runs it as a
//! child process, killed when the [`Executor`] is dropped. Its store stays in the directory,
//! so a restart continues the session's sequence numbers.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Where Debian's libquickfix-doc puts the executor (gzip-compressed).
pub const EXECUTOR_GZ: &str =
    "/usr/share/doc/libquickfix-doc/examples/executor/C++/.libs/executor.gz";

/// The executor cannot be run.
#[derive(Debug, Error)]
pub enum InteropError {
    /// The Debian packages are not installed.
    #[error("QuickFIX executor not found at {EXECUTOR_GZ}: install it with `apt-get install -y libquickfix17 libquickfix-doc` (CI's .ci/run does)")]
    NotInstalled,
    /// Unpacking or starting failed.
    #[error("QuickFIX executor: {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// It did not start listening.
    #[error("QuickFIX executor did not listen on {addr} within {secs} s (log: {log})")]
    NotListening {
        /// The address.
        addr: SocketAddr,
        /// How long we waited.
        secs: u64,
        /// Its output.
        log: String,
    },
}

fn io<'a>(what: &'a str) -> impl FnOnce(std::io::Error) -> InteropError + 'a {
    move |source| InteropError::Io {
        what: what.to_string(),
        source,
    }
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running QuickFIX executor.
#[derive(Debug)]
pub struct Executor {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    sender: String,
    target: String,
    /// Print every incoming message to `executor.out` (ScreenLogShowIncoming=Y).
    log_incoming: bool,
}

impl Executor {
    /// Unpacks and starts the executor in `dir` on `port` (0 = pick a free one), playing
    /// `sender` (its CompID) toward `target` (ours).
    pub fn start(dir: &Path, port: u16, sender: &str, target: &str) -> Result<Self, InteropError> {
        Self::start_with(dir, port, sender, target, false)
    }

    /// [`Executor::start`], and with `log_incoming` every message it receives is printed to
    /// `executor.out` (its screen log; the example has no file log): what the daemon tests
    /// read to know every order the LP got.
    pub fn start_with(
        dir: &Path,
        port: u16,
        sender: &str,
        target: &str,
        log_incoming: bool,
    ) -> Result<Self, InteropError> {
        if !Path::new(EXECUTOR_GZ).is_file() {
            return Err(InteropError::NotInstalled);
        }
        let port = if port == 0 {
            free_port().map_err(io("pick a port"))?
        } else {
            port
        };
        let mut e = Executor {
            child: None,
            dir: dir.to_path_buf(),
            port,
            sender: sender.into(),
            target: target.into(),
            log_incoming,
        };
        e.restart()?;
        Ok(e)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its working directory (store, logs, config).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills it (SIGKILL: no Logout, as a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops it with SIGSTOP (it keeps its socket but reads nothing), or resumes it (SIGCONT).
    pub fn pause(&mut self, stop: bool) -> Result<(), InteropError> {
        let Some(c) = self.child.as_ref() else {
            return Ok(());
        };
        let sig = if stop { "-STOP" } else { "-CONT" };
        let st = Command::new("kill")
            .arg(sig)
            .arg(c.id().to_string())
            .status()
            .map_err(io("run kill"))?;
        if !st.success() {
            return Err(InteropError::Io {
                what: format!("kill {sig}"),
                source: std::io::Error::other("kill failed"),
            });
        }
        // kill(2) returns before the signal takes effect; a test that sends orders "while the
        // executor is stopped" must know it is stopped, so wait until /proc says so.
        let stat = format!("/proc/{}/stat", c.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let Ok(text) = std::fs::read_to_string(&stat) else {
                break; // no procfs (or the process is gone): nothing more to wait for
            };
            // The state is the first field after the parenthesised command name.
            let state = text
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            if matches!(state, Some('T') | Some('t')) == stop {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    /// Kills it if running and starts it again on the same port with the same store.
    pub fn restart(&mut self) -> Result<(), InteropError> {
        self.kill();
        std::fs::create_dir_all(&self.dir).map_err(io("create the executor directory"))?;
        let bin = self.dir.join("executor");
        if !bin.is_file() {
            let out = Command::new("gzip")
                .arg("-dc")
                .arg(EXECUTOR_GZ)
                .output()
                .map_err(io("run gzip -dc on executor.gz"))?;
            if !out.status.success() {
                return Err(InteropError::Io {
                    what: "unpack executor.gz".into(),
                    source: std::io::Error::other(
                        String::from_utf8_lossy(&out.stderr).into_owned(),
                    ),
                });
            }
            std::fs::write(&bin, &out.stdout).map_err(io("write the executor binary"))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
                    .map_err(io("chmod the executor"))?;
            }
        }
        let cfg = self.dir.join("executor.cfg");
        let mut f = std::fs::File::create(&cfg).map_err(io("write executor.cfg"))?;
        write!(
            f,
            "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={port}\nSocketAcceptAddress=127.0.0.1\n\
             SocketReuseAddress=Y\nSocketNodelay=Y\nFileStorePath={dir}/store\nFileLogPath={dir}/log\n\
             StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=N\nScreenLogShowIncoming={inc}\n\
             ScreenLogShowOutgoing=N\nScreenLogShowEvents=Y\n\n[SESSION]\nBeginString=FIX.4.4\n\
             SenderCompID={s}\nTargetCompID={t}\nHeartBtInt=30\n",
            port = self.port,
            dir = self.dir.display(),
            s = self.sender,
            t = self.target,
            inc = if self.log_incoming { 'Y' } else { 'N' },
        )
        .map_err(io("write executor.cfg"))?;
        drop(f);
        let log = std::fs::File::create(self.dir.join("executor.out"))
            .map_err(io("create executor.out"))?;
        // ETXTBSY: another thread of this process forked while our write descriptor of the
        // fresh binary was open, and the child still holds it; it closes at that child's exec.
        let mut tries = 0;
        let child = loop {
            let r = Command::new(&bin)
                .arg(&cfg)
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(io("dup executor.out"))?)
                .stderr(log.try_clone().map_err(io("dup executor.out"))?)
                .spawn();
            match r {
                Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => {
                    break r.map_err(io(
                        "start the executor (check `ldd` on it: it needs libquickfix.so.17)",
                    ))?
                }
            }
        };
        self.child = Some(child);
        let t0 = Instant::now();
        let addr = self.addr();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if t0.elapsed() > Duration::from_secs(15) || self.exited() {
                let log =
                    std::fs::read_to_string(self.dir.join("executor.out")).unwrap_or_default();
                self.kill();
                return Err(InteropError::NotListening {
                    addr,
                    secs: 15,
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.kill();
    }
}
