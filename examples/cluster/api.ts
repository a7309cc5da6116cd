/**
 * The service the cluster example runs: what its instances serve and its clients call. A
 * shared router, so both sides are typed from one place.
 */
import * as v from "valibot";
import { event, router, unary } from "../../src/typed/mod.ts";

/** An announcement pushed to every client of every instance. */
export const News = v.object({ from: v.string(), text: v.string() });
export type News = v.InferOutput<typeof News>;

/** The router of the instance named `name`; `announce` is its served router's `emit.news`. */
export function greeterApi(name: string, announce: (news: News) => number) {
  return router({
    news: event(News),
    /** Which instance answered: the call's reply names it. */
    hello: unary({ input: v.string(), output: v.string() }, (who) => `hello ${who}, from ${name}`),
    /** Emits `text` as news from this instance; answers how many of its own clients it went to at once. */
    announce: unary({ input: v.string(), output: v.number() }, (text) => announce({ from: name, text })),
  });
}

export type GreeterApi = ReturnType<typeof greeterApi>;
