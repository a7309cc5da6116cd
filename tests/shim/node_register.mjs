// Node only: make `import ... from "bun:test"` load tests/shim/bun_test.ts.
// Use after tsx so that tsx compiles the .ts shim:
//   node --import tsx --import ./tests/shim/node_register.mjs --test <files>
// Hooks registered later run first, so our resolve hook sees `bun:test` before
// tsx's and Node's default resolver (which would reject the `bun:` scheme).
import { register } from "node:module";

register("./node_hooks.mjs", import.meta.url);
