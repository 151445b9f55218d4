/**
 * Measurement helpers shared by the benchmarks (Linux /proc; clock ticks are 100 per second).
 */
import { readdirSync, readFileSync } from "node:fs";

/** User + system CPU seconds from the text of a /proc/<pid>/stat file. */
function cpuSecondsOfStat(stat: string): number {
  const fields = stat.split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

/** CPU seconds (user + system) of a process so far; NaN when it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    return cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) of every live PostgreSQL process (comm "postgres"). */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.includes("(postgres)")) total += cpuSecondsOfStat(stat);
    } catch {
      // the process exited between readdir and read
    }
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine so far, from /proc/stat (all cores). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0) / 100;
  const idle = (fields[3] + fields[4]) / 100; // idle + iowait
  return { busy: total - idle, total };
}

/** The median (the mean of the two middle values for an even count). */
export function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
