/**
 * Argument checks shared by every MetadataStore implementation, so both reject the same bad input
 * with the same INVALID_ARGUMENT before anything is sent or written.
 */
import {
  InvalidArgumentError,
  metadataKeyBytesMax,
  metadataLeaseTtlMsMax,
  metadataLeaseTtlMsMin,
  metadataListPageMax,
  metadataTxnBytesMax,
  metadataTxnEntryOverheadBytes,
  metadataTxnOpsMax,
  metadataValueBytesMax,
} from "../../common/index.js";
import type { Compare, ListOptions, TxnOp } from "./metadata-store.js";

export function checkKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) throw new InvalidArgumentError("metadata key must be a non-empty string");
  if (Buffer.byteLength(key) > metadataKeyBytesMax) {
    throw new InvalidArgumentError(`metadata key of ${Buffer.byteLength(key)} bytes exceeds ${metadataKeyBytesMax}`);
  }
  if (key.includes("\0")) throw new InvalidArgumentError("metadata key must not contain NUL");
  if (Buffer.from(key, "utf8").toString("utf8") !== key) throw new InvalidArgumentError("metadata key must be valid Unicode (it has a lone surrogate)");
}

export function checkValue(value: Buffer): void {
  if (!Buffer.isBuffer(value)) throw new InvalidArgumentError("metadata value must be a Buffer");
  if (value.length > metadataValueBytesMax) {
    throw new InvalidArgumentError(`metadata value of ${value.length} bytes exceeds ${metadataValueBytesMax}`);
  }
}

export function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new InvalidArgumentError(`expected version must be an integer >= 0, got ${version}`);
  }
}

export function checkPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw new InvalidArgumentError("metadata prefix must be a string");
  if (Buffer.byteLength(prefix) > metadataKeyBytesMax) throw new InvalidArgumentError(`metadata prefix exceeds ${metadataKeyBytesMax} bytes`);
}

/** The page size to use. */
export function checkListOptions(options: ListOptions): number {
  const limit = options.limit ?? metadataListPageMax;
  if (!Number.isInteger(limit) || limit < 1 || limit > metadataListPageMax) {
    throw new InvalidArgumentError(`list limit must be an integer in [1, ${metadataListPageMax}], got ${limit}`);
  }
  if (options.after !== undefined) checkKey(options.after);
  return limit;
}

export function checkTxn(compares: readonly Compare[], ops: readonly TxnOp[]): void {
  if (compares.length + ops.length > metadataTxnOpsMax) {
    throw new InvalidArgumentError(`a transaction holds at most ${metadataTxnOpsMax} compares and operations, got ${compares.length + ops.length}`);
  }
  let bytes = 0;
  for (const c of compares) {
    checkKey(c.key);
    checkVersion(c.version);
    bytes += Buffer.byteLength(c.key) + metadataTxnEntryOverheadBytes;
  }
  const keys = new Set<string>();
  for (const op of ops) {
    bytes += Buffer.byteLength(op.key) + (op.type === "put" ? op.value.length : 0) + metadataTxnEntryOverheadBytes;
    checkKey(op.key);
    if (keys.has(op.key)) throw new InvalidArgumentError(`a transaction may change a key once: ${op.key}`);
    keys.add(op.key);
    if (op.type === "put") checkValue(op.value);
  }
  if (bytes > metadataTxnBytesMax) {
    throw new InvalidArgumentError(`a transaction carries at most ${metadataTxnBytesMax} bytes (keys, values and ${metadataTxnEntryOverheadBytes} per compare or operation), got ${bytes}`);
  }
}

export function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < metadataLeaseTtlMsMin || ttlMs > metadataLeaseTtlMsMax) {
    throw new InvalidArgumentError(`lease TTL must be an integer number of ms in [${metadataLeaseTtlMsMin}, ${metadataLeaseTtlMsMax}], got ${ttlMs}`);
  }
}

export function checkFromRevision(fromRevision: number): void {
  if (!Number.isSafeInteger(fromRevision) || fromRevision < 1) {
    throw new InvalidArgumentError(`watch fromRevision must be an integer >= 1, got ${fromRevision}`);
  }
}

/** The key just past every key with `prefix` in byte order (etcd's range_end); undefined: no end. */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}
