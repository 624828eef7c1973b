//! Reading a process's memory and threads from /proc.

/// A field of /proc/<pid>/status in kB (VmRSS, VmHWM) or a count (Threads).
fn status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory in bytes.
pub fn rss(pid: u32) -> u64 {
    status(pid, "VmRSS:").unwrap_or(0) * 1024
}

/// Peak resident memory in bytes since the last [`reset_peak`].
pub fn peak(pid: u32) -> u64 {
    status(pid, "VmHWM:").unwrap_or(0) * 1024
}

pub fn threads(pid: u32) -> u64 {
    status(pid, "Threads:").unwrap_or(0)
}

/// Resets the peak resident memory to the current (Linux: clear_refs 5).
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// CPU time (user + system) a process has used, in seconds. /proc counts
/// in USER_HZ, 100 on Linux.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are the 12th and 13th of them.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// CPU used by this process and the server during a scenario.
pub struct Cpu {
    server: u32,
    bench: f64,
    served: f64,
}

impl Cpu {
    pub fn start(server: u32) -> Self {
        Self { server, bench: cpu_seconds(std::process::id()), served: cpu_seconds(server) }
    }

    /// Microseconds of CPU per record since `start`: (this process, the
    /// server).
    pub fn per_record(&self, records: u64) -> (f64, f64) {
        let n = records.max(1) as f64;
        let bench = cpu_seconds(std::process::id()) - self.bench;
        let served = cpu_seconds(self.server) - self.served;
        (bench * 1e6 / n, served * 1e6 / n)
    }
}
