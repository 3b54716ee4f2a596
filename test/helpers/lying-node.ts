import type net from 'node:net';
import { startTcpPeer, type TcpPeer } from './tcp-peer.js';

/** What a lying node sends for one request: a reply body, several, raw bytes (frame header included), or nothing. */
export type Answer = string | Buffer | Array<string | Buffer> | undefined;

/** The stock answers a lying node falls back to: what a healthy stock node would say to an empty topic. */
export function stockAnswer(request: string): string {
  const op = request.split(' ', 1)[0];
  if (op === 'REGISTER' || op === 'PUT') return 'OK';
  if (op === 'GET') return 'EMPTY';
  if (op === 'METRICS') return '{"id":1,"state":"Leader","current_leader":1}';
  if (op === 'STATE') return '{"current_segment":1,"leader_node":1,"last_sealed_entry_offset":0,"sealed_segments":{},"segment_leaders":{"1":1}}';
  return 'ERR unknown command';
}

/** One `[u32 LE length][body]` frame. */
export function frameOf(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(4);
  header.writeUInt32LE(bytes.length);
  return Buffer.concat([header, bytes]);
}

/**
 * A node that lies: a TCP server on port 0 that reads request frames (its own
 * minimal reader, not ours) and sends whatever `answer` returns for each.
 * Strings and string items are framed; Buffers go out as they are.
 */
export async function startLyingNode(answer: (request: string, socket: net.Socket) => Answer): Promise<TcpPeer & { requests: string[] }> {
  const requests: string[] = [];
  const peer = await startTcpPeer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
        const request = pending.toString('utf8', 4, 4 + pending.readUInt32LE(0));
        pending = pending.subarray(4 + pending.readUInt32LE(0));
        requests.push(request);
        const reply = answer(request, socket);
        for (const one of reply === undefined ? [] : Array.isArray(reply) ? reply : [reply]) {
          socket.write(typeof one === 'string' ? frameOf(one) : one);
        }
      }
    });
  });
  return Object.assign(peer, { requests });
}
