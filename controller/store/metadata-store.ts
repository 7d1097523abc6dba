/**
 * The MetadataStore contract: everything Sluice remembers outside event data lives behind it. This
 * is the foundation's subset (get, put, compare-and-set, conditional delete, prefix list, a global
 * revision); the metadata issue adds transactions, watches and leases, with etcd beside the
 * embedded store.
 */

export interface VersionedValue {
  key: string;
  value: Buffer;
  /** The revision of the write that last changed this key (etcd's mod_revision); never 0. */
  version: number;
}

export interface MetadataStore {
  /** The value of `key`, or undefined. Sees every write whose promise has resolved. */
  get(key: string): Promise<VersionedValue | undefined>;

  /**
   * Writes `key` unconditionally. Resolves with the new version once the write is durable (on the
   * embedded store: fdatasync'd). Raises INVALID_ARGUMENT for an empty key or oversized value.
   */
  put(key: string, value: Buffer): Promise<number>;

  /**
   * Writes `key` only if its current version is `expectedVersion` (0: only if absent). Resolves
   * with the new version once durable. Raises CONDITIONAL_CHECK_FAILED (and changes nothing) when
   * the version differs. Of concurrent calls with the same expectation exactly one succeeds.
   */
  compareAndSet(key: string, expectedVersion: number, value: Buffer): Promise<number>;

  /**
   * Deletes `key`; with `expectedVersion` only if that is its version (CONDITIONAL_CHECK_FAILED
   * otherwise). Resolves true if a key was deleted, once durable.
   */
  delete(key: string, expectedVersion?: number): Promise<boolean>;

  /** Every key starting with `prefix`, in key order, at one revision. */
  list(prefix: string): Promise<VersionedValue[]>;

  /** The revision of the latest durable write. */
  revision(): number;

  close(): Promise<void>;
}
