/**
 * The embedded metadata store's on-disk records (inside common/ RecordFile records, whose header
 * carries the tag and, as seq, the revision). All integers big-endian; ids and revisions as u48.
 *
 *   change (log):      u16 count, then per change one of
 *                        put     u8 1, u16 keyLength, key, u48 lease (0: none), u32 valueLength, value
 *                        delete  u8 2, u16 keyLength, key
 *                        grant   u8 3, u48 lease, u32 ttlMs
 *                        end     u8 4, u48 lease          (revoke or expiry; its key deletes precede it)
 *   snapshot header:   u48 revision, u48 next lease id
 *   snapshot lease:    u48 id, u32 ttlMs
 *   snapshot key:      u16 keyLength, key, u48 lease, u48 version, u48 createRevision, u32 valueLength, value
 *   snapshot end:      u32 keys, u32 leases            (a snapshot without it is incomplete)
 */
import { assert, encodeRecord, InvalidConfigError, journalBatchBytesMax, RecordFile } from "../../common/index.js";

/** Record tags. A log holds change records; a snapshot holds the others. */
export const tagChange = 1;
export const tagSnapshotHeader = 2;
export const tagSnapshotLease = 3;
export const tagSnapshotKey = 4;
export const tagSnapshotEnd = 5;

/** Operation codes inside a change record. */
export const opPut = 1;
export const opDelete = 2;
export const opLeaseGrant = 3;
export const opLeaseEnd = 4;

export type Change =
  | { op: typeof opPut; key: string; value: Buffer; lease: number }
  | { op: typeof opDelete; key: string }
  | { op: typeof opLeaseGrant; lease: number; ttlMs: number }
  | { op: typeof opLeaseEnd; lease: number };

/** A key as the embedded store holds it. */
export interface Entry {
  keyBytes: Buffer;
  value: Buffer;
  version: number;
  createRevision: number;
  lease: number;
}

export type SnapshotRecord =
  | { kind: "header"; revision: number; nextLeaseId: number }
  | { kind: "lease"; id: number; ttlMs: number }
  | { kind: "key"; key: string; entry: Entry }
  | { kind: "end"; keys: number; leases: number };

function encodeSnapshotHeader(revision: number, nextLeaseId: number): Buffer[] {
  const p = Buffer.alloc(12);
  p.writeUIntBE(revision, 0, 6);
  p.writeUIntBE(nextLeaseId, 6, 6);
  return [p];
}

function encodeSnapshotLease(id: number, ttlMs: number): Buffer[] {
  const p = Buffer.alloc(10);
  p.writeUIntBE(id, 0, 6);
  p.writeUInt32BE(ttlMs, 6);
  return [p];
}

function encodeSnapshotKey(e: Entry): Buffer[] {
  const head = Buffer.alloc(2 + e.keyBytes.length + 22);
  head.writeUInt16BE(e.keyBytes.length, 0);
  e.keyBytes.copy(head, 2);
  const at = 2 + e.keyBytes.length;
  head.writeUIntBE(e.lease, at, 6);
  head.writeUIntBE(e.version, at + 6, 6);
  head.writeUIntBE(e.createRevision, at + 12, 6);
  head.writeUInt32BE(e.value.length, at + 18);
  return [head, e.value];
}

function encodeSnapshotEnd(keys: number, leases: number): Buffer[] {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(keys, 0);
  p.writeUInt32BE(leases, 4);
  return [p];
}

export function decodeSnapshotRecord(tag: number, p: Buffer): SnapshotRecord {
  switch (tag) {
    case tagSnapshotHeader:
      return { kind: "header", revision: p.readUIntBE(0, 6), nextLeaseId: p.readUIntBE(6, 6) };
    case tagSnapshotLease:
      return { kind: "lease", id: p.readUIntBE(0, 6), ttlMs: p.readUInt32BE(6) };
    case tagSnapshotKey: {
      const keyLength = p.readUInt16BE(0);
      const keyBytes = Buffer.from(p.subarray(2, 2 + keyLength));
      const at = 2 + keyLength;
      const value = Buffer.from(p.subarray(at + 22, at + 22 + p.readUInt32BE(at + 18)));
      const entry = { keyBytes, value, lease: p.readUIntBE(at, 6), version: p.readUIntBE(at + 6, 6), createRevision: p.readUIntBE(at + 12, 6) };
      return { kind: "key", key: keyBytes.toString("utf8"), entry };
    }
    case tagSnapshotEnd:
      return { kind: "end", keys: p.readUInt32BE(0), leases: p.readUInt32BE(4) };
    default:
      throw new InvalidConfigError(`metadata snapshot record tag ${tag} is unknown`);
  }
}

export function encodeChanges(changes: readonly Change[]): Buffer[] {
  const out: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeUInt16BE(changes.length, 0);
  out.push(count);
  for (const c of changes) {
    switch (c.op) {
      case opPut: {
        const key = Buffer.from(c.key, "utf8");
        const head = Buffer.alloc(1 + 2 + key.length + 6 + 4);
        head.writeUInt8(opPut, 0);
        head.writeUInt16BE(key.length, 1);
        key.copy(head, 3);
        head.writeUIntBE(c.lease, 3 + key.length, 6);
        head.writeUInt32BE(c.value.length, 9 + key.length);
        out.push(head, c.value);
        break;
      }
      case opDelete: {
        const key = Buffer.from(c.key, "utf8");
        const head = Buffer.alloc(3 + key.length);
        head.writeUInt8(opDelete, 0);
        head.writeUInt16BE(key.length, 1);
        key.copy(head, 3);
        out.push(head);
        break;
      }
      case opLeaseGrant: {
        const p = Buffer.alloc(11);
        p.writeUInt8(opLeaseGrant, 0);
        p.writeUIntBE(c.lease, 1, 6);
        p.writeUInt32BE(c.ttlMs, 7);
        out.push(p);
        break;
      }
      case opLeaseEnd: {
        const p = Buffer.alloc(7);
        p.writeUInt8(opLeaseEnd, 0);
        p.writeUIntBE(c.lease, 1, 6);
        out.push(p);
        break;
      }
    }
  }
  return out;
}

export function decodeChanges(p: Buffer): Change[] {
  const changes: Change[] = [];
  const count = p.readUInt16BE(0);
  let at = 2;
  for (let i = 0; i < count; i++) {
    const op = p.readUInt8(at);
    if (op === opPut || op === opDelete) {
      const keyLength = p.readUInt16BE(at + 1);
      const key = p.toString("utf8", at + 3, at + 3 + keyLength);
      at += 3 + keyLength;
      if (op === opDelete) {
        changes.push({ op, key });
        continue;
      }
      const lease = p.readUIntBE(at, 6);
      const valueLength = p.readUInt32BE(at + 6);
      at += 10;
      changes.push({ op, key, value: p.subarray(at, at + valueLength), lease });
      at += valueLength;
    } else if (op === opLeaseGrant) {
      changes.push({ op, lease: p.readUIntBE(at + 1, 6), ttlMs: p.readUInt32BE(at + 7) });
      at += 11;
    } else {
      assert(op === opLeaseEnd, `metadata change op ${op}`);
      changes.push({ op, lease: p.readUIntBE(at + 1, 6) });
      at += 7;
    }
  }
  assert(at === p.length, "a metadata change record is read to its end");
  return changes;
}

/**
 * Writes a whole snapshot to `path` (a new file) in synced batches of at most journalBatchBytesMax,
 * the end record last: a snapshot file that lacks it is incomplete.
 */
export async function writeSnapshotFile(
  path: string,
  revision: number,
  nextLeaseId: number,
  leases: readonly { id: number; ttlMs: number }[],
  entries: Iterable<Entry>,
  entryCount: number,
): Promise<void> {
  // No synced mark: the snapshot is written under a temporary name, synced and renamed whole, and read back with no torn tail allowed.
  const { file } = await RecordFile.open(path, () => assert(false, "a new snapshot file is empty"), { create: true, syncedMark: false });
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const add = async (tag: number, payload: Buffer[]) => {
    const pieces = encodeRecord(tag, revision, payload);
    const bytes = pieces.reduce((n, b) => n + b.length, 0);
    if (batchBytes + bytes > journalBatchBytesMax) {
      await file.appendBatch(batch, batchBytes);
      batch = [];
      batchBytes = 0;
    }
    batch.push(...pieces);
    batchBytes += bytes;
  };
  try {
    await add(tagSnapshotHeader, encodeSnapshotHeader(revision, nextLeaseId));
    for (const lease of leases) await add(tagSnapshotLease, encodeSnapshotLease(lease.id, lease.ttlMs));
    for (const e of entries) await add(tagSnapshotKey, encodeSnapshotKey(e));
    await add(tagSnapshotEnd, encodeSnapshotEnd(entryCount, leases.length));
    await file.appendBatch(batch, batchBytes);
  } finally {
    await file.close();
  }
}
