/**
 * Segment store membership and load reports, kept entirely in the MetadataStore so that any
 * controller can take a store's heartbeat or report (HA): a lease granted through a controller that
 * died since is kept alive through another. Key layout:
 *   cluster/stores/<storeId>  -> {"host", "port"}                           (JSON, attached to the store's lease)
 *   cluster/load/<storeId>    -> {"windowsMs", "segments", "receivedAtMs"}  (JSON, the latest load report)
 *
 * A store is live while its lease is: it heartbeats well within `storeLeaseMs`, each heartbeat
 * keeping its lease alive, and when it stops, its key vanishes with the lease and the placement
 * loop moves its containers. A load report is attached to the store's lease too when it has one,
 * so the reports of dead stores go with them; reports older than `reportStaleMs` are left out
 * either way.
 */
import {
  assert,
  InvalidArgumentError,
  LeaseNotFoundError,
  loadReportSegmentsMax,
  logger,
  metadataListPageMax,
  metadataValueBytesMax,
  OverloadedError,
  quoteBounded,
  segmentNameBytesMax,
  segmentStoresMax,
  systemClock,
  toSluiceError,
  type Clock,
} from "../../common/index.js";
import type { HeartbeatRequest, HeartbeatResponse, ReportLoadRequest, SegmentLoadReport } from "../../proto/index.js";
import { listAll, validateStoreId, type KeyValue, type LeaseId, type MetadataStore } from "../store/index.js";
import type { LoadSource, SegmentLoadSample } from "../control-ops.js";

const log = logger("membership");

export const storesPrefix = "cluster/stores/";
export const loadPrefix = "cluster/load/";
/** Default for how long a load report counts: three report intervals of the stores' default 10 s. */
export const reportStaleMsDefault = 3 * 10_000;
/** Windows one load report may carry (the segment store's statistics allow at most 8). */
const loadReportWindowsMax = 8;
/** Longest window a load report may name (24 h, as the segment store's statistics). */
const loadReportWindowMsMax = 24 * 60 * 60 * 1000;
/** Longest host name a store may register (a DNS name is at most 253 characters). */
const storeHostBytesMax = 255;
/**
 * Load reports listed per page: each may be up to a metadata value (1 MiB), and a page must stay
 * well under what one etcd reply may carry (64 MiB in the etcd store).
 */
const loadListPageEntries = 32;
/** Longest lease id a heartbeat may carry: the stores' ids are decimal integers (etcd's are up to 19 digits). */
const leaseIdCharsMax = 64;
/** Characters of a bad stored value quoted in a log line. */
const badValueLogChars = 80;

// One page of the store keys covers every registration, so the bound is checked with one list.
assert(segmentStoresMax <= metadataListPageMax, "every store registration fits one list page");

export interface StoreEndpoint {
  host: string;
  port: number;
}

export interface MembershipOptions {
  /** The lease a store's heartbeats keep alive: a store silent this long is dead and its containers move. */
  storeLeaseMs: number;
  /** Load reports received longer ago than this are left out of loadReports() (default `reportStaleMsDefault`). */
  reportStaleMs?: number;
}

/** The stored form of a load report. */
interface StoredReport {
  windowsMs: number[];
  segments: SegmentLoadReport[];
  receivedAtMs: number;
}

export function storeKey(storeId: string): string {
  return `${storesPrefix}${storeId}`;
}

export function loadKey(storeId: string): string {
  return `${loadPrefix}${storeId}`;
}

function encodeEndpoint(e: StoreEndpoint): Buffer {
  return Buffer.from(JSON.stringify({ host: e.host, port: e.port }), "utf8");
}

/** The endpoint a store key holds, or undefined (logged) if it does not parse. */
function decodeEndpoint(kv: KeyValue): StoreEndpoint | undefined {
  try {
    const v = JSON.parse(kv.value.toString("utf8")) as unknown;
    const { host, port } = (typeof v === "object" && v !== null ? v : {}) as { host?: unknown; port?: unknown };
    if (typeof host === "string" && host.length > 0 && typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535) return { host, port };
  } catch (err) {
    log.error("a store registration is not JSON; ignoring it", { key: kv.key, error: toSluiceError(err).message });
    return undefined;
  }
  log.error("a store registration does not hold {host, port}; ignoring it", { key: kv.key, value: kv.value.toString("utf8").slice(0, badValueLogChars) });
  return undefined;
}

function checkEndpoint(host: string, port: number): void {
  if (typeof host !== "string" || host.length === 0 || Buffer.byteLength(host) > storeHostBytesMax) {
    throw new InvalidArgumentError(`host must be 1-${storeHostBytesMax} bytes (where clients reach the store), got ${quoteBounded(host)}`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`port must be an integer in [1, 65535], got ${port}`);
  }
}

function checkRate(value: unknown, field: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${field}: ${String(value)} is not a finite number >= 0`);
  }
}

/** Validates a load report; raises INVALID_ARGUMENT naming the first bad field. */
export function validateLoadReport(req: ReportLoadRequest): void {
  validateStoreId(req.storeId);
  const windows = req.windowsMs;
  if (!Array.isArray(windows) || windows.length < 1 || windows.length > loadReportWindowsMax) {
    throw new InvalidArgumentError(`windowsMs: give 1 to ${loadReportWindowsMax} windows, got ${Array.isArray(windows) ? windows.length : "none"}`);
  }
  windows.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 1 || w > loadReportWindowMsMax || (i > 0 && w <= (windows[i - 1] ?? 0))) {
      throw new InvalidArgumentError(`windowsMs[${i}]: ${w} must be an integer in [1, ${loadReportWindowMsMax}] ms, longer than the window before`);
    }
  });
  if (!Array.isArray(req.segments) || req.segments.length > loadReportSegmentsMax) {
    throw new InvalidArgumentError(`segments: at most ${loadReportSegmentsMax} per report (send the busiest), got ${Array.isArray(req.segments) ? req.segments.length : "none"}`);
  }
  req.segments.forEach((s, i) => {
    const at = `segments[${i}]`;
    if (typeof s.segment !== "string" || s.segment.length === 0 || Buffer.byteLength(s.segment) > segmentNameBytesMax) {
      throw new InvalidArgumentError(`${at}.segment: a segment name of 1-${segmentNameBytesMax} bytes is required`);
    }
    for (const field of ["eventsPerSec", "bytesPerSec"] as const) {
      const rates = s[field];
      if (!Array.isArray(rates) || rates.length !== windows.length) {
        throw new InvalidArgumentError(`${at}.${field}: needs one rate per window (${windows.length}), got ${Array.isArray(rates) ? rates.length : "none"}`);
      }
      rates.forEach((r, j) => checkRate(r, `${at}.${field}[${j}]`));
    }
    if (!Number.isSafeInteger(s.trackedMs) || s.trackedMs < 0) {
      throw new InvalidArgumentError(`${at}.trackedMs: ${s.trackedMs} is not an integer >= 0`);
    }
  });
}

/** Busiest first: by the shortest window's events/s, then its bytes/s, then name (so trimming is repeatable). */
function busiestFirst(a: SegmentLoadReport, b: SegmentLoadReport): number {
  return (b.eventsPerSec[0] ?? 0) - (a.eventsPerSec[0] ?? 0) || (b.bytesPerSec[0] ?? 0) - (a.bytesPerSec[0] ?? 0) || (a.segment < b.segment ? -1 : a.segment > b.segment ? 1 : 0);
}

/**
 * The report as stored JSON, within `metadataValueBytesMax`: when every segment does not fit, the
 * busiest that do are kept (the quiet ones matter least to scaling, and come back when busier).
 */
export function encodeLoadReport(req: ReportLoadRequest, receivedAtMs: number): { value: Buffer; kept: number } {
  // Only the known fields are stored, whatever else the request object carries.
  const segments = req.segments.map((s) => ({ segment: s.segment, eventsPerSec: s.eventsPerSec, bytesPerSec: s.bytesPerSec, trackedMs: s.trackedMs }));
  const emptyBytes = Buffer.byteLength(JSON.stringify({ windowsMs: req.windowsMs, segments: [], receivedAtMs }));
  // Each segment takes its JSON plus a comma in the array.
  const sizes = new Map(segments.map((s) => [s, Buffer.byteLength(JSON.stringify(s)) + 1]));
  let bytes = emptyBytes;
  for (const size of sizes.values()) bytes += size;
  let kept = segments;
  if (bytes > metadataValueBytesMax) {
    kept = [];
    bytes = emptyBytes;
    for (const s of [...segments].sort(busiestFirst)) {
      const size = sizes.get(s) ?? 0;
      if (bytes + size > metadataValueBytesMax) break;
      bytes += size;
      kept.push(s);
    }
  }
  const stored: StoredReport = { windowsMs: req.windowsMs, segments: kept, receivedAtMs };
  const value = Buffer.from(JSON.stringify(stored), "utf8");
  assert(value.length <= metadataValueBytesMax, "a trimmed load report fits one metadata value");
  return { value, kept: kept.length };
}

/** A stored report, or undefined (logged) if it does not parse: load only advises scaling, so one bad report is skipped, not fatal. */
function decodeReport(kv: KeyValue): StoredReport | undefined {
  let v: unknown;
  try {
    v = JSON.parse(kv.value.toString("utf8"));
  } catch (err) {
    log.error("a load report is not JSON; ignoring it", { key: kv.key, error: toSluiceError(err).message });
    return undefined;
  }
  const r = (typeof v === "object" && v !== null ? v : {}) as Partial<Record<keyof StoredReport, unknown>>;
  try {
    if (typeof r.receivedAtMs !== "number") throw new InvalidArgumentError("receivedAtMs: not a number");
    const report = { storeId: kv.key.slice(loadPrefix.length), windowsMs: r.windowsMs, segments: r.segments } as ReportLoadRequest;
    validateLoadReport(report);
    return { windowsMs: report.windowsMs, segments: report.segments, receivedAtMs: r.receivedAtMs };
  } catch (err) {
    log.error("a load report does not have the expected shape; ignoring it", { key: kv.key, error: toSluiceError(err).message });
    return undefined;
  }
}

export class Membership implements LoadSource {
  private readonly storeLeaseMs: number;
  private readonly reportStaleMs: number;

  constructor(
    private readonly store: MetadataStore,
    options: MembershipOptions,
    private readonly clock: Clock = systemClock,
  ) {
    assert(Number.isInteger(options.storeLeaseMs) && options.storeLeaseMs >= 1000, "storeLeaseMs is an integer >= 1000");
    const reportStaleMs = options.reportStaleMs ?? reportStaleMsDefault;
    assert(Number.isInteger(reportStaleMs) && reportStaleMs > 0, "reportStaleMs is a positive integer");
    this.storeLeaseMs = options.storeLeaseMs;
    this.reportStaleMs = reportStaleMs;
  }

  /**
   * Registers a store, or keeps its registration alive: with `leaseId`, keeps that lease alive and
   * rewrites the store's key if its endpoint changed (or the key is gone); without one, or when the
   * lease has expired (LEASE_NOT_FOUND), grants a new lease and registers the store under it.
   * Raises INVALID_ARGUMENT (bad store id, host or port), OVERLOADED (`segmentStoresMax` stores are
   * registered and this is not one of them), and the metadata store's errors (retry at the next heartbeat).
   */
  async heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    validateStoreId(req.storeId);
    checkEndpoint(req.host, req.port);
    if (typeof req.leaseId === "string" && req.leaseId.length > leaseIdCharsMax) {
      throw new InvalidArgumentError(`leaseId ${quoteBounded(req.leaseId)} is longer than any lease id (${leaseIdCharsMax} characters); send the one the last heartbeat answered, or none`);
    }
    const key = storeKey(req.storeId);
    const endpoint: StoreEndpoint = { host: req.host, port: req.port };
    if (typeof req.leaseId === "string" && req.leaseId.length > 0) {
      try {
        await this.store.keepAlive(req.leaseId);
        await this.refresh(key, endpoint, req.leaseId);
        return { leaseId: req.leaseId, leaseMs: this.storeLeaseMs };
      } catch (err) {
        if (!(err instanceof LeaseNotFoundError)) throw err;
        log.info("a segment store's lease expired; registering it again", { store: req.storeId });
      }
    }
    await this.checkRoom(key);
    const lease = await this.store.grantLease(this.storeLeaseMs);
    await this.store.put(key, encodeEndpoint(endpoint), { lease });
    log.info("segment store registered", { store: req.storeId, host: req.host, port: req.port, lease });
    return { leaseId: lease, leaseMs: this.storeLeaseMs };
  }

  /** Rewrites the store's key if its endpoint or lease differs from what is stored. Raises LEASE_NOT_FOUND. */
  private async refresh(key: string, endpoint: StoreEndpoint, lease: LeaseId): Promise<void> {
    const current = await this.store.get(key);
    const value = encodeEndpoint(endpoint);
    if (current !== undefined && current.lease === lease && current.value.equals(value)) return;
    if (current !== undefined && current.lease !== undefined && current.lease !== lease) {
      // Two processes heartbeating under one store id would take turns owning the key.
      log.warn("a segment store id is registered under another lease; taking it over", { key, lease, previousLease: current.lease });
    }
    await this.store.put(key, value, { lease });
  }

  /** Raises OVERLOADED when `segmentStoresMax` stores other than the one at `key` are registered. */
  private async checkRoom(key: string): Promise<void> {
    const page = await this.store.list(storesPrefix, { limit: metadataListPageMax });
    const others = page.entries.filter((e) => e.key !== key).length;
    if (others >= segmentStoresMax) {
      throw new OverloadedError(`${segmentStoresMax} segment stores are registered, the most a cluster takes; retry once one has gone`);
    }
  }

  /**
   * Stores the latest load report of a store (trimmed to its busiest segments if it would not fit
   * one metadata value). Raises INVALID_ARGUMENT naming the bad field, and the metadata store's errors.
   */
  async reportLoad(req: ReportLoadRequest): Promise<void> {
    validateLoadReport(req);
    const { value, kept } = encodeLoadReport(req, this.clock.nowMs());
    if (kept < req.segments.length) {
      log.debug("load report trimmed to its busiest segments", { store: req.storeId, segments: req.segments.length, kept });
    }
    const key = loadKey(req.storeId);
    // A report lives as long as its store's registration (it is put under the store's lease), so
    // reports of dead stores, or of ids that never registered, cannot pile up in the metadata.
    const lease = (await this.store.get(storeKey(req.storeId)))?.lease;
    if (lease === undefined) {
      throw new LeaseNotFoundError(`segment store ${req.storeId} is not registered: heartbeat first, then report its load`);
    }
    await this.store.put(key, value, { lease });
  }

  /** The registered (live) stores by id. */
  async liveStores(): Promise<Map<string, StoreEndpoint>> {
    const live = new Map<string, StoreEndpoint>();
    for (const kv of await listAll(this.store, storesPrefix)) {
      const id = kv.key.slice(storesPrefix.length);
      const endpoint = decodeEndpoint(kv);
      if (endpoint !== undefined) live.set(id, endpoint);
    }
    return live;
  }

  /** True when at least one segment store holds a live registration (one key read, not the whole list). */
  async anyLive(): Promise<boolean> {
    return (await this.store.list(storesPrefix, { limit: 1 })).entries.length > 0;
  }

  /** Where clients reach store `id`, or undefined when it is not registered. */
  async endpointOfStore(id: string): Promise<StoreEndpoint | undefined> {
    validateStoreId(id);
    const kv = await this.store.get(storeKey(id));
    return kv === undefined ? undefined : decodeEndpoint(kv);
  }

  /**
   * The latest load of every segment, from reports received within `reportStaleMs`; a segment in
   * several reports (its container moved) takes the newest.
   */
  async loadReports(): Promise<Map<string, SegmentLoadSample>> {
    const oldestMs = this.clock.nowMs() - this.reportStaleMs;
    const samples = new Map<string, SegmentLoadSample>();
    let after: string | undefined;
    // Bounded: one page per loadListPageEntries stores, each listed once.
    for (;;) {
      const page = await this.store.list(loadPrefix, after === undefined ? { limit: loadListPageEntries } : { after, limit: loadListPageEntries });
      for (const kv of page.entries) {
        const report = decodeReport(kv);
        if (report === undefined || report.receivedAtMs < oldestMs) continue;
        for (const s of report.segments) {
          const before = samples.get(s.segment);
          if (before !== undefined && before.receivedAtMs >= report.receivedAtMs) continue;
          samples.set(s.segment, { ...s, windowsMs: report.windowsMs, receivedAtMs: report.receivedAtMs });
        }
      }
      const last = page.entries.at(-1);
      if (!page.more || last === undefined) return samples;
      after = last.key;
    }
  }
}
