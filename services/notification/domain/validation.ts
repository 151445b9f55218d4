/**
 * Input rules of the notification RPCs (pure). Each returns a problem text or undefined; the
 * handlers turn problems into INVALID_ARGUMENT naming the field.
 */

/** Partner ids are client-chosen ids: 1..64 chars of [A-Za-z0-9_.:-] (services/shared/ids.ts). */
export const partnerIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Our generated ids (services/shared/ids.ts newId). */
export const endpointIdPattern = /^whe_[0-9a-f]{32}$/;
export const deliveryIdPattern = /^dlv_[0-9a-f]{32}$/;

/** Secrets: 32..256 printable ASCII characters without spaces (CreateWebhookEndpointRequest.secret). */
export const secretLengthMin = 32;
export const secretLengthMax = 256;
export const urlLengthMax = 2048;
export const eventIdLengthMax = 128;

/** Problem with a partner id, or undefined. */
export function partnerIdProblem(partnerId: string): string | undefined {
  if (partnerId === "") return "required";
  if (!partnerIdPattern.test(partnerId)) return "must be 1..64 chars of [A-Za-z0-9_.:-]";
  return undefined;
}

/**
 * Problem with a webhook URL, or undefined. Only absolute http(s) URLs without credentials or
 * fragments. This is NOT an SSRF guard: production must also restrict targets (deny private,
 * loopback and link-local ranges, or send through an egress proxy); see docs/notification.md.
 */
export function webhookUrlProblem(url: string): string | undefined {
  if (url === "") return "required";
  if (url.length > urlLengthMax) return `must be at most ${urlLengthMax} chars`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "must be an http or https URL";
  if (parsed.username || parsed.password) return "must not carry credentials";
  if (parsed.hash) return "must not have a fragment";
  if (!parsed.hostname) return "must name a host";
  return undefined;
}

/** Problem with a caller-supplied secret, or undefined. Empty means "generate one". */
export function secretProblem(secret: string): string | undefined {
  if (secret === "") return undefined;
  if (secret.length < secretLengthMin || secret.length > secretLengthMax) {
    return `must be ${secretLengthMin}..${secretLengthMax} chars (or empty to generate one)`;
  }
  if (!/^[\x21-\x7e]+$/.test(secret)) return "must be printable ASCII without spaces";
  return undefined;
}

/** Page size rule shared by list RPCs: 0 means the default 100; 1..1000 otherwise. */
export function pageSizeOf(pageSize: number): number | undefined {
  if (pageSize === 0) return 100;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) return undefined;
  return pageSize;
}
