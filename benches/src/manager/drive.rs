//! [`drive`]: plays a [`Schedule`] through a [`ManagerClient`] on the capture's clock.
//!
//! The replay clock starts at the schedule's first quote time; each step is sent once that
//! clock passes its time (`Speed::Max`: at once, in order). The driver does not watch the
//! daemon's market data: event-time sequencing holds each order until the market reaches its
//! time, so all the manager owes is orders and clocks in nondecreasing time. While the daemon
//! is away the driver keeps reconnecting and waits; what was sent before a crash and not
//! journaled comes back through FIX resend from the client's store, not from here.

use std::time::{Duration, Instant};

use mam_feed::replay::Speed;
use mam_gateway::fix::session::SessionError;

use super::client::{ManagerClient, ManagerError};
use super::msg::{Ack, Fate};
use super::schedule::{Action, Schedule, Step};

/// How to drive.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    /// Pace of the replay clock against the wall clock.
    pub pace: Speed,
    /// After `end()`: give up waiting for the last answers after this long (counted while
    /// logged on, so a daemon being restarted does not eat it).
    pub ack_timeout: Duration,
    /// After every answer is in: stay connected (answering resends of a restarted daemon)
    /// until the daemon logs out or `linger_timeout` passes without a logged-on session.
    pub linger: bool,
    /// See `linger`.
    pub linger_timeout: Duration,
    /// How often [`DriveEvent::Progress`] is reported.
    pub progress_every: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            pace: Speed::Max,
            ack_timeout: Duration::from_secs(60),
            linger: false,
            linger_timeout: Duration::from_secs(30),
            progress_every: Duration::from_secs(1),
        }
    }
}

/// Counts of a drive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveReport {
    /// Steps in the schedule (orders and clocks).
    pub steps: usize,
    /// Master orders in the schedule.
    pub orders: usize,
    /// Steps found already sent in the store (a restarted manager skips them).
    pub resumed: usize,
    /// Orders accepted (150=0).
    pub accepted: usize,
    /// Orders refused or rejected.
    pub refused: usize,
    /// Orders still unanswered at the end.
    pub pending: usize,
    /// `end()` is sent.
    pub ended: bool,
    /// Connections made.
    pub connects: u64,
    /// The daemon logged out after the end (lingering only).
    pub peer_logged_out: bool,
    /// Wall time.
    pub elapsed: Duration,
}

impl DriveReport {
    /// Every order accepted and `end()` sent.
    pub fn done(&self) -> bool {
        self.ended && self.pending == 0 && self.refused == 0 && self.accepted == self.orders
    }
}

/// What the driver reports as it goes.
#[derive(Debug)]
pub enum DriveEvent<'a> {
    /// An answer arrived.
    Ack(&'a Ack),
    /// Every order is answered and `end()` is sent (lingering, if asked, starts now).
    Answered(DriveReport),
    /// Periodic: steps sent so far, and the counts.
    Progress {
        /// Steps sent (resumed ones included).
        sent: usize,
        /// The replay clock reached (capture time of the last step sent).
        clock_ns: u64,
        /// The counts so far.
        report: DriveReport,
    },
}

const TURN: Duration = Duration::from_millis(5);

fn counts(c: &ManagerClient, r: &mut DriveReport) {
    r.accepted = 0;
    r.refused = 0;
    r.pending = 0;
    for f in c.fates().values() {
        match f {
            Fate::Accepted => r.accepted += 1,
            Fate::Refused => r.refused += 1,
            Fate::Pending => r.pending += 1,
        }
    }
    r.ended = c.ended();
    r.connects = c.connects();
}

fn send_step(c: &mut ManagerClient, s: &Step) -> Result<u64, ManagerError> {
    match &s.action {
        Action::Open(o) => c.open_order(o),
        Action::Close(x) => c.close_order(x),
        Action::Cancel(x) => c.cancel_order(x),
        Action::Clock(t) => c.clock(*t),
    }
}

/// Not an error, only "later": the daemon is away or the socket is full.
fn retry_later(e: &ManagerError) -> bool {
    matches!(
        e,
        ManagerError::Session(SessionError::NotLoggedOn(_) | SessionError::Backpressure { .. })
    )
}

struct Driver<'a> {
    c: &'a mut ManagerClient,
    on: &'a mut dyn FnMut(DriveEvent<'_>),
    r: DriveReport,
    t0: Instant,
    last_progress: Instant,
    every: Duration,
    sent: usize,
    clock_ns: u64,
}

impl Driver<'_> {
    fn turn(&mut self, timeout: Duration) -> Result<(), ManagerError> {
        for a in self.c.poll(timeout)? {
            (self.on)(DriveEvent::Ack(&a));
        }
        if self.last_progress.elapsed() >= self.every {
            self.last_progress = Instant::now();
            self.progress();
        }
        Ok(())
    }

    fn progress(&mut self) {
        counts(self.c, &mut self.r);
        self.r.elapsed = self.t0.elapsed();
        (self.on)(DriveEvent::Progress {
            sent: self.sent,
            clock_ns: self.clock_ns,
            report: self.r,
        });
    }
}

/// Sends `schedule` through `client` (skipping the steps its store shows as sent), then
/// `end()`, then waits for every answer (and lingers if asked). `on` sees every answer and
/// the periodic progress.
pub fn drive(
    client: &mut ManagerClient,
    schedule: &Schedule,
    opts: &DriveOptions,
    on: &mut dyn FnMut(DriveEvent<'_>),
) -> Result<DriveReport, ManagerError> {
    let steps = &schedule.steps;
    let resumed = (client.sent() as usize).min(steps.len());
    let mut d = Driver {
        c: client,
        on,
        r: DriveReport {
            steps: steps.len(),
            orders: schedule.orders(),
            resumed,
            ..DriveReport::default()
        },
        t0: Instant::now(),
        last_progress: Instant::now(),
        every: opts.progress_every,
        sent: resumed,
        clock_ns: 0,
    };
    // A resumed run paces from where it resumes, not from the capture's start.
    let base_ns = steps.get(resumed).map_or(schedule.start_ns, |s| s.time_ns);
    let mut i = resumed;
    while i < steps.len() {
        let s = &steps[i];
        if let Speed::Times { milli } = opts.pace {
            let due = Duration::from_nanos(
                (u128::from(s.time_ns.saturating_sub(base_ns)) * 1000 / u128::from(milli.max(1)))
                    .min(u128::from(u64::MAX)) as u64,
            );
            let now = d.t0.elapsed();
            if now < due {
                d.turn((due - now).min(TURN))?;
                continue;
            }
        }
        if !d.c.is_logged_on() {
            d.turn(TURN)?;
            continue;
        }
        match send_step(d.c, s) {
            Ok(_) => {
                i += 1;
                d.sent = i;
                d.clock_ns = s.time_ns;
                // Read answers now and then so neither side's socket fills up.
                if i.is_multiple_of(256) {
                    d.turn(Duration::ZERO)?;
                }
            }
            Err(e) if retry_later(&e) => d.turn(TURN)?,
            Err(e) => return Err(e),
        }
    }
    while !d.c.ended() {
        if !d.c.is_logged_on() {
            d.turn(TURN)?;
            continue;
        }
        match d.c.end() {
            Ok(_) => {}
            Err(e) if retry_later(&e) => d.turn(TURN)?,
            Err(e) => return Err(e),
        }
    }
    d.c.flush()?;
    // The answers: the timeout counts only while logged on (a daemon restart is not silence).
    let mut waited = Duration::ZERO;
    while d.c.outstanding() > 0 && waited < opts.ack_timeout {
        let t = Instant::now();
        let on = d.c.is_logged_on();
        d.turn(TURN)?;
        if on {
            waited += t.elapsed();
        }
    }
    counts(d.c, &mut d.r);
    d.r.elapsed = d.t0.elapsed();
    (d.on)(DriveEvent::Answered(d.r));
    if opts.linger {
        let mut away = Duration::ZERO;
        loop {
            let t = Instant::now();
            d.turn(TURN)?;
            if d.c.peer_logged_out() {
                d.r.peer_logged_out = true;
                break;
            }
            if d.c.is_logged_on() {
                away = Duration::ZERO;
            } else {
                away += t.elapsed();
                if away >= opts.linger_timeout {
                    break;
                }
            }
        }
    }
    d.progress();
    Ok(d.r)
}
