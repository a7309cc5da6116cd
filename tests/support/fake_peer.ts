/**
 * A hand-scripted TCP peer on 127.0.0.1 (node:net, available on all three runtimes), for
 * tests that need a server to misbehave in exact ways. Socket errors are swallowed: the
 * weft side under test is what the assertions look at.
 */
import * as net from "node:net";

export interface FakePeer {
  port: number;
  sockets: net.Socket[];
  close(): void;
}

export async function fakePeer(onSocket: (socket: net.Socket) => void = () => {}): Promise<FakePeer> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    sockets.push(socket);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** A port nothing listens on (bound once, then released). */
export async function freePort(): Promise<number> {
  const peer = await fakePeer();
  peer.close();
  return peer.port;
}
