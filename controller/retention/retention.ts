/**
 * Retention: a leader-only background loop that, every `intervalMs`, samples the tail cut of each
 * active stream whose retention policy is BY_SIZE or BY_TIME and truncates the stream at the
 * newest sample the policy lets go of (see samples.ts for the choice and the thinning).
 *
 * Per stream and pass: read the record (`retention/<scope>/<stream>`), append the tail cut, pick
 * the truncation sample; if it is larger than the last truncation, truncate there and drop the
 * samples before it; then write the record back with a compare-and-set on the version read, so of
 * two controllers that both believe they lead, one pass's write wins and the other is logged and
 * redone next pass. Since samples are taken once per pass, a BY_SIZE stream keeps between `limit`
 * and `limit` plus the bytes written between two kept samples.
 *
 * Failures never stop the loop. A truncate that fails is retried next pass (the sample stays); one
 * refused with INVALID_ARGUMENT (its segments can no longer be truncated at) drops that sample. If
 * a truncation succeeds but the record write then fails, the next pass truncates at the same cut
 * again, which is harmless. A stream whose size went backwards is a new stream of the same name:
 * its record starts over. Records of streams that are gone, sealed, or no longer retained are
 * deleted at the end of each pass, so they do not accumulate.
 */
import { InvalidConfigError, logger, PeriodicPass, toSluiceError, type Clock } from "../../common/index.js";
import { listAll, type MetadataStore } from "../store/index.js";
import type { Leadership, StreamOps, StreamSummary } from "../control-ops.js";
import {
  afterTruncation,
  boundRecord,
  chooseTruncation,
  decodeRecord,
  emptyRecord,
  parseRetentionKey,
  retentionKey,
  retentionKeyPrefix,
  type RetentionRecord,
} from "./samples.js";

const log = logger("retention");

/** How often a pass runs by default. */
export const retentionIntervalMsDefault = 60_000;
/** Bounds of `intervalMs`. */
export const retentionIntervalMsMin = 10;
export const retentionIntervalMsMax = 24 * 60 * 60_000;

export interface RetentionOptions {
  /** Time between passes (and so between samples); default `retentionIntervalMsDefault`. */
  intervalMs?: number;
}

export class Retention {
  private readonly loop: PeriodicPass;

  constructor(
    private readonly ops: StreamOps,
    private readonly store: MetadataStore,
    private readonly leadership: Leadership,
    private readonly clock: Clock,
    options: RetentionOptions = {},
  ) {
    const intervalMs = options.intervalMs ?? retentionIntervalMsDefault;
    if (!Number.isInteger(intervalMs) || intervalMs < retentionIntervalMsMin || intervalMs > retentionIntervalMsMax) {
      throw new InvalidConfigError(
        `retention.intervalMs must be an integer number of milliseconds in [${retentionIntervalMsMin}, ${retentionIntervalMsMax}], got ${intervalMs}`,
      );
    }
    this.loop = new PeriodicPass(clock, intervalMs, () => this.pass());
  }

  /** Starts the passes, the first one `intervalMs` from now. */
  start(): void {
    this.loop.start();
  }

  /** Stops the loop; resolves once a pass in progress has finished. No pass starts afterwards. */
  close(): Promise<void> {
    return this.loop.close();
  }

  /** One pass over every stream (after the one in progress, if any). Never rejects. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  get intervalMs(): number {
    return this.loop.intervalMs;
  }

  private async pass(): Promise<void> {
    if (!this.leadership.isLeader()) return;
    try {
      const streams = (await this.ops.listActiveStreams()).filter((s) => s.retention.type !== "RETENTION_NONE");
      for (const s of streams) {
        if (this.loop.closed || !this.leadership.isLeader()) return;
        try {
          await this.retain(s);
        } catch (err) {
          log.warn("retention of a stream failed; the next pass tries again", { stream: `${s.scope}/${s.stream}`, err: toSluiceError(err) });
        }
      }
      if (this.loop.closed || !this.leadership.isLeader()) return;
      await this.dropStaleRecords(new Set(streams.map((s) => retentionKey(s.scope, s.stream))));
    } catch (err) {
      log.warn("retention pass failed; the next pass tries again", { err: toSluiceError(err) });
    }
  }

  private async retain(s: StreamSummary): Promise<void> {
    const name = `${s.scope}/${s.stream}`;
    const tail = await this.ops.tailCut(s.scope, s.stream);
    if (tail === undefined) {
      log.debug("no tail cut (a scale committed meanwhile); sampling next pass", { stream: name });
      return;
    }
    const key = retentionKey(s.scope, s.stream);
    const kv = await this.store.get(key);
    let record: RetentionRecord = emptyRecord();
    if (kv !== undefined) {
      const decoded = decodeRecord(kv.value);
      if (decoded === undefined) log.warn("unreadable retention record; starting it over", { stream: name, key });
      else record = decoded;
    }
    const newest = record.samples.at(-1);
    if (newest !== undefined && tail.sizeBytes < newest.sizeBytes) {
      log.info("stream size went backwards (a new stream of the same name); starting its record over", { stream: name });
      record = emptyRecord();
    }
    const nowMs = this.clock.nowMs();
    record.samples.push({ cut: tail.cut, sizeBytes: tail.sizeBytes, atMs: nowMs });

    const at = chooseTruncation(s.retention, record.samples, tail.sizeBytes, nowMs);
    if (at !== undefined && at.sizeBytes > record.truncatedAtSize) {
      try {
        await this.ops.truncate(s.scope, s.stream, at.cut);
        record = afterTruncation(record, at);
        log.info("truncated", { stream: name, policy: s.retention.type, atSizeBytes: at.sizeBytes, keptBytes: tail.sizeBytes - at.sizeBytes });
      } catch (err) {
        const e = toSluiceError(err);
        if (e.code === "INVALID_ARGUMENT") {
          record = { ...record, samples: record.samples.filter((x) => x !== at) };
          log.info("truncation refused; dropping that sample", { stream: name, atSizeBytes: at.sizeBytes, err: e });
        } else {
          log.warn("truncation failed; retrying next pass", { stream: name, atSizeBytes: at.sizeBytes, err: e });
        }
      }
    }

    const bounded = boundRecord(record);
    if (bounded === undefined) {
      log.warn("one tail cut exceeds the metadata value bound; the stream's samples cannot be kept", { stream: name });
      return;
    }
    try {
      await this.store.compareAndSet(key, kv?.version ?? 0, bounded.value);
    } catch (err) {
      const e = toSluiceError(err);
      if (e.code !== "CONDITIONAL_CHECK_FAILED") throw e;
      log.info("retention record changed meanwhile (another leader?); sampling again next pass", { stream: name });
    }
  }

  /** Deletes records of streams no longer retained, each only if unchanged since listed. */
  private async dropStaleRecords(wanted: ReadonlySet<string>): Promise<void> {
    for (const kv of await listAll(this.store, retentionKeyPrefix)) {
      if (wanted.has(kv.key) || parseRetentionKey(kv.key) === undefined) continue;
      try {
        await this.store.delete(kv.key, kv.version);
        log.info("dropped the retention record of a stream no longer retained", { key: kv.key });
      } catch (err) {
        const e = toSluiceError(err);
        if (e.code !== "CONDITIONAL_CHECK_FAILED") throw e;
        log.debug("retention record changed meanwhile; leaving it", { key: kv.key });
      }
    }
  }
}
