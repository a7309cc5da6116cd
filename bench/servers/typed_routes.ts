/**
 * The typed bench's procedures, served by weft_tcp.ts. `checked` validates its input and
 * output with the valibot schemas below; `trusted` is the same procedure with v.unknown()
 * schemas, so the two differ only by validation. Equal-length names: the frames are the
 * same size. typed.ts imports the type only.
 */
import * as v from "valibot";
import { router, unary } from "../../src/typed/mod.ts";

/** The input: a small record, as an application's procedures take them. */
const Item = v.object({
  id: v.number(),
  name: v.pipe(v.string(), v.minLength(1)),
  tags: v.array(v.string()),
});
/** The output: the record back, with a version. */
const Stored = v.object({
  id: v.number(),
  name: v.pipe(v.string(), v.minLength(1)),
  tags: v.array(v.string()),
  version: v.number(),
});
type ItemValue = v.InferOutput<typeof Item>;

function store(item: ItemValue): v.InferInput<typeof Stored> {
  return { id: item.id, name: item.name, tags: item.tags, version: 1 };
}

export const typedRoutes = router({
  checked: unary({ input: Item, output: Stored }, store),
  trusted: unary({ input: v.unknown(), output: v.unknown() }, (input) => store(input as ItemValue)),
});
export type TypedRoutes = typeof typedRoutes;
