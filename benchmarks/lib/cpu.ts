import { readFileSync } from 'node:fs';

/**
 * CPU time (ms) of the main (coordinator) thread alone, from /proc on Linux
 * (the main thread's task id is the pid); NaN elsewhere. Wall-clock figures
 * are at the mercy of whatever else runs on the machine; this is not.
 */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}
