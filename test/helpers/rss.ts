import { readFileSync } from 'node:fs';

/** Resident memory of process `pid` in bytes, from /proc (0 once it has exited). */
export function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
