/**
 * A served router's `emit` across instances, through a `Broker`: an emit goes to this
 * instance's connections at once (as without a broker) and is published on the broker's
 * topic; every other instance's subscription pushes it to its own connections. Each published
 * event names the instance it came from, so an instance skips its own (its connections had
 * it already).
 *
 * What this guarantees, and what not:
 * - Local first: an emit reaches this instance's connections whatever the broker does, and
 *   returns how many it went to here. Publishing never throws at the caller; a failure (the
 *   broker unreachable) goes to `onError`, and that event reaches no other instance: an event
 *   is a push, not a message queue, and nothing is buffered for later.
 * - Order per publisher: publishes leave in emit order (a broker keeps a publisher's order),
 *   and each instance pushes them in the order its subscription delivers them.
 * - A `gap` in the subscription (the broker lost events, or this instance fell behind its
 *   retention) is reported to `onError`; the pushes it stands for are not replayed.
 * - `emitTo(name)` travels the same way with the name on it; each instance pushes it to its
 *   own connections joined to that name (presence.ts), so it reaches them wherever they are.
 * - Events cross as JSON (the data as the emitter got it; each instance validates it again
 *   against its own router), so event data that crosses instances must be JSON.
 */
import type { Broker, BrokerDelivery } from "../cluster/broker.ts";
import { RpcError } from "../common/errors.ts";
import { json } from "../codec/json.ts";

/** How `serve` uses a broker (`ServeOptions.broker`). */
export interface BrokerOptions {
  readonly broker: Broker;
  /** The topic the router's events travel on (default "weft.events"): one per router that several instances serve. */
  readonly topic?: string;
  /** Failures no caller awaits: publishes that failed, gaps, events from other instances that did not decode. */
  readonly onError?: (error: unknown) => void;
}

/** What travels on the topic. */
interface Carried {
  /** The instance that emitted it. */
  readonly o: string;
  /** The event's path in the router. */
  readonly e: string;
  readonly d: unknown;
  /** For `emitTo(name)`: only the connections that joined this name get it. */
  readonly t?: string;
}

/** Pushes an event that came from another instance to this one's connections (all, or those of `to`). */
export type Deliver = (path: string, data: unknown, to: string | undefined) => void;

/** Publishes this instance's emits and pushes every other instance's to this instance's connections. */
export class BrokeredEvents {
  readonly #broker: Broker;
  readonly #topic: string;
  readonly #onError: (error: unknown) => void;
  readonly #origin = crypto.randomUUID();
  readonly #stop = new AbortController();
  /** Resolves once other instances' emits reach this one. */
  readonly ready: Promise<void>;

  constructor(options: BrokerOptions, deliver: Deliver) {
    this.#broker = options.broker;
    this.#topic = options.topic ?? "weft.events";
    this.#onError = options.onError ?? (() => {});
    const subscription = this.#broker.subscribe(this.#topic, { signal: this.#stop.signal });
    this.ready = subscription.ready;
    this.#receive(subscription, deliver).catch(this.#onError);
  }

  /** Publishes an emit (to everyone, or to the connections joined to `to`) that has been validated and pushed here (never throws). */
  publish(path: string, data: unknown, to?: string): void {
    let bytes: Uint8Array;
    try {
      const carried: Carried = to === undefined ? { o: this.#origin, e: path, d: data } : { o: this.#origin, e: path, d: data, t: to };
      bytes = json.encode(carried);
    } catch (error) {
      this.#onError(new RpcError("invalid_argument", `event "${path}" cannot cross instances (its data must be JSON)`, { cause: error }));
      return;
    }
    this.#broker.publish(this.#topic, bytes).catch(this.#onError);
  }

  /** Stops receiving other instances' emits. */
  close(): void {
    this.#stop.abort();
  }

  async #receive(deliveries: AsyncIterable<BrokerDelivery>, deliver: Deliver): Promise<void> {
    for await (const delivery of deliveries) {
      if (delivery.kind === "gap") {
        this.#onError(new RpcError("data_loss", `events of other instances may have been missed after ${delivery.after}`));
        continue;
      }
      try {
        const carried = json.decode(delivery.data) as Carried;
        if (carried.o === this.#origin) continue;
        deliver(carried.e, carried.d, typeof carried.t === "string" ? carried.t : undefined);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
