/**
 * The second reference: the least an `await client.call()` RPC can cost, in about a hundred
 * lines over the same 16-byte frames. Each call numbers its frame, parks its promise's
 * resolvers in a slot, and writes the frame into the tick's buffer; the tick's frames go out
 * in one write; replies are parsed from the byte stream (frames split across reads
 * reassembled) and each resolves its call with its payload. No flags, metadata, deadlines,
 * flow control or errors: what weft costs beyond this is the price of what it does besides.
 *
 * Served by servers/raw_echo.ts, which echoes the bytes back (so a reply is the request).
 */
import { runtime } from "../harness/runtime.ts";
import { HEADER_SIZE, writeHeader } from "../harness/wire.ts";
import { openRawSocket, type RawSocket } from "./raw_socket.ts";

/** Slots for calls in flight, indexed by id: more than any bench keeps in flight. */
const SLOTS = 4096;
/** Deno reuses its read buffer: a reply's payload is copied out. Bun's and Node's chunks are fresh. */
const COPY_REPLIES = runtime === "deno";

// One executor for every call's promise: it parks the resolvers for `call` to store.
let parkedResolve: (payload: Uint8Array) => void = () => {};
let parkedReject: (error: Error) => void = () => {};
const park = (resolve: (payload: Uint8Array) => void, reject: (error: Error) => void) => {
  parkedResolve = resolve;
  parkedReject = reject;
};

export class PromiseRpc {
  #socket!: RawSocket;
  #nextId = 1;
  readonly #resolves: (((payload: Uint8Array) => void) | undefined)[] = new Array(SLOTS);
  readonly #rejects: (((error: Error) => void) | undefined)[] = new Array(SLOTS);
  #tick = new Uint8Array(64 * 1024);
  #tickLength = 0;
  #carry: Uint8Array | null = null;

  static async open(port: number): Promise<PromiseRpc> {
    const rpc = new PromiseRpc();
    rpc.#socket = await openRawSocket(port, {
      onChunk: (chunk) => rpc.#onChunk(chunk),
      onError: (error) => rpc.#failAll(error),
    });
    return rpc;
  }

  /** Sends `payload` (cmd 1) and resolves with the reply's payload. */
  call(payload: Uint8Array): Promise<Uint8Array> {
    const id = this.#nextId;
    this.#nextId = this.#nextId + 2 >= 2 ** 31 ? 1 : this.#nextId + 2; // odd ids, as qrpc clients number theirs
    const size = HEADER_SIZE + payload.length;
    if (this.#tickLength + size > this.#tick.length) this.#grow(size);
    if (this.#tickLength === 0) queueMicrotask(this.#flush);
    writeHeader(this.#tick, this.#tickLength, id, 0, 1, payload.length);
    this.#tick.set(payload, this.#tickLength + HEADER_SIZE);
    this.#tickLength += size;
    const promise = new Promise<Uint8Array>(park);
    const slot = (id >>> 1) % SLOTS;
    this.#resolves[slot] = parkedResolve;
    this.#rejects[slot] = parkedReject;
    return promise;
  }

  close(): void {
    this.#socket.close();
  }

  /** The tick's frames, in one write (a copy: the socket keeps what it is given). */
  readonly #flush = (): void => {
    const bytes = this.#tick.slice(0, this.#tickLength);
    this.#tickLength = 0;
    this.#socket.send(bytes);
  };

  #grow(size: number): void {
    const bigger = new Uint8Array(Math.max(this.#tick.length * 2, this.#tickLength + size));
    bigger.set(this.#tick.subarray(0, this.#tickLength));
    this.#tick = bigger;
  }

  #onChunk(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.#carry !== null) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
      this.#carry = null;
    }
    let offset = 0;
    while (bytes.length - offset >= HEADER_SIZE) {
      const size = 4 + ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]);
      if (bytes.length - offset < size) break;
      // The low half of the 64-bit id (ids stay below 2^31).
      const id = (bytes[offset + 8] << 24) | (bytes[offset + 9] << 16) | (bytes[offset + 10] << 8) | bytes[offset + 11];
      const slot = (id >>> 1) % SLOTS;
      const resolve = this.#resolves[slot];
      if (resolve !== undefined) {
        this.#resolves[slot] = this.#rejects[slot] = undefined;
        const start = offset + HEADER_SIZE;
        resolve(COPY_REPLIES ? bytes.slice(start, offset + size) : bytes.subarray(start, offset + size));
      }
      offset += size;
    }
    if (offset < bytes.length) this.#carry = bytes.slice(offset);
  }

  #failAll(error: Error): void {
    for (let slot = 0; slot < SLOTS; slot++) {
      this.#rejects[slot]?.(error);
      this.#resolves[slot] = this.#rejects[slot] = undefined;
    }
  }
}
