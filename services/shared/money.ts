/**
 * Money helpers. Money is always integer minor units in a bigint; never a float.
 * Source: ISO 4217 (alphabetic code, numeric code, minor-unit exponent), AIP-143.
 */

/** Largest amount a signed 64-bit field carries: 2^63-1 minor units. */
export const amountMinorMax = 9_223_372_036_854_775_807n;

/**
 * ISO 4217 currencies this platform accepts: alphabetic code -> [numeric code, exponent].
 * The numeric code is also the ledger number of that currency's ledger (USD -> 840).
 * A subset of the active list (the ones a card program is likely to see); extend as needed.
 */
export const currencies: Readonly<Record<string, readonly [number, number]>> = {
  AED: [784, 2], ARS: [32, 2], AUD: [36, 2], BGN: [975, 2], BHD: [48, 3], BRL: [986, 2],
  CAD: [124, 2], CHF: [756, 2], CLP: [152, 0], CNY: [156, 2], COP: [170, 2], CZK: [203, 2],
  DKK: [208, 2], EGP: [818, 2], EUR: [978, 2], GBP: [826, 2], HKD: [344, 2], HUF: [348, 2],
  IDR: [360, 2], ILS: [376, 2], INR: [356, 2], ISK: [352, 0], JOD: [400, 3], JPY: [392, 0],
  KES: [404, 2], KRW: [410, 0], KWD: [414, 3], MAD: [504, 2], MXN: [484, 2], MYR: [458, 2],
  NGN: [566, 2], NOK: [578, 2], NZD: [554, 2], OMR: [512, 3], PEN: [604, 2], PHP: [608, 2],
  PKR: [586, 2], PLN: [985, 2], QAR: [634, 2], RON: [946, 2], SAR: [682, 2], SEK: [752, 2],
  SGD: [702, 2], THB: [764, 2], TND: [788, 3], TRY: [949, 2], TWD: [901, 2], UAH: [980, 2],
  USD: [840, 2], VND: [704, 0], ZAR: [710, 2],
};

/** True when `code` is a supported ISO 4217 alphabetic code. */
export function isCurrency(code: string): boolean {
  return Object.hasOwn(currencies, code);
}

/** Ledger number of a currency (its ISO 4217 numeric code). Throws on an unknown code. */
export function ledgerOf(code: string): number {
  const entry = currencies[code];
  if (!entry) throw new Error(`unknown currency ${code}`);
  return entry[0];
}

/** Minor-unit exponent of a currency (USD 2, JPY 0, KWD 3). Throws on an unknown code. */
export function exponentOf(code: string): number {
  const entry = currencies[code];
  if (!entry) throw new Error(`unknown currency ${code}`);
  return entry[1];
}

/**
 * Parses a non-negative decimal string ("12.3", "45.00", "7") into minor units of `currency`
 * exactly, without going through a float. Throws on more fraction digits than the exponent
 * allows, on signs, exponents, or anything that is not plain digits.
 */
export function parseDecimalMinor(text: string, currency: string): bigint {
  const exponent = exponentOf(currency);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`not a plain decimal amount: ${JSON.stringify(text)}`);
  const whole = match[1];
  const fraction = match[2] ?? "";
  if (fraction.length > exponent) {
    throw new Error(`${text} has more than ${exponent} decimals for ${currency}`);
  }
  const minor = BigInt(whole + fraction.padEnd(exponent, "0"));
  if (minor > amountMinorMax) throw new Error(`${text} overflows 64-bit minor units`);
  return minor;
}

/** Formats minor units as a decimal string in major units ("1234" USD -> "12.34"). */
export function formatMinor(minor: bigint, currency: string): string {
  const exponent = exponentOf(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, "0");
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
  const fraction = exponent === 0 ? "" : `.${digits.slice(-exponent)}`;
  return `${negative ? "-" : ""}${whole}${fraction}`;
}
