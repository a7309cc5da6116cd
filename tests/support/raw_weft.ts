/**
 * A raw socket that completes weft's handshake by hand (hello bit, HELLO, SETTINGS), so
 * byte-level tests can send extension blocks and control frames a real client would not.
 */
import { frame, str, text } from "./bytes.ts";
import { RawSocket } from "./raw_socket.ts";

export interface RawWeft {
  raw: RawSocket;
  /** The server's HELLO, parsed. */
  hello: Record<string, unknown>;
}

/**
 * Sends the golden request with the hello bit (id 3), reads HELLO and the reply, then
 * sends SETTINGS with `settings` (version 1, no heartbeat, by default no window).
 */
export async function rawWeftClient(port: number, settings: Record<string, unknown> = {}): Promise<RawWeft> {
  const raw = await RawSocket.connect(port);
  raw.write(frame(3, 0x40, 0, text("xu")));
  const hello = JSON.parse(str((await raw.readFrame()).subarray(16)));
  await raw.readFrame(); // the reply to the hello request
  const body = { version: 1, heartbeat: 0, maxFrameSize: 10485760, ...settings };
  raw.write(frame(0, 0x80, 2, text(JSON.stringify(body))));
  return { raw, hello };
}
