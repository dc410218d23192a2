import { hubOf } from "../core/_access.ts";
import { describe } from "../core/_check.ts";
import type { UpgradeDecision } from "../core/_upgrade-decision.ts";
import { UpgradeRequest, type UpgradeRequestInit } from "../core/upgrade.ts";
import type { AnyController } from "./router.ts";

/**
 * The first step of every upgrade, the same on every runtime: the request
 * (copied, since a runtime may invalidate it at upgrade) is checked as an
 * RFC 6455 handshake, then `onUpgrade` decides. The adapter carries out the
 * decision: the refusal's `Response`, or the runtime's upgrade with the
 * accepted `protocol` and `headers`, then `open(transport)` once the socket is up.
 */
export function prepareUpgrade(controller: AnyController, init: UpgradeRequestInit): Promise<UpgradeDecision<unknown>> {
  const hub = hubOf(controller);
  if (!hub) {
    return Promise.reject(new TypeError(`Cannot upgrade as the controller must be a WebSocketController: current value is ${describe(controller)}`));
  }
  return hub.decide(new UpgradeRequest(init), init.method ?? "GET");
}

/** Copies headers into a plain object (lowercase names): lighter to keep for a connection's life than a `Headers`. */
export function copyHeaders(headers: Headers): Record<string, string> {
  const copy: Record<string, string> = {};
  headers.forEach((value, name) => {
    copy[name] = value;
  });
  return copy;
}
