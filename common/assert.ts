/**
 * Assertions for invariants. They stay on in production: a failed assertion is a programming
 * error, never an expected failure (those are typed errors from errors.ts).
 */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`);
}

/** Ends a switch over a union: the compiler proves the value cannot reach this call. */
export function unreachable(value: never, what = "value"): never {
  throw new Error(`unreachable ${what}: ${String(value)}`);
}
