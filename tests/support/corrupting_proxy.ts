/**
 * A TCP proxy on 127.0.0.1 that reads the client's bytes as frames and, when armed, flips
 * the last payload byte of the next call frame for a given cmd: a bit error the TCP checksum
 * missed, as far as the server can tell. Everything else passes through untouched.
 */
import type * as net from "node:net";
import { type Proxy, startProxy } from "./proxy.ts";

export interface CorruptingProxy extends Proxy {
  /** Corrupt the next client-to-server frame whose cmd is `cmd` and whose payload is not empty. */
  corruptNext(cmd: number): void;
  /** Frames corrupted so far. */
  readonly corrupted: number;
}

export async function startCorruptingProxy(targetPort: number): Promise<CorruptingProxy> {
  let armedFor: number | null = null;
  let corrupted = 0;
  const proxy = await startProxy(targetPort, (client: net.Socket, server: net.Socket) => {
    let pending = new Uint8Array(0);
    client.on("data", (chunk: Uint8Array) => {
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
        server.write(frame.slice());
        at += 4 + length;
      }
      pending = joined.slice(at);
    });
    server.on("data", (chunk) => client.write(chunk));
  });
  return {
    ...proxy,
    corruptNext: (cmd) => (armedFor = cmd),
    get corrupted() {
      return corrupted;
    },
  };
}
