import { AsyncLocalStorage } from "node:async_hooks";

/** Per-request context carried through async calls: the request id travels to every log line
 * and every downstream RPC (header x-request-id). */
export interface RequestContext {
  readonly requestId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The current request id, or undefined outside a request. */
export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

export const requestIdHeader = "x-request-id";
