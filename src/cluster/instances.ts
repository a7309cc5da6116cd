/**
 * Instances as registries hand them out: ordered by id, so two lists of the same set are
 * equal, and compared by content, so a watch yields only when something changed.
 */
import type { Instance } from "./registry.ts";

/** `instances` ordered by id (a new array). */
export function sortedInstances(instances: Instance[]): Instance[] {
  return [...instances].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether two lists from `sortedInstances` hold the same instances with the same endpoints and metadata. */
export function sameInstances(a: readonly Instance[], b: readonly Instance[]): boolean {
  return a.length === b.length && JSON.stringify(a) === JSON.stringify(b);
}
