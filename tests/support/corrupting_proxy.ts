/**
 * A TCP proxy on 127.0.0.1 that reads the client's bytes as frames and, when armed, flips
 * the last payload byte of the next call frame for a given cmd: a bit error the TCP checksum
 * missed, as far as the server can tell. Everything else passes through untouched.
 */
import * as net from "node:net";

export interface CorruptingProxy {
  port: number;
  /** Corrupt the next client-to-server frame whose cmd is `cmd` and whose payload is not empty. */
  corruptNext(cmd: number): void;
  /** Frames corrupted so far. */
  readonly corrupted: number;
  close(): void;
}

export async function startCorruptingProxy(targetPort: number): Promise<CorruptingProxy> {
  let armedFor: number | null = null;
  let corrupted = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((downstream) => {
    const upstream = net.connect({ port: targetPort, host: "127.0.0.1" });
    sockets.push(downstream, upstream);
    for (const socket of [downstream, upstream]) socket.on("error", () => {});
    let pending = new Uint8Array(0);
    downstream.on("data", (chunk: Uint8Array) => {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      let at = 0;
      // Forward whole frames only, so the flip lands on a payload byte.
      while (joined.length - at >= 4) {
        const length = new DataView(joined.buffer, joined.byteOffset + at).getUint32(0);
        if (joined.length - at < 4 + length) break;
        const frame = joined.subarray(at, at + 4 + length);
        const cmd = (frame[13] << 16) | (frame[14] << 8) | frame[15];
        const control = (frame[12] & 0x80) !== 0; // weft control frames are not calls
        if (armedFor !== null && cmd === armedFor && !control && length > 12) {
          frame[frame.length - 1] ^= 0x01;
          armedFor = null;
          corrupted++;
        }
        upstream.write(frame.slice());
        at += 4 + length;
      }
      pending = joined.slice(at);
    });
    upstream.on("data", (chunk) => downstream.write(chunk));
    downstream.on("close", () => upstream.destroy());
    upstream.on("close", () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    corruptNext: (cmd) => (armedFor = cmd),
    get corrupted() {
      return corrupted;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
