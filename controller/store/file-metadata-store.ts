/**
 * The embedded MetadataStore: every write is a checksummed record appended to a log file under the
 * data directory and fdatasync'd before its promise resolves; at start the log is replayed (a torn
 * last record is cut, corruption earlier is reported). State lives in memory, so reads are local.
 * Writes are serialised: a compare-and-set is checked and applied in one step of the queue, which
 * is what makes exactly one of several racing writers win.
 */
import { join } from "node:path";
import { assert, ConditionalCheckFailedError, InvalidArgumentError, ClosedError, metadataValueBytesMax, RecordFile, encodeRecord, makeDurableDir, journalRecordHeaderBytes } from "../../common/index.js";
import type { MetadataStore, VersionedValue } from "./metadata-store.js";

const recordPut = 1;
const recordDelete = 2;
const keyBytesMax = 4096;

export class FileMetadataStore implements MetadataStore {
  private readonly entries = new Map<string, VersionedValue>();
  private currentRevision = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private file!: RecordFile;

  private constructor() {}

  /** Opens (or creates) the store in `dir`, replaying its log. */
  static async open(dir: string): Promise<FileMetadataStore> {
    await makeDurableDir(dir);
    const store = new FileMetadataStore();
    const { file } = await RecordFile.open(
      join(dir, "metadata.log"),
      (rec) => store.replay(rec.tag, rec.seq, rec.payload),
      // Every write is its own synced batch, so only the last record can be torn.
      { create: true, tornWindowBytes: journalRecordHeaderBytes + 2 + keyBytesMax + metadataValueBytesMax },
    );
    store.file = file;
    return store;
  }

  private replay(tag: number, revision: number, payload: Buffer): void {
    assert(revision > this.currentRevision, "metadata revisions increase");
    const keyLength = payload.readUInt16BE(0);
    const key = payload.toString("utf8", 2, 2 + keyLength);
    if (tag === recordPut) {
      this.entries.set(key, { key, value: Buffer.from(payload.subarray(2 + keyLength)), version: revision });
    } else {
      assert(tag === recordDelete, `metadata record tag ${tag}`);
      this.entries.delete(key);
    }
    this.currentRevision = revision;
  }

  get(key: string): Promise<VersionedValue | undefined> {
    return Promise.resolve(this.entries.get(key));
  }

  put(key: string, value: Buffer): Promise<number> {
    return this.write(key, () => this.append(recordPut, key, value));
  }

  compareAndSet(key: string, expectedVersion: number, value: Buffer): Promise<number> {
    return this.write(key, () => {
      this.check(key, expectedVersion);
      return this.append(recordPut, key, value);
    });
  }

  delete(key: string, expectedVersion?: number): Promise<boolean> {
    return this.write(key, async () => {
      if (expectedVersion !== undefined) this.check(key, expectedVersion);
      if (!this.entries.has(key)) return false;
      await this.append(recordDelete, key, Buffer.alloc(0));
      return true;
    });
  }

  list(prefix: string): Promise<VersionedValue[]> {
    const out: VersionedValue[] = [];
    for (const [key, v] of this.entries) if (key.startsWith(prefix)) out.push(v);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return Promise.resolve(out);
  }

  revision(): number {
    return this.currentRevision;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.file.close();
  }

  private check(key: string, expectedVersion: number): void {
    const version = this.entries.get(key)?.version ?? 0;
    if (version !== expectedVersion) {
      throw new ConditionalCheckFailedError(`${key}: expected version ${expectedVersion}, found ${version}`);
    }
  }

  /** Runs `op` after every earlier write, so checks and appends never interleave. */
  private write<T>(key: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError("metadata store is closed"));
    if (key.length === 0 || Buffer.byteLength(key) > keyBytesMax) {
      return Promise.reject(new InvalidArgumentError(`metadata key must be 1-${keyBytesMax} bytes`));
    }
    const result = this.queue.then(op, op);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async append(tag: number, key: string, value: Buffer): Promise<number> {
    if (value.length > metadataValueBytesMax) {
      throw new InvalidArgumentError(`metadata value of ${value.length} bytes exceeds ${metadataValueBytesMax}`);
    }
    const keyBytes = Buffer.from(key, "utf8");
    const head = Buffer.allocUnsafe(2 + keyBytes.length);
    head.writeUInt16BE(keyBytes.length, 0);
    keyBytes.copy(head, 2);
    const revision = this.currentRevision + 1;
    const pieces = encodeRecord(tag, revision, [head, value]);
    await this.file.appendBatch(pieces, pieces.reduce((n, b) => n + b.length, 0));
    this.currentRevision = revision;
    if (tag === recordPut) this.entries.set(key, { key, value: Buffer.from(value), version: revision });
    else this.entries.delete(key);
    return revision;
  }
}
