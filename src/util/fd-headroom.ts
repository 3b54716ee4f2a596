import { readFileSync, readdirSync } from 'node:fs';

/**
 * File-descriptor headroom, so the process limit (`ulimit -n`, often 1024,
 * far below the default `maxConnections` of 4096) cannot lock clients out.
 *
 * When the process is out of descriptors, libuv accepts each pending
 * connection with a reserved descriptor and closes it at once, without
 * telling Node: every new client is dropped while idle sockets hold every
 * descriptor. So the node keeps a margin instead: once the connection
 * count is high enough for the limit to matter, each accept counts the
 * open descriptors and, inside the margin, closes the idlest connection.
 * Linux only (`/proc`); elsewhere only `maxConnections` applies.
 */
export const FD_HEADROOM = 64;

let cachedLimit: number | null | undefined;

/** The soft limit on open files, or undefined when it cannot be read. */
export function fileDescriptorLimit(): number | undefined {
  if (cachedLimit === undefined) {
    cachedLimit = null;
    try {
      const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
      if (match) cachedLimit = Number(match[1]);
    } catch {
      // Not Linux, or /proc not mounted.
    }
  }
  return cachedLimit ?? undefined;
}

/** Descriptors open in this process now, or undefined when they cannot be counted. */
export function openFileDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/**
 * True when the process is within `FD_HEADROOM` descriptors of its limit.
 * Only counts (a directory read) once `connections` is at least half the
 * limit, so a node far from it pays nothing.
 */
export function nearFileDescriptorLimit(connections: number): boolean {
  const limit = fileDescriptorLimit();
  if (limit === undefined || connections < limit / 2 - FD_HEADROOM) return false;
  const open = openFileDescriptors();
  return open !== undefined && open > limit - FD_HEADROOM;
}
