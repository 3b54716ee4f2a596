import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/**
 * A same-machine reference point: `redis-server` (if installed) driven by a
 * raw RESP client doing RPUSH / LPOP of 100-byte values, sequential and 64
 * in flight. Returns undefined when redis-server is not available.
 */
export async function redisReference(scale: number): Promise<Record<string, string | number>[] | undefined> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const failed = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(true));
    setTimeout(() => resolve(false), 300);
  });
  if (failed) return undefined;
  try {
    const socket = await connectWithRetry(port);
    const value = 'walrus-bench-'.padEnd(100, 'abcdefghij');
    const push = resp(['RPUSH', 'bench', value]);
    const pop = resp(['LPOP', 'bench']);
    const rows: Record<string, string | number>[] = [];
    const seq = Math.round(20_000 * scale);
    const piped = Math.round(300_000 * scale);
    for (const [name, cmd, total, window] of [
      ['RPUSH sequential', push, seq, 1],
      ['LPOP sequential', pop, seq, 1],
      ['RPUSH pipelined (64 in flight)', push, piped, 64],
      ['LPOP pipelined (64 in flight)', pop, piped, 64],
    ] as const) {
      const ms = await runResp(socket, cmd, total, window);
      rows.push({ case: name, ops: total, 'ops/s': Math.round((total / ms) * 1000) });
    }
    socket.destroy();
    return rows;
  } finally {
    server.kill('SIGKILL');
  }
}

function resp(args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

async function connectWithRetry(port: number): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
        s.once('error', reject);
      });
    } catch (error) {
      if (attempt > 20) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Counts RESP replies (`:n` for RPUSH, `$100` bulk for LPOP) with a tiny incremental scanner. */
function runResp(socket: Socket, cmd: Buffer, total: number, window: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    let tail: Buffer = Buffer.alloc(0);
    const started = process.hrtime.bigint();
    const fill = (): void => {
      const n = Math.min(window - (sent - done), total - sent);
      if (n <= 0) return;
      sent += n;
      socket.write(n === 1 ? cmd : Buffer.concat(Array.from({ length: n }, () => cmd)));
    };
    const onData = (chunk: Buffer): void => {
      const buf: Buffer = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      let at = 0;
      for (;;) {
        const eol = buf.indexOf('\r\n', at);
        if (eol === -1) break;
        if (buf[at] === 0x24) {
          const len = Number(buf.toString('latin1', at + 1, eol));
          const end = len < 0 ? eol + 2 : eol + 2 + len + 2;
          if (end > buf.length) break;
          at = end;
        } else {
          at = eol + 2;
        }
        done++;
      }
      tail = buf.subarray(at);
      if (done >= total) {
        socket.off('data', onData);
        resolve(Number(process.hrtime.bigint() - started) / 1e6);
        return;
      }
      fill();
    };
    socket.on('data', onData);
    fill();
  });
}
