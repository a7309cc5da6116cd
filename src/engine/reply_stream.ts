/**
 * A handler's reply stream, sent: each item a frame on the request's id, the first with the
 * reply's metadata (and the flow-control mark), the last empty with the trailers. It waits
 * on the stream's send credit with a weft peer (only this stream waits), on the writer when
 * the transport is backpressured, and gives the event loop a turn when a producer never
 * waits; it stops when the caller resets the request.
 */
import type { RpcError } from "../common/errors.ts";
import { toAsyncIterator } from "../common/streams.ts";
import { Flags, STREAM_BITS } from "../wire/flags.ts";
import type { FrameWriter } from "../wire/frame_writer.ts";
import type { SendCredit } from "./flow_control.ts";
import type { ServedRequest } from "./served_request.ts";
import type { Sender } from "./sender.ts";

const EMPTY = new Uint8Array(0);

/** A reply stream that has produced this long without a pause gives the event loop a turn. */
const FAIRNESS_MS = 5;

/** What a reply stream needs of the serving side. */
export interface ReplyStreamHost {
  readonly sender: Sender;
  readonly writer: FrameWriter;
  newSendCredit(): SendCredit | null;
  /** Why `payload` is too big to send, or null. */
  oversize(payload: Uint8Array): RpcError | null;
  /** The reply is done (or the request finished under it). */
  settle(request: ServedRequest): void;
  /** The source failed, or yielded something that cannot be sent. */
  failed(request: ServedRequest, error: unknown): void;
}

/** Sends `source` as the reply stream of `request`, on `cmd`; settles or fails the request at the end. */
export async function streamReply(
  host: ReplyStreamHost,
  request: ServedRequest,
  cmd: number,
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
): Promise<void> {
  const iterator = toAsyncIterator(source);
  const credit = host.newSendCredit();
  request.sendCredit = credit;
  request.replyStreaming = true;
  const writer = host.writer;
  let opened = false;
  let sent = 0;
  let since = performance.now();
  try {
    for (;;) {
      // A producer that never waits, read by a fast peer, would otherwise keep this
      // process in microtasks: resets and other connections would go unread.
      if ((++sent & 255) === 0 && performance.now() - since > FAIRNESS_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        since = performance.now();
      }
      const step = await iterator.next();
      if (request.finished) {
        iterator.return?.().catch(() => {});
        return host.settle(request);
      }
      if (step.done) break;
      const chunk = step.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`reply stream of cmd ${request.cmd} yielded a ${typeof chunk}, not a Uint8Array`);
      }
      const tooBig = host.oversize(chunk);
      if (tooBig !== null) throw tooBig;
      if (credit !== null) {
        if (!credit.available) {
          await credit.wait(); // the caller reads slowly: only this stream waits
          if (request.finished) {
            iterator.return?.().catch(() => {});
            return host.settle(request);
          }
        }
        credit.consume(chunk.length);
      }
      if (opened) {
        host.sender.send(request.id, Flags.Stream, cmd, chunk, undefined);
      } else {
        opened = true;
        const ext = { flowControlled: credit !== null, metadata: request.takeReplyMetadata() };
        host.sender.send(request.id, Flags.Stream, cmd, chunk, ext);
      }
      if (writer.backpressured) await writer.ready;
    }
    if (!request.finished) {
      const trailers = request.takeTrailers();
      const ext = opened ? { trailers } : { flowControlled: credit !== null, metadata: request.takeReplyMetadata(), trailers };
      host.sender.send(request.id, STREAM_BITS, cmd, EMPTY, ext);
    }
    host.settle(request);
  } catch (error) {
    iterator.return?.().catch(() => {});
    host.failed(request, error);
  }
}
