/** The receive half of a stream on its own: order, end, failure, cancel, backpressure. */
import { describe, expect, test } from "bun:test";
import { MessageStream } from "../mod.ts";
import { text } from "./support/bytes.ts";

describe("MessageStream", () => {
  test("yields payloads in order, before and after the reader waits, then ends", async () => {
    const stream = new MessageStream();
    stream.push(text("a"));
    const got: string[] = [];
    const reading = (async () => {
      for await (const chunk of stream) got.push(new TextDecoder().decode(chunk));
    })();
    await Promise.resolve();
    stream.push(text("b"));
    stream.push(text("c"));
    stream.end();
    await reading;
    expect(got).toEqual(["a", "b", "c"]);
  });

  test("delivers queued payloads before a failure", async () => {
    const stream = new MessageStream();
    stream.push(text("a"));
    stream.fail(new Error("reset"));
    expect((await stream.next()).value).toEqual(text("a"));
    await expect(stream.next()).rejects.toThrow("reset");
  });

  test("a break in for-await cancels and tells the owner once", async () => {
    const stream = new MessageStream();
    let cancels = 0;
    stream.onCancel = () => cancels++;
    stream.push(text("a"));
    stream.push(text("b"));
    for await (const _ of stream) break;
    expect(cancels).toBe(1);
    expect(stream.closed).toBe(true);
    expect(stream.senderDone).toBe(false);
    stream.push(text("late"));
    expect(stream.bufferedBytes).toBe(0);
  });

  test("reports pressure over the high-water mark and release at half of it", async () => {
    const events: boolean[] = [];
    const stream = new MessageStream(10, (overfull) => events.push(overfull));
    for (let i = 0; i < 4; i++) stream.push(new Uint8Array(4));
    expect(events).toEqual([true]);
    await stream.next();
    expect(events).toEqual([true]); // 12 bytes left: still over 5
    await stream.next();
    await stream.next();
    expect(events).toEqual([true, false]);
  });

  test("works as a ReadableStream", async () => {
    const stream = new MessageStream();
    stream.push(text("x"));
    stream.push(text("y"));
    stream.end();
    const parts: string[] = [];
    await stream.readable.pipeTo(new WritableStream({ write: (c) => void parts.push(new TextDecoder().decode(c)) }));
    expect(parts).toEqual(["x", "y"]);
  });

  test("bytes() joins the rest of the stream", async () => {
    const stream = new MessageStream();
    stream.push(text("he"));
    stream.push(text("llo"));
    stream.end();
    expect(new TextDecoder().decode(await stream.bytes())).toBe("hello");
  });
});
