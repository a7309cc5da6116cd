/**
 * What a broker is: events published on a topic reach every subscriber of that topic, in
 * the order they were published, and stay retained for a while so a subscriber that was away
 * (a client that reconnected, an instance that lost its Redis) catches up from the last id it
 * saw. `MemoryBroker` is the default (one process); `@weft/rpc/redis` shares one across
 * processes on Redis Streams.
 *
 * When a subscriber asks to resume from an id the broker no longer retains (it was trimmed,
 * or the broker lost its data), it is told so in-band, by a `gap` delivery before the events
 * it does get: never a silent loss, and no window between an error and a new subscription
 * in which more events could slip by.
 */

/** One published event, as a subscriber receives it. */
export interface BrokerEvent {
  readonly kind: "event";
  /** Its id: opaque, unique and ordered within its topic; pass the last one seen as `lastEventId` to resume. */
  readonly id: string;
  readonly topic: string;
  readonly data: Uint8Array;
}

/**
 * Events may be missing between the subscriber's `lastEventId` (or the last event it
 * received) and the next delivery: they were trimmed by retention, or the broker lost them.
 * The subscription goes on with the oldest events that are still retained.
 */
export interface BrokerGap {
  readonly kind: "gap";
  readonly topic: string;
  /** The id after which events may be missing. */
  readonly after: string;
}

/** What a subscription yields: events, and a `gap` wherever some may be missing. */
export type BrokerDelivery = BrokerEvent | BrokerGap;

/**
 * A subscription: its deliveries (iterate it once), and when it is in place. It starts when
 * `subscribe()` is called, not when iteration begins.
 */
export interface BrokerSubscription extends AsyncIterable<BrokerDelivery> {
  /**
   * Resolves once the subscription has its starting point: every event published after that
   * reaches it. At once in memory; after a round trip with Redis (longer during an outage, which
   * it waits through). Never rejects; resolves too when the subscription ends first.
   */
  readonly ready: Promise<void>;
}

/** How a subscription starts and ends. */
export interface SubscribeOptions {
  /** Ends the subscription: the iterator returns. */
  readonly signal?: AbortSignal;
  /**
   * Resume after this id: every retained event published after it is delivered first, then
   * live ones. Without it, only events published after the subscription is `ready` are delivered.
   */
  readonly lastEventId?: string;
}

/** How much a broker keeps per topic for subscribers that catch up. */
export interface Retention {
  /** Events kept per topic (at least this many; Redis trims approximately). Default 1000. */
  readonly maxEvents?: number;
  /** How long an event is kept, in ms. Default 10 minutes. */
  readonly maxAgeMs?: number;
}

/** The defaults of `Retention`. */
export const DEFAULT_RETENTION: Required<Retention> = { maxEvents: 1000, maxAgeMs: 10 * 60_000 };

/** Publish and subscribe by topic, with retention for catching up. */
export interface Broker {
  /**
   * Publishes `data` on `topic`; resolves with the event's id once the broker holds it.
   * Rejects with `RpcError` `unavailable` when the broker cannot take it (its server is
   * unreachable, or the broker is closed): nothing is buffered for later.
   */
  publish(topic: string, data: Uint8Array): Promise<string>;
  /**
   * The events of `topic`, each subscriber getting every event once, in publish order. Ends
   * when `signal` aborts or the broker closes. A slow consumer is not fed without bound: past
   * a bound the broker stops reading for it and catches it up from retention later (a `gap`
   * if it fell behind retention).
   */
  subscribe(topic: string, options?: SubscribeOptions): BrokerSubscription;
  /** Ends every subscription and releases the broker's resources. */
  close(): Promise<void>;
}
