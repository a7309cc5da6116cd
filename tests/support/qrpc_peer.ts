/**
 * A test peer that speaks only qrpc's base frames and behaves as ../shared/qrpc-wire.md
 * says a qrpc server does: flag bits 0x40/0x80 are ignored (a frame is routed by its cmd
 * whatever they say), an unknown cmd closes the whole connection with nothing sent, and
 * a bad length closes it too. It records every frame, so a test can prove that nothing
 * weft-only ever reached it.
 */
import * as net from "node:net";
import { encodeFrame, FrameDecoder, type RequestId } from "../../mod.ts";

export interface SeenFrame {
  id: RequestId;
  flags: number;
  cmd: number;
  payload: Uint8Array;
}

export interface QrpcPeer {
  port: number;
  /** Every frame received, on every connection. */
  seen: SeenFrame[];
  /** Connections this peer closed because of an unknown cmd ("cmd not registered"). */
  unknownCmdClosures: number;
  close(): void;
}

/** Serves cmd 0 (qrpc's Hello: replies cmd 1 "hello world " + payload) and cmd 2 (echo). */
export async function startQrpcPeer(): Promise<QrpcPeer> {
  const encoder = new TextEncoder();
  const peer: QrpcPeer = { port: 0, seen: [], unknownCmdClosures: 0, close: () => {} };
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    const decoder = new FrameDecoder(10 * 1024 * 1024);
    socket.on("data", (chunk: Uint8Array) => {
      try {
        decoder.decode(new Uint8Array(chunk), (id, flags, cmd, payload) => {
          peer.seen.push({ id, flags, cmd, payload: payload.slice() });
          if (socket.destroyed) return;
          const route = cmd & 0xffff; // qrpc ignores 0x40/0x80 and routes on cmd alone
          if (route === 0) {
            const reply = new Uint8Array([...encoder.encode("hello world "), ...payload]);
            socket.write(encodeFrame({ id, flags: 0, cmd: 1, payload: reply }));
          } else if (route === 2) {
            socket.write(encodeFrame({ id, flags: 0, cmd: 2, payload: payload.slice() }));
          } else {
            peer.unknownCmdClosures++;
            socket.destroy(); // "cmd not registered": qrpc closes, sending nothing
          }
        });
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  peer.port = (server.address() as net.AddressInfo).port;
  peer.close = () => {
    for (const socket of sockets) socket.destroy();
    server.close();
  };
  return peer;
}
