// Proves what real `sluice lognode` processes do with their journal files on disk: a torn last record (cut after
// SIGKILL) is cut off at restart and the node goes on; a flipped bit in a committed record is reported, the node
// answers DATA_CORRUPTION for that entry (never wrong bytes), and the log serves it from healthy replicas; truncating
// a log removes the journal files that held only its old ledgers, on every node.
import t, { type Test } from "tap";
import { open, readFile, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { FileMetadataStore } from "../controller/store/index.js";
import { codeOf } from "../controller/store/metadata-store.contract.js";
import { writeSet } from "../segmentstore/tier1/ledger/quorum.js";
import { addressSeq } from "../segmentstore/tier1/log-metadata.js";
import type { Tier1DataLog } from "../segmentstore/tier1/tier1-data-log.js";
import { eventually, readNodeEntries, startLogNodes, type LogNodeCluster } from "./support/lognodes.js";

/** A record of a journal file as laid out in common/record-format.ts (24-byte header, then the payload). */
interface JournalRecord {
  position: number;
  payloadBytes: number;
  tag: number;
  flags: number;
  seq: number;
  /** Index of the batch the record is in (every batch ends with an empty marker record, flags 1). */
  batch: number;
}

const headerBytes = 24;
/** An entry record's payload starts with the writer's last-add-confirmed, then the entry data. */
const lacBytes = 8;

async function parseJournal(path: string): Promise<JournalRecord[]> {
  const buf = await readFile(path);
  const out: JournalRecord[] = [];
  let batch = 0;
  for (let position = 0; position + headerBytes <= buf.length; ) {
    const payloadBytes = buf.readUInt32BE(position + 4);
    const flags = buf.readUInt32BE(position + 12);
    const seq = buf.readInt32BE(position + 16) * 2 ** 32 + buf.readUInt32BE(position + 20);
    out.push({ position, payloadBytes, tag: buf.readUInt32BE(position + 8), flags, seq, batch });
    if (flags === 1) batch++;
    position += headerBytes + payloadBytes;
  }
  return out;
}

const data = (i: number, bytes: number): Buffer => Buffer.alloc(bytes, `entry ${i};`);

async function openMetadata(cluster: LogNodeCluster, t: Test): Promise<FileMetadataStore> {
  const metadata = await FileMetadataStore.open(join(cluster.dir, "meta"));
  t.teardown(() => metadata.close());
  return metadata;
}

async function readLog(log: Tier1DataLog, from = 0): Promise<{ address: number; data: Buffer }[]> {
  const out: { address: number; data: Buffer }[] = [];
  for await (const e of log.read(from)) out.push(e);
  return out;
}

void t.test("a torn last record is cut at restart; entries before it read back and the node takes new adds", async (t) => {
  const cluster = await startLogNodes(t, 1);
  const node = cluster.nodes[0]!;
  const ledger = 5;
  let client = node.remote();
  await Promise.all(Array.from({ length: 100 }, (_, i) => client.addEntry(ledger, i, i - 1, [data(i, 1024)], false)));
  // The last entry is large and alone in its batch, so the cut lands inside it.
  await client.addEntry(ledger, 100, 99, [data(100, 256 * 1024)], false);
  await client.close();
  await node.kill();

  const files = await node.journalFiles();
  const path = join(node.dataDir, files.at(-1)!);
  const records = await parseJournal(path);
  const [last, marker] = records.slice(-2);
  t.match({ ...last }, { tag: ledger, seq: 100, flags: 0 }, "the journal ends with the large entry");
  t.match({ ...marker }, { flags: 1, payloadBytes: 0 }, "and its batch marker");
  const sizeBytes = (await stat(path)).size;
  await truncate(path, sizeBytes - headerBytes - 300);

  await node.start();
  t.match(node.currentStderr(), /cut a torn tail/, "the node reports the cut on stderr");
  client = node.remote();
  t.teardown(() => client.close());
  const read = await readNodeEntries(client, ledger);
  t.equal(read.length, 100, "entries 0..99, before the cut, read back");
  t.ok(read.every((e, i) => e.equals(data(i, 1024))), "intact");
  t.equal(await codeOf(client.readEntries(ledger, 100, 1024)), "NO_SUCH_ENTRY", "the torn entry is gone, not damaged");
  t.equal((await client.readState(ledger)).lastEntryId, 99);

  await client.addEntry(ledger, 100, 99, [data(1100, 2048)], false);
  await client.addEntry(ledger + 1, 0, -1, [data(7, 100)], false);
  await client.close();
  await node.restart();
  client = node.remote();
  const again = await readNodeEntries(client, ledger);
  t.equal(again.length, 101, "an entry added after the cut survives another restart");
  t.ok(again[100]?.equals(data(1100, 2048)), "with its bytes");
  t.ok((await client.readEntries(ledger + 1, 0, 1024))[0]?.equals(data(7, 100)), "so does a new ledger's");
});

void t.test("a flipped bit in a committed record: DATA_CORRUPTION from that node, intact entries from the log", async (t) => {
  const cluster = await startLogNodes(t, 3);
  const metadata = await openMetadata(cluster, t);
  const log1 = await cluster.tier1({ metadata }).openLog(0);
  const count = 200;
  const entryBytes = 4096;
  // In rounds of 10, so that the journal holds many batches whatever the disk's speed.
  const addresses: number[] = [];
  for (let round = 0; round < count / 10; round++) {
    addresses.push(...(await Promise.all(Array.from({ length: 10 }, (_, k) => log1.append([data(round * 10 + k, entryBytes)])))));
  }
  const ledger = log1.ledgers[0]!;
  t.equal(log1.ledgers.length, 1, "all in one ledger");
  await log1.close();

  // The victim is the first replica asked for the damaged entry, so reading it must step over the damage.
  const victim = cluster.nodes[0]!;
  const ix = ledger.ensemble.indexOf(victim.address);
  let target = 20;
  while (writeSet(target, ledger.ensemble.length, ledger.writeQuorum)[0] !== ix) target++;
  await victim.kill();
  const files = await victim.journalFiles();
  t.equal(files.length, 1, "one journal file");
  const path = join(victim.dataDir, files[0]!);
  const records = await parseJournal(path);
  const record = records.find((r) => r.tag === ledger.id && r.seq === target && r.flags === 0);
  if (record === undefined) throw new Error(`entry ${target} of ledger ${ledger.id} is not in ${path}`);
  const lastBatch = records.at(-1)!.batch;
  t.ok(record.batch < lastBatch - 1, `the record is in batch ${record.batch}, committed well before the last (${lastBatch})`);
  const flipAt = record.position + headerBytes + lacBytes + Math.floor((record.payloadBytes - lacBytes) / 2);
  const handle = await open(path, "r+");
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, flipAt);
  byte[0] = byte[0]! ^ 0x10;
  await handle.write(byte, 0, 1, flipAt);
  await handle.close();

  await victim.start();
  t.match(victim.currentStderr(), /damaged record/, "the node reports the damage on stderr");
  const direct = victim.remote();
  t.teardown(() => direct.close());
  t.equal(await codeOf(direct.readEntries(ledger.id, target, 1 << 20)), "DATA_CORRUPTION", `entry ${target} on the damaged node: DATA_CORRUPTION`);
  const before = await direct.readEntries(ledger.id, target - 1, 1 << 20);
  t.same(before.map((e) => e.equals(data(target - 1, entryBytes))), [true], "a read from the entry before stops before the damage");

  const log2 = await cluster.tier1({ metadata }).openLog(0);
  t.teardown(() => log2.close());
  const read = await readLog(log2);
  t.equal(read.length, count, "the new owner reads every entry");
  t.same(read.map((e) => e.address), addresses, "at its address");
  t.same(read.filter((e, i) => !e.data.equals(data(i, entryBytes))).map((e) => e.address), [], "every entry intact, the damaged one from a healthy replica");
});

void t.test("truncation deletes old ledgers and the journal files that held only them", async (t) => {
  const cluster = await startLogNodes(t, 3, { journalFileBytes: 65536 });
  const metadata = await openMetadata(cluster, t);
  const log = await cluster.tier1({ metadata, rolloverBytes: 256 * 1024 }).openLog(0);
  t.teardown(() => log.close());
  const entryBytes = 4096;
  const count = 768;
  const addresses: number[] = [];
  for (let i = 0; i < count; i += 64) {
    addresses.push(...(await Promise.all(Array.from({ length: 64 }, (_, k) => log.append([data(i + k, entryBytes)])))));
  }
  t.ok(log.ledgers.length >= 10, `${count} entries of ${entryBytes} bytes span ${log.ledgers.length} ledgers`);
  const filesBefore = await Promise.all(cluster.nodes.map((n) => n.journalFiles()));
  t.ok(filesBefore.every((f) => f.length >= 10), `journal files per node: ${filesBefore.map((f) => f.length).join(", ")}`);

  const cut = 700;
  const cutAddress = addresses[cut]!;
  await log.truncate(cutAddress);
  const live = new Set(log.ledgers.map((l) => l.id));
  t.equal(log.ledgers[0]?.seq, addressSeq(cutAddress), "the ledgers below the truncation address are gone from the log");
  const gone = await eventually(async () => {
    const counts = await Promise.all(cluster.nodes.map(async (n) => (await n.journalFiles()).length));
    return counts.every((c, i) => c < filesBefore[i]!.length / 2);
  }, 5_000);
  const filesAfter = await Promise.all(cluster.nodes.map((n) => n.journalFiles()));
  t.ok(gone, `old journal files removed on every node: ${filesAfter.map((f, i) => `${filesBefore[i]!.length} -> ${f.length}`).join(", ")}`);
  for (const n of cluster.nodes) {
    const files = await n.journalFiles();
    const oldest = await parseJournal(join(n.dataDir, files[0]!));
    t.ok(oldest.some((r) => r.flags === 0 && live.has(r.tag)), `${n.address}: its oldest remaining file holds a live ledger's entry`);
  }

  const read = await readLog(log, cutAddress);
  t.same(read.map((e) => e.address), addresses.slice(cut), "entries at and above the truncation address read back");
  t.ok(read.every((e, k) => e.data.equals(data(cut + k, entryBytes))), "intact");
  const fromStart = await readLog(log);
  t.equal(fromStart[0]?.address, cutAddress, "a read from the start begins at the truncation address (the rest of its ledger is kept, unread)");
});
