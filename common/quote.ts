/**
 * Quoting untrusted input in error messages and log lines. An error that echoes what a peer sent
 * must not grow with it: a 128 KiB name echoed into a gRPC status made trailers too large to send,
 * so the call was never answered (issue 18, case 10). Every message that quotes a name, id or other
 * value it received quotes it through quoteBounded, which keeps at most `charsMax` characters and
 * says how long the value was.
 */
import { assert } from "./assert.js";

/** Characters of an untrusted value an error message quotes by default. */
export const quotedCharsMaxDefault = 64;

/**
 * `value` as a JSON string literal, cut to its first `charsMax` characters (UTF-16 code units, never
 * splitting a surrogate pair) with an ellipsis and the full length when it is longer:
 * `"abcd…" (131072 characters)`. A value that is not a string is described by its type, never
 * converted (its conversion could be as large). The result is at most 6 * charsMax + 40 characters
 * (JSON escapes a control character as six).
 */
export function quoteBounded(value: unknown, charsMax: number = quotedCharsMaxDefault): string {
  assert(Number.isInteger(charsMax) && charsMax >= 1, "quoteBounded quotes at least one character");
  if (typeof value !== "string") return value === undefined || value === null ? String(value) : `(not a string: ${typeof value})`;
  if (value.length <= charsMax) return JSON.stringify(value);
  let end = charsMax;
  // A high surrogate at the cut would be left without its pair.
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${JSON.stringify(value.slice(0, end) + "…")} (${value.length} characters)`;
}
