// Module customization hooks (node:module register) used by node_register.mjs.
const SHIM_URL = new URL("./bun_test.ts", import.meta.url).href;

/** @type {import("node:module").ResolveHook} */
export function resolve(specifier, context, nextResolve) {
  // Hand the rewritten specifier on (rather than short-circuiting) so tsx's
  // resolve hook still runs and tags the .ts file with a format it can load.
  if (specifier === "bun:test") return nextResolve(SHIM_URL, context);
  return nextResolve(specifier, context);
}
