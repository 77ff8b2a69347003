//! The CPU a benchmark spends: this process's, the server's and the whole machine's.
//!
//! Shared by several examples; each uses a part of it.
#![allow(dead_code)]

/// This process's user + system CPU time so far, in µs (`getrusage`).
pub fn cpu_micros() -> f64 {
    // SAFETY: getrusage writes into the struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Clock ticks per second, the unit of `/proc`'s CPU times.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The user + system CPU time so far of the server whose PID is in `BENCH_SERVER_PID`,
/// in µs (from `/proc/<pid>/stat`, so in steps of one clock tick, 10 ms here); `None`
/// without that variable or off Linux.
pub fn server_cpu_micros() -> Option<f64> {
    let pid: u32 = std::env::var("BENCH_SERVER_PID")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm) ", which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second() * 1e6)
}

/// The whole machine's CPU time so far from `/proc/stat`: (busy, total) in clock ticks
/// over all cores; `None` off Linux.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The share of all cores' time that was busy between two [`machine_ticks`] readings.
pub fn busy_share(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((b0, t0), (b1, t1)) = (before?, after?);
    (t1 > t0).then(|| (b1 - b0) as f64 / (t1 - t0) as f64)
}
