/**
 * Node's TypeScript loader for the benches: `node --import ./bench/harness/node_typescript.mjs`.
 *
 * tsx (which the tests use) compiles with esbuild's keepNames, which wraps every named
 * function and arrow in a `__name(fn, "...")` call: an Object.defineProperty per closure
 * made, and a property array of about 250 bytes on each. Users never run that: the npm
 * package is tsc's plain JavaScript. So the benches strip the types with esbuild (a tsx
 * dependency) and nothing else, and measure the code as it ships. Measured on Node 20: a
 * weft server held 27 such closures per connection (7 KiB); calls made them too.
 */
import { register } from "node:module";

register("./node_typescript_hooks.mjs", import.meta.url);
