/**
 * weft: an RPC SDK for long-lived connections, byte-compatible with qrpc.
 *
 * This module is the runtime-agnostic core. Pair it with an adapter for sockets:
 * `@weft/rpc/deno`, `@weft/rpc/bun` or `@weft/rpc/node`. Payload codecs (raw, JSON,
 * MessagePack) live in `@weft/rpc/codec`, so a bundle that needs none stays small.
 *
 * @module
 */
export * from "./src/common/mod.ts";
export * from "./src/wire/mod.ts";
export * from "./src/engine/mod.ts";
export * from "./src/client/mod.ts";
export * from "./src/cluster/mod.ts";
