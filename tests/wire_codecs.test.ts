/**
 * Codec, compression and checksum between peers: what the handshake agrees, what goes on
 * the wire (the Codec flag 0x20, dropped when compression would not shrink a payload; a
 * CRC-32 per frame), and every bad input failing only what it must.
 */
import { describe, expect, test } from "bun:test";
import { RpcError } from "../mod.ts";
import { compress, decompress } from "../src/wire/compression.ts";
import { crc32 } from "../src/wire/crc32.ts";
import { Cmd, installHandlers } from "./fixtures/handlers.ts";
import { frame, hex, patterned, readU32, str, text, toHex, until } from "./support/bytes.ts";
import { startCorruptingProxy } from "./support/corrupting_proxy.ts";
import { startPair } from "./support/harness.ts";
import { rawWeftClient } from "./support/raw_weft.ts";
import { adapter, overTcp } from "./support/runtime.ts";

/** 16 KiB of text that compresses well. */
const compressible = text("the quick brown fox jumps over the lazy dog. ".repeat(372));

async function negotiatedPair(client: Record<string, unknown>, server: Record<string, unknown> = {}) {
  const pair = await startPair((s) => installHandlers(s), { client, server });
  await pair.client.request(Cmd.Echo, text("handshake"));
  await until(() => pair.serverSide.protocolVersion === 1, 2000, "handshake");
  return pair;
}

describe("negotiating codec, compression and checksum", () => {
  test("a client asking for gzip and CRC-32 gets both; payloads of every size round-trip", async () => {
    const pair = await negotiatedPair({ compression: "gzip", checksum: true, codec: "msgpack" });
    expect([pair.client.compression, pair.serverSide.compression]).toEqual(["gzip", "gzip"]);
    expect([pair.client.checksummed, pair.serverSide.checksummed]).toEqual([true, true]);
    expect([pair.client.codec, pair.serverSide.codec]).toEqual(["msgpack", "msgpack"]);
    for (const payload of [new Uint8Array(0), text("tiny"), compressible, patterned(300_000)]) {
      const reply = await pair.client.request(Cmd.Echo, payload);
      expect(toHex(reply.payload)).toBe(toHex(payload));
    }
    await pair.close();
  });

  test("streams keep their order when large (compressed) and small frames interleave", async () => {
    const pair = await negotiatedPair({ compression: "deflate-raw", checksum: true });
    const call = pair.client.call(Cmd.Bidi, { nonBlocking: true });
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const chunk = i % 3 === 0 ? text(`${i} `.repeat(2000)) : text(`small ${i}`);
      sent.push(chunk);
      void call.send(chunk); // not awaited: frames queue behind compressions in order
    }
    void call.end();
    const got: string[] = [];
    for await (const chunk of call) got.push(str(chunk));
    expect(got).toEqual(sent.map(str));
    await pair.close();
  });

  test("a server with compression: false leaves a client that asks uncompressed", async () => {
    const pair = await negotiatedPair({ compression: "gzip" }, { compression: false });
    expect([pair.client.compression, pair.serverSide.compression]).toEqual([null, null]);
    expect(str((await pair.client.request(Cmd.Echo, compressible)).payload)).toBe(str(compressible));
    await pair.close();
  });

  test("a client whose codec the server does not read fails with unimplemented, naming both", async () => {
    const pair = await startPair((s) => installHandlers(s), { server: { codecs: ["raw", "json"] } });
    const client = await pair.connect({ codec: "msgpack" });
    // The first call leaves before the handshake; HELLO says the codec is not spoken.
    const error = await client.request(Cmd.Echo, text("x")).catch((e) => e);
    expect(error instanceof RpcError && error.code).toBe("unimplemented");
    expect((error as Error).message).toContain('codec "msgpack"');
    expect((error as Error).message).toContain("raw, json");
    expect(str((await pair.client.request(Cmd.Echo, text("others fine"))).payload)).toBe("others fine");
    await pair.close();
  });
});

describe("compression on the wire", () => {
  test("the server compresses a big reply (0x20 set) and reads a compressed request", async () => {
    const pair = await startPair((s) => installHandlers(s));
    const { raw } = await rawWeftClient(pair.listener.port, { compression: "gzip" });
    const packed = await compress(compressible, "gzip");
    raw.write(frame(5, 0x20, Cmd.Echo, packed));
    const reply = await raw.readFrame();
    expect(reply[12]).toBe(0x20); // Codec: the echo came back compressed
    expect(reply.length - 16).toBeLessThan(compressible.length / 4);
    expect(str(await decompress(reply.subarray(16), "gzip", 1 << 20))).toBe(str(compressible));
    raw.close();
    await pair.close();
  });

  test("no Codec flag below the threshold, nor when compression would not shrink the payload", async () => {
    const pair = await startPair((s) => installHandlers(s));
    const { raw } = await rawWeftClient(pair.listener.port, { compression: "gzip" });
    raw.write(frame(5, 0, Cmd.Echo, text("short")));
    const small = await raw.readFrame();
    expect(small[12]).toBe(0);
    const noise = patterned(8192);
    crypto.getRandomValues(noise);
    raw.write(frame(7, 0, Cmd.Echo, noise));
    const incompressible = await raw.readFrame();
    expect(incompressible[12]).toBe(0);
    expect(toHex(incompressible.subarray(16))).toBe(toHex(noise));
    raw.close();
    await pair.close();
  });

  test("a corrupt compressed payload fails that call with data_loss; the connection serves on", async () => {
    const errors: unknown[] = [];
    const pair = await startPair((s) => installHandlers(s), { server: { onError: (e) => errors.push(e) } });
    const { raw } = await rawWeftClient(pair.listener.port, { compression: "gzip" });
    raw.write(frame(5, 0x20, Cmd.Echo, hex("1f8b 0800 0000 0000 00ff deadbeef 0102")));
    const reset = await raw.readFrame();
    expect(toHex(reset.subarray(4, 16))).toBe("00000000000000050400000f"); // reason 15, data_loss
    expect(JSON.parse(str(reset.subarray(16))).message).toContain("corrupt");
    raw.write(frame(7, 0, Cmd.Echo, text("next")));
    expect(str((await raw.readFrame()).subarray(16))).toBe("next");
    raw.close();
    await pair.close();
  });

  test("a decompression bomb stops at the frame limit: resource_exhausted, nothing else", async () => {
    const pair = await startPair((s) => installHandlers(s), { server: { maxFrameSize: 1024 * 1024 } });
    const { raw } = await rawWeftClient(pair.listener.port, { compression: "gzip", maxFrameSize: 1024 * 1024 });
    const bomb = await compress(new Uint8Array(64 * 1024 * 1024), "gzip"); // 64 MiB of zeros, ~64 KiB packed
    expect(bomb.length).toBeLessThan(1024 * 1024);
    raw.write(frame(5, 0x20, Cmd.Echo, bomb));
    const reset = await raw.readFrame();
    expect(toHex(reset.subarray(4, 16))).toBe("000000000000000504000008"); // reason 8
    raw.write(frame(7, 0, Cmd.Echo, text("next")));
    expect(str((await raw.readFrame()).subarray(16))).toBe("next");
    raw.close();
    await pair.close();
  });

  test("compression or a codec the server does not offer refuses the connection with ERROR", async () => {
    const pair = await startPair((s) => installHandlers(s), { server: { compression: false } });
    for (const settings of [{ compression: "gzip" }, { codec: "bogus" }, { checksum: "md5" }]) {
      const { raw } = await rawWeftClient(pair.listener.port, settings);
      const error = await raw.readFrame();
      expect(toHex(error.subarray(4, 16))).toBe("000000000000000080000006"); // ERROR control frame
      const body = JSON.parse(str(error.subarray(16)));
      expect(body.code).toBe("unimplemented");
      expect(await raw.waitClosed(2000)).toBe(true);
    }
    expect(str((await pair.client.request(Cmd.Echo, text("others fine"))).payload)).toBe("others fine");
    await pair.close();
  });
});

describe("checksums", () => {
  test("every call frame carries a CRC-32 of its payload (block tag 7)", async () => {
    const pair = await startPair((s) => installHandlers(s));
    const { raw } = await rawWeftClient(pair.listener.port, { checksum: "crc32" });
    raw.write(frame(5, 0, Cmd.Echo, text("sum me")));
    const reply = await raw.readFrame();
    expect(reply[12]).toBe(0x40);
    const payload = reply.subarray(16);
    // Block of 9 bytes: tag 7, length 4, the CRC-32; then the payload.
    expect(toHex(payload.subarray(0, 9))).toBe("000000090700000004");
    expect(readU32(payload, 9)).toBe(crc32(text("sum me")));
    expect(str(payload.subarray(13))).toBe("sum me");
    raw.close();
    await pair.close();
  });

  test("a wrong CRC fails that call with data_loss, naming both sums", async () => {
    const pair = await startPair((s) => installHandlers(s));
    const { raw } = await rawWeftClient(pair.listener.port, { checksum: "crc32" });
    raw.write(frame(5, 0x40, Cmd.Echo, hex("00000009 07 00000004 12345678 616263")));
    const reset = await raw.readFrame();
    expect(toHex(reset.subarray(4, 16))).toBe("00000000000000050400000f");
    const message = JSON.parse(str(reset.subarray(16))).message;
    expect(message).toContain("checksum mismatch");
    expect(message).toContain("12345678");
    raw.close();
    await pair.close();
  });

  test.skipIf(!overTcp)("a byte flipped on the wire is caught: that call fails with data_loss, the next succeeds", async () => {
    const pair = await startPair((s) => installHandlers(s));
    const proxy = await startCorruptingProxy(pair.listener.port);
    const client = await adapter.connect({ port: proxy.port, checksum: true, compression: "gzip" });
    await client.request(Cmd.Hello, text("xu"));
    await until(() => client.checksummed, 2000, "checksums agreed");
    for (const payload of [text("small payload"), compressible]) {
      proxy.corruptNext(Cmd.Echo);
      const error = await client.request(Cmd.Echo, payload).catch((e) => e);
      expect(error instanceof RpcError && error.code).toBe("data_loss");
      expect((error as Error).message).toContain("checksum mismatch");
      expect(str((await client.request(Cmd.Echo, payload)).payload)).toBe(str(payload));
    }
    expect(proxy.corrupted).toBe(2);
    client.destroy();
    proxy.close();
    await pair.close();
  });

  test.skipIf(!overTcp)("without checksums the same flip goes unnoticed: why they exist", async () => {
    const pair = await startPair((s) => installHandlers(s));
    const proxy = await startCorruptingProxy(pair.listener.port);
    const client = await adapter.connect({ port: proxy.port });
    await client.request(Cmd.Hello, text("xu"));
    proxy.corruptNext(Cmd.Echo);
    const reply = await client.request(Cmd.Echo, text("abc"));
    expect(str(reply.payload)).toBe("abb"); // 'c' ^ 1
    client.destroy();
    proxy.close();
    await pair.close();
  });
});
