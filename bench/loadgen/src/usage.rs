//! What processes used, read from Linux's `/proc`: resident memory (`rss_kib`) and user and
//! system CPU time (`cpu_time`), of the servers (`--pids`) and of loadgen itself.

use anyhow::{Context, Result};

/// Resident memory of the processes, in KiB.
pub(crate) fn rss_kib(pids: &[u32]) -> Result<u64> {
    let mut total = 0;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .context("no VmRSS")?;
        total += line.trim().trim_end_matches("kB").trim().parse::<u64>()?;
    }
    Ok(total)
}

/// CPU time used by processes, in milliseconds.
#[derive(Clone, Copy, Default)]
pub(crate) struct CpuTime {
    pub(crate) user_ms: f64,
    system_ms: f64,
}

impl CpuTime {
    pub(crate) fn total_ms(self) -> f64 {
        self.user_ms + self.system_ms
    }

    pub(crate) fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_ms: self.user_ms - earlier.user_ms,
            system_ms: self.system_ms - earlier.system_ms,
        }
    }
}

/// User and system CPU time of the processes so far.
pub(crate) fn cpu_time(pids: &[u32]) -> Result<CpuTime> {
    let ms_per_tick = 1000.0 / 100.0; // USER_HZ on Linux
    let mut time = CpuTime {
        user_ms: 0.0,
        system_ms: 0.0,
    };
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("bad stat")?
            .1
            .split_whitespace()
            .collect();
        time.user_ms += fields[11].parse::<f64>()? * ms_per_tick;
        time.system_ms += fields[12].parse::<f64>()? * ms_per_tick;
    }
    Ok(time)
}

/// User + system CPU time of the processes, in milliseconds.
pub(crate) fn cpu_ms(pids: &[u32]) -> Result<f64> {
    Ok(cpu_time(pids)?.total_ms())
}

/// loadgen's own user + system CPU time, in milliseconds (NaN if it cannot be read).
pub(crate) fn self_cpu_ms() -> f64 {
    cpu_ms(&[std::process::id()]).unwrap_or(f64::NAN)
}
