import { once } from 'node:events';
import net from 'node:net';

/** A real TCP server on 127.0.0.1, port 0, standing in for a node that misbehaves. */
export interface TcpPeer {
  readonly address: string;
  readonly port: number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Starts a peer that hands each accepted socket to `onSocket` (socket errors are ignored). */
export async function startTcpPeer(onSocket: (socket: net.Socket) => void = () => {}, options: net.ServerOpts = {}): Promise<TcpPeer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(options, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
