import type { Hub } from "./_hub.ts";

/**
 * The hub of each controller, for the adapter contract (`src/adapter`): a
 * module-private table rather than a field, so the hub is no part of what a
 * controller shows or types.
 */
const hubs = new WeakMap<object, Hub<unknown>>();

/** Records the hub of a controller; called once, by the controller's constructor. */
export function registerHub(controller: object, hub: Hub<unknown>): void {
  hubs.set(controller, hub);
}

/** The hub of a controller, or undefined for anything that is not one. */
export function hubOf(controller: unknown): Hub<unknown> | undefined {
  return typeof controller === "object" && controller !== null ? hubs.get(controller) : undefined;
}
