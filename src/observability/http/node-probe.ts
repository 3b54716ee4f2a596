import { connect, type Socket } from 'node:net';
import { WalrusError } from '../../errors/index.js';
import { FrameDecoder, encodeMetrics, parseMetrics, type NodeMetrics } from '../../protocol/index.js';
import type { CheckResult, ReadinessCheck } from './readiness.js';

export interface ProbeOptions {
  /** Whole probe budget: connect, send METRICS, read the reply. @default 1000 */
  timeoutMs?: number;
  /** Seam for tests and custom transports. @default node:net connect */
  connect?: (port: number, host: string) => Socket;
}

function splitAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(address.trim());
  if (match === null) throw new WalrusError('CONFIG_INVALID', `"${address}" is not a node address; use host:port, e.g. 127.0.0.1:9091`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}

function networkError(address: string, error: NodeJS.ErrnoException): WalrusError {
  const code = error.code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'NETWORK_ERROR';
  return new WalrusError(code, `node ${address}: ${error.code ?? error.message}`, { cause: error, context: { node: address, command: 'METRICS' } });
}

/**
 * Asks one node for METRICS on a fresh connection: the cheapest proof that
 * it is up and answering the protocol (not merely accepting TCP). Used by
 * `/readyz` when no client is at hand, and by `walrus-stream metrics`.
 */
export function probeNode(address: string, options: ProbeOptions = {}): Promise<NodeMetrics> {
  const { host, port } = splitAddress(address);
  const timeoutMs = options.timeoutMs ?? 1000;
  const open = options.connect ?? ((p: number, h: string) => connect(p, h));
  return new Promise<NodeMetrics>((resolve, reject) => {
    const socket = open(port, host);
    const decoder = new FrameDecoder();
    let settled = false;
    const finish = (error: WalrusError | undefined, value?: NodeMetrics): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new WalrusError('REQUEST_TIMEOUT', `node ${address} did not answer METRICS within ${timeoutMs} ms`, { context: { node: address, command: 'METRICS' } })), timeoutMs);
    socket.once('connect', () => socket.write(encodeMetrics()));
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      const frame = decoder.next();
      if (frame === undefined) return;
      if (frame.kind !== 'frame') {
        finish(new WalrusError('PROTOCOL_ERROR', `node ${address} sent a frame of invalid length ${frame.length}`, { context: { node: address } }));
        return;
      }
      try {
        finish(undefined, parseMetrics(frame.body, { node: address, command: 'METRICS' }));
      } catch (error) {
        finish(error as WalrusError);
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => finish(networkError(address, error)));
    socket.once('close', () => finish(new WalrusError('CONNECTION_CLOSED', `node ${address} closed the connection before answering METRICS`, { context: { node: address } })));
  });
}

/**
 * A readiness check that passes when every node answers METRICS. The detail
 * names each failing node and why.
 */
export function nodesReachableCheck(addresses: () => readonly string[], options: ProbeOptions = {}): ReadinessCheck {
  return async (): Promise<CheckResult> => {
    const list = addresses();
    const results = await Promise.allSettled(list.map((address) => probeNode(address, options)));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${list[i]} ${(r.reason as WalrusError).code ?? ''} ${(r.reason as Error).message}`.replace(/\s+/g, ' ')] : []));
    if (failures.length > 0) return { ok: false, detail: `unreachable: ${failures.join('; ')}` };
    return { ok: true, detail: `${list.length} node(s) answering` };
  };
}
