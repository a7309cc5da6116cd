/**
 * typed: procedures on weft (`@weft/rpc/typed`): valibot contracts, end-to-end inference
 * with no codegen, four call shapes, both directions, typed events. Calls go by name on one
 * cmd (wire.ts) over any Connection; `emit` across instances through a `cluster/` Broker.
 * May import `client/`, `engine/`, `cluster/`, `wire/`, `codec/` and `common/`; nothing below
 * imports it.
 *
 * @module
 */
export { Context, type Middleware } from "./context.ts";
export {
  type CallerOf,
  type Client,
  type ClientCall,
  type ClientMiddleware,
  type ClientOptions,
  createClient,
  type ProcedureCallOptions,
  type Subscribable,
} from "./client.ts";
export { type Emitter, type Listener, type Subscription } from "./events.ts";
export {
  type AnyEvent,
  type AnyProcedure,
  bidi,
  clientStream,
  event,
  type Event,
  type EventOptions,
  type HandlerOf,
  type InputStream,
  type Procedure,
  type ProcedureBuilders,
  type ProcedureOptions,
  procedures,
  type Schema,
  serverStream,
  type Shape,
  type Source,
  unary,
} from "./procedure.ts";
export { type HandlersOf, implement, type Implemented, RESERVED_NAMES, router, type Router } from "./router.ts";
export { serve, type Served, type ServeOptions, type ServeTarget } from "./serve.ts";
export { type BrokerOptions } from "./brokered.ts";
export { type ReplyStream, type UnaryCall } from "./typed_call.ts";
export { LAST_EVENT_ID, Tracked, tracked, TRACKED_KEY } from "./tracked.ts";
export { rateLimit, type RateLimitOptions, type RateRule } from "./rate_limit.ts";
export { type Issue, type ValidationDetails } from "./validate.ts";
export { DESCRIBE_PROCEDURE, EVENT_CMD, PROCEDURE_CMD } from "./wire.ts";
