import { createHmac } from "node:crypto";

/**
 * Card number helpers. A PAN lives only in the request being handled: it is turned into a
 * token at once and never stored, logged or sent to another service.
 */

/** True when `pan` is 8..19 digits (the ISO/IEC 7812-1 range) and passes the Luhn (mod 10) check. */
export function isValidPan(pan: string): boolean {
  if (!/^\d{8,19}$/.test(pan)) return false;
  let sum = 0;
  for (let index = 0; index < pan.length; index += 1) {
    let digit = pan.charCodeAt(pan.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Card tokens: "card_" + 32 lowercase hex (128 bits of HMAC-SHA256(key, PAN)). */
export const cardTokenPattern = /^card_[0-9a-f]{32}$/;

/**
 * Deterministic token of a PAN: the same card always maps to the same token (velocity, credit
 * line), but the PAN cannot be recovered without the key (CARD_TOKEN_KEY).
 */
export function tokenizePan(pan: string, key: string): string {
  return `card_${createHmac("sha256", key).update(pan).digest("hex").slice(0, 32)}`;
}

/** Last four digits of a PAN (PCI DSS allows storing and showing them). */
export function last4(pan: string): string {
  return pan.slice(-4);
}
