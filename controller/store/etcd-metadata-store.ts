/**
 * The MetadataStore on etcd, for clusters: every key lives under a namespace prefix (default
 * `sluice/`) so one etcd can serve other applications too; versions are etcd mod revisions,
 * compares are etcd Txn guards, leases are etcd leases driven only by the caller's keepAlive, and a
 * watch is one etcd watch stream that resumes after the last delivered revision when the connection
 * is lost. Every call has a deadline; an unreachable or slow etcd surfaces as UNAVAILABLE and no raw
 * etcd3 error leaves this file.
 */
import { noop } from "cockatiel";
import {
  castGrpcError,
  ClientClosedError,
  CompareResult,
  CompareTarget,
  Etcd3,
  EtcdLeaseInvalidError,
  EtcdWatchStreamEnded,
  isRecoverableError,
  SortOrder,
  SortTarget,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
  type ITxnResponse,
} from "etcd3";
import {
  assert,
  ClosedError,
  ConditionalCheckFailedError,
  InternalError,
  InvalidArgumentError,
  InvalidConfigError,
  LeaseNotFoundError,
  quoteBounded,
  RevisionCompactedError,
  SluiceError,
  UnavailableError,
  unreachable,
} from "../../common/index.js";
import type { Compare, KeyValue, LeaseId, ListOptions, ListPage, MetadataStore, PutOptions, TxnOp, Watch, WatchHandler } from "./metadata-store.js";
import { compactedMessage, etcdCallTimeoutMs, revisionOf, unprefix } from "./etcd-shared.js";
import { EtcdWatch } from "./etcd-watch.js";
import { checkFromRevision, checkKey, checkListOptions, checkPrefix, checkTtl, checkTxn, checkValue, prefixEnd } from "./validate.js";

export { etcdCallTimeoutMs } from "./etcd-shared.js";

/** gRPC keep-alive pings find a dead connection that sends no RST; etcd refuses pings more often than every 5 s. */
const grpcKeepaliveTimeMs = 10_000;
const grpcKeepaliveTimeoutMs = 5_000;
/** Largest reply taken from etcd (a list page of up to metadataListPageMax entries). */
const grpcReceiveBytesMax = 64 * 1024 * 1024;
/** gRPC's own reconnect backoff, bounded so calls succeed soon after etcd returns. */
const grpcReconnectBackoffMsMin = 100;
const grpcReconnectBackoffMsMax = 1_000;
export const etcdDefaultNamespace = "sluice/";
const namespaceBytesMax = 256;
/** Printable ASCII without URI delimiters, so a namespace never ends in 0xff and always has a prefix end. */
const namespacePattern = /^[A-Za-z0-9._~:/-]+$/;
const hostPortPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$/;
const uriForm = "etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE]";
/** etcd's int64 lease ids, as decimal strings; "0" means "no lease" to etcd, so it is never a lease. */
const leaseIdPattern = /^[1-9][0-9]{0,18}$/;
const leaseIdMax = 2n ** 63n - 1n;
/** etcd messages for conditions that pass (no leader yet, overload, timeouts inside etcd). */
const transientEtcdMessage = /etcdserver: (request timed out|leader changed|no leader|too many requests|server stopped|timed out)/;
const futureRevisionMessage = /required revision is a future revision/;

export interface EtcdUri {
  /** "HOST:PORT" endpoints. */
  endpoints: string[];
  namespace: string;
}

export interface EtcdMetadataStoreOptions {
  /** Overrides the URI's namespace (taken as given, no "/" appended). */
  namespace?: string;
}

/** Parses `etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE]`; a namespace from the path gets a trailing "/". */
export function parseEtcdUri(uri: string): EtcdUri {
  const bad = (why: string) => new InvalidConfigError(`etcd URI must look like ${uriForm}: ${why}, got ${JSON.stringify(uri)}`);
  const match = /^etcd:\/\/([^/?#]*)(?:\/([^?#]*))?$/.exec(uri);
  if (match === null) throw bad("not an etcd:// URI with host:port list and optional namespace path");
  const endpoints = (match[1] ?? "").split(",");
  for (const endpoint of endpoints) {
    const port = hostPortPattern.exec(endpoint)?.[1];
    if (port === undefined) throw bad(`endpoint ${JSON.stringify(endpoint)} is not HOST:PORT`);
    if (Number(port) < 1 || Number(port) > 65_535) throw bad(`port ${port} is not in [1, 65535]`);
  }
  const path = match[2] ?? "";
  if (path === "") return { endpoints, namespace: etcdDefaultNamespace };
  const namespace = path.endsWith("/") ? path : `${path}/`;
  checkNamespace(namespace, bad);
  return { endpoints, namespace };
}

function checkNamespace(namespace: string, bad: (why: string) => InvalidConfigError): void {
  if (!namespacePattern.test(namespace)) throw bad(`namespace ${JSON.stringify(namespace)} must be non-empty and use only A-Z a-z 0-9 . _ ~ : / -`);
  if (namespace.length > namespaceBytesMax) throw bad(`namespace of ${namespace.length} bytes exceeds ${namespaceBytesMax}`);
}

export class EtcdMetadataStore implements MetadataStore {
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();
  private readonly namespaceBytes: Buffer;

  private constructor(
    private readonly client: Etcd3,
    private readonly endpoints: string,
    namespace: string,
  ) {
    this.namespaceBytes = Buffer.from(namespace);
  }

  /** Connects and checks that etcd answers within etcdCallTimeoutMs (UNAVAILABLE otherwise). */
  static async connect(uri: string, options: EtcdMetadataStoreOptions = {}): Promise<EtcdMetadataStore> {
    const parsed = parseEtcdUri(uri);
    const namespace = options.namespace ?? parsed.namespace;
    checkNamespace(namespace, (why) => new InvalidConfigError(`etcd namespace option: ${why}`));
    const client = new Etcd3({
      hosts: parsed.endpoints.map((endpoint) => `http://${endpoint}`),
      // No retries or circuit breakers inside etcd3: a retried write could apply twice, and an open
      // breaker would fail calls for seconds after etcd is back. The caller retries, with a compare.
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        "grpc.keepalive_time_ms": grpcKeepaliveTimeMs,
        "grpc.keepalive_timeout_ms": grpcKeepaliveTimeoutMs,
        "grpc.initial_reconnect_backoff_ms": grpcReconnectBackoffMsMin,
        "grpc.max_reconnect_backoff_ms": grpcReconnectBackoffMsMax,
        // etcd3 replaces a failed host's channels; a private subchannel pool makes the new channel
        // dial at once instead of inheriting the old subchannel's reconnect backoff.
        "grpc.use_local_subchannel_pool": 1,
        // A list page of many large values can pass grpc-js's default 4 MiB.
        "grpc.max_receive_message_length": grpcReceiveBytesMax,
      },
    });
    const store = new EtcdMetadataStore(client, parsed.endpoints.join(","), namespace);
    try {
      await store.revision();
    } catch (err) {
      client.close();
      if (err instanceof UnavailableError) {
        throw new UnavailableError(
          `etcd at ${store.endpoints} did not answer within ${etcdCallTimeoutMs} ms; is it running? start one with ` +
            `etcd --listen-client-urls http://HOST:PORT --advertise-client-urls http://HOST:PORT`,
          { cause: err },
        );
      }
      throw err;
    }
    return store;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.checkOpen();
    checkKey(key);
    const res = await this.call("get", () => this.client.kv.range({ key: this.full(key) }, this.deadline()));
    const kv = res.kvs[0];
    return kv === undefined ? undefined : this.toKeyValue(kv);
  }

  async put(key: string, value: Buffer, options: PutOptions = {}): Promise<number> {
    this.checkOpen();
    checkKey(key);
    checkValue(value);
    const lease = options.lease === undefined ? undefined : leaseArg(options.lease);
    const res = await this.call(lease === undefined ? "put" : `put with lease ${lease}`, () =>
      this.client.kv.put({ key: this.full(key), value, ...(lease === undefined ? {} : { lease }) }, this.deadline()),
    );
    return revisionOf(res.header);
  }

  async compareAndSet(key: string, expectedVersion: number, value: Buffer, options: PutOptions = {}): Promise<number> {
    const op: TxnOp = options.lease === undefined ? { type: "put", key, value } : { type: "put", key, value, lease: options.lease };
    const res = await this.applyTxn("compareAndSet", [{ key, version: expectedVersion }], [op]);
    return revisionOf(res.header);
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    if (expectedVersion !== undefined) {
      const res = await this.applyTxn("delete", [{ key, version: expectedVersion }], [{ type: "delete", key }]);
      const deleted = res.responses[0]?.response_delete_range;
      assert(deleted !== undefined, "a committed conditional delete answers its delete");
      return Number(deleted.deleted) > 0;
    }
    this.checkOpen();
    checkKey(key);
    const res = await this.call("delete", () => this.client.kv.deleteRange({ key: this.full(key) }, this.deadline()));
    return Number(res.deleted) > 0;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.checkOpen();
    checkPrefix(prefix);
    const limit = checkListOptions(options);
    const { start: prefixStart, end } = this.range(prefix);
    let start = prefixStart;
    if (options.after !== undefined) {
      // The smallest key after `after` is `after` + NUL; a cursor before the prefix starts at the prefix.
      const afterNext = Buffer.concat([this.full(options.after), Buffer.of(0)]);
      if (Buffer.compare(afterNext, start) > 0) start = afterNext;
    }
    const res = await this.call("list", () =>
      this.client.kv.range({ key: start, range_end: end, limit, sort_order: SortOrder.Ascend, sort_target: SortTarget.Key }, this.deadline()),
    );
    return { entries: res.kvs.map((kv) => this.toKeyValue(kv)), more: res.more, revision: revisionOf(res.header) };
  }

  async txn(compares: readonly Compare[], ops: readonly TxnOp[]): Promise<number> {
    const res = await this.applyTxn("txn", compares, ops);
    return revisionOf(res.header);
  }

  async watch(prefix: string, fromRevision: number, handler: WatchHandler): Promise<Watch> {
    this.checkOpen();
    checkPrefix(prefix);
    checkFromRevision(fromRevision);
    await this.checkHistory(fromRevision);
    this.checkOpen();
    const { start, end } = this.range(prefix);
    const watch = new EtcdWatch({
      client: this.client,
      start,
      end,
      namespaceBytes: this.namespaceBytes.length,
      fromRevision,
      handler,
      toError: (err) => this.toError("watch", err),
      onEnd: (w) => this.watches.delete(w),
    });
    this.watches.add(watch);
    await watch.start();
    return watch;
  }

  async grantLease(ttlMs: number): Promise<LeaseId> {
    this.checkOpen();
    checkTtl(ttlMs);
    const res = await this.call("grantLease", () => this.client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000) }, this.deadline()));
    if (res.error !== "") throw new InternalError(`etcd refused a lease: ${res.error}`);
    assert(leaseIdPattern.test(res.ID), `etcd granted lease id ${res.ID}`);
    return res.ID;
  }

  async keepAlive(lease: LeaseId): Promise<void> {
    this.checkOpen();
    const id = leaseArg(lease);
    const stream = await this.call("keepAlive", () => this.client.leaseClient.leaseKeepAlive(this.deadline()));
    // One request, one answer, then the stream is half-closed (and cancelled, which is then quiet).
    const ttlSeconds = await new Promise<number>((resolve, reject) => {
      let settled = false;
      const settle = (err: SluiceError | undefined, ttl = 0): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.end();
        stream.cancel();
        if (err === undefined) resolve(ttl);
        else reject(err);
      };
      const timer = setTimeout(() => settle(new UnavailableError(`keepAlive: etcd at ${this.endpoints} did not answer within ${etcdCallTimeoutMs} ms`)), etcdCallTimeoutMs);
      stream.on("data", (res) => settle(undefined, Number(res.TTL)));
      stream.on("error", (err) => settle(this.toError("keepAlive", err)));
      stream.on("end", () => settle(this.toError("keepAlive", new EtcdWatchStreamEnded())));
      stream.write({ ID: id });
    });
    if (ttlSeconds <= 0) throw new LeaseNotFoundError(`lease ${lease} has expired or was revoked`);
  }

  async revokeLease(lease: LeaseId): Promise<void> {
    this.checkOpen();
    let id: string;
    try {
      id = leaseArg(lease);
    } catch (err) {
      // A string that cannot be an etcd lease names no lease, and a lease already gone is not an error.
      if (err instanceof LeaseNotFoundError) return;
      throw err;
    }
    try {
      await this.call("revokeLease", () => this.client.leaseClient.leaseRevoke({ ID: id }, this.deadline()));
    } catch (err) {
      if (err instanceof LeaseNotFoundError) return;
      throw err;
    }
  }

  async revision(): Promise<number> {
    this.checkOpen();
    const res = await this.call("revision", () => this.client.kv.range({ key: this.namespaceBytes, count_only: true }, this.deadline()));
    return revisionOf(res.header);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watches].map((w) => w.close()));
    this.client.close();
  }

  // ---- helpers ----

  /** Checks, then runs compares and ops as one etcd Txn; a failed compare reads the compared keys to name them. */
  private async applyTxn(what: string, compares: readonly Compare[], ops: readonly TxnOp[]): Promise<ITxnResponse> {
    this.checkOpen();
    checkTxn(compares, ops);
    const success = ops.map((op): IRequestOp => {
      switch (op.type) {
        case "put": {
          const lease = op.lease === undefined ? undefined : leaseArg(op.lease);
          return { request_put: { key: this.full(op.key), value: op.value, ...(lease === undefined ? {} : { lease }) } };
        }
        case "delete":
          return { request_delete_range: { key: this.full(op.key) } };
        default:
          return unreachable(op, "txn op");
      }
    });
    // An absent key compares as mod revision 0 in etcd, so "version 0" means "absent" as the contract wants.
    const compare = compares.map((c): ICompare => ({ key: this.full(c.key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: String(c.version) }));
    const failure = compares.map((c): IRequestOp => ({ request_range: { key: this.full(c.key), keys_only: true } }));
    const res = await this.call(what, () => this.client.kv.txn({ compare, success, failure }, this.deadline()));
    if (res.succeeded) return res;
    const differ = compares.flatMap((c, i) => {
      const kv = res.responses[i]?.response_range?.kvs[0];
      const found = kv === undefined ? 0 : revisionOf({ revision: kv.mod_revision });
      return found === c.version ? [] : [`${c.key}: expected version ${c.version}, found ${found}`];
    });
    assert(differ.length > 0, "a failed etcd compare has a key whose version differs");
    throw new ConditionalCheckFailedError(differ.join("; "));
  }

  /** Rejects a watch from a revision etcd has compacted away, before the watch exists. */
  private async checkHistory(fromRevision: number): Promise<void> {
    try {
      await this.client.kv.range({ key: this.namespaceBytes, count_only: true, serializable: true, revision: fromRevision }, this.deadline());
    } catch (err) {
      // Watching from the future is fine: the watch waits for it.
      if (err instanceof Error && futureRevisionMessage.test(err.message)) return;
      throw this.toError("watch", err);
    }
  }

  private range(prefix: string): { start: Buffer; end: Buffer } {
    const start = this.full(prefix);
    const end = prefixEnd(start);
    assert(end !== undefined, "a namespaced prefix has an end (the namespace is printable ASCII)");
    return { start, end };
  }

  private full(key: string): Buffer {
    return Buffer.concat([this.namespaceBytes, Buffer.from(key, "utf8")]);
  }

  private toKeyValue(kv: IKeyValue): KeyValue {
    return {
      key: unprefix(kv.key, this.namespaceBytes.length),
      value: kv.value,
      version: revisionOf({ revision: kv.mod_revision }),
      createRevision: revisionOf({ revision: kv.create_revision }),
      lease: kv.lease === "0" ? undefined : kv.lease,
    };
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + etcdCallTimeoutMs };
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError("the etcd metadata store is closed");
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.toError(what, err);
    }
  }

  /** Maps anything etcd3 throws to a SluiceError: nothing raw leaves this file. */
  private toError(what: string, raw: unknown): SluiceError {
    if (raw instanceof SluiceError) return raw;
    if (this.closed) return new ClosedError(`${what}: the etcd metadata store is closed`, { cause: raw });
    // Unary calls reject with etcd3's typed errors; streams emit grpc-js's plain ones, typed here.
    const err = raw instanceof Error ? castGrpcError(raw) : raw;
    if (err instanceof EtcdLeaseInvalidError) return new LeaseNotFoundError(`${what}: the lease has expired or was revoked`, { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    if (compactedMessage.test(message)) return new RevisionCompactedError(`${what}: etcd has compacted the history asked for: ${message}`, { cause: err });
    // A reply too large for us is not a transport failure: retrying gets the same reply.
    if (/larger than max|RESOURCE_EXHAUSTED|message length/i.test(message) && !/request is too large/.test(message)) {
      return new InvalidArgumentError(`${what}: etcd's reply is larger than ${grpcReceiveBytesMax} bytes; list with a smaller limit: ${message}`, { cause: err });
    }
    // etcd3's "recoverable" errors are transport failures (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
    // INTERNAL, UNKNOWN, ABORTED, RESOURCE_EXHAUSTED): the request may or may not have been applied.
    const unavailable =
      (err instanceof Error && isRecoverableError(err)) ||
      err instanceof ClientClosedError ||
      err instanceof EtcdWatchStreamEnded ||
      transientEtcdMessage.test(message);
    if (unavailable) return new UnavailableError(`${what}: etcd at ${this.endpoints} is unavailable: ${message}`, { cause: err });
    if (/request is too large|too many operations/.test(message)) return new InvalidArgumentError(`${what}: etcd refused the request: ${message}`, { cause: err });
    return new InternalError(`${what}: etcd failed: ${message}`, { cause: err });
  }
}

/** A lease id to send; a string that cannot be an etcd lease id names no lease. */
function leaseArg(lease: LeaseId): string {
  if (typeof lease !== "string") throw new InvalidArgumentError("a lease id must be a string");
  if (!leaseIdPattern.test(lease) || BigInt(lease) > leaseIdMax) throw new LeaseNotFoundError(`lease ${quoteBounded(lease)} does not exist`);
  return lease;
}
