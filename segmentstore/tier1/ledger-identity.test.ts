/**
 * Proves the cookie check of container logs over in-memory log nodes that carry an instance id: a
 * ledger records its nodes' ids; a node that comes back with another id (its data wiped) is left
 * out of that ledger's recovery and reads while the other replicas cover every acknowledged entry,
 * and the log is refused with DATA_CORRUPTION (nothing changed in the metadata) when they cannot.
 */
import t, { type Test } from "tap";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileMetadataStore } from "../../controller/store/index.js";
import { MemoryLogNode } from "./ledger/memory-log-node.js";
import { readLogState } from "./log-metadata.js";
import { Tier1 } from "./tier1.js";

/** A memory node with a cookie. */
class IdentifiedNode extends MemoryLogNode {
  constructor(
    address: string,
    private readonly id: string,
  ) {
    super(address);
  }

  instanceId(): Promise<string> {
    return Promise.resolve(this.id);
  }
}

async function metadataStore(t: Test): Promise<FileMetadataStore> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-identity-"));
  const metadata = await FileMetadataStore.open(join(dir, "meta"));
  t.teardown(async () => {
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });
  // The log's retry timers do not keep a process alive (a server does); the test must.
  const keepAlive = setInterval(() => undefined, 1_000);
  t.teardown(() => clearInterval(keepAlive));
  return metadata;
}

function tier1(nodes: MemoryLogNode[], metadata: FileMetadataStore): Tier1 {
  const e = nodes.length;
  return new Tier1({
    nodes,
    connect: (a) => {
      throw new Error(`unexpected node ${a}`);
    },
    quorum: { ensembleSize: e, writeQuorum: e, ackQuorum: Math.min(2, e) },
    metadata,
    retryMs: 10,
    probeTimeoutMs: 50,
    openDeadlineMs: 1_000,
  });
}

const entry = (i: number): Buffer[] => [Buffer.from(`entry-${i}`)];

async function writeLog(nodes: MemoryLogNode[], metadata: FileMetadataStore, count: number): Promise<void> {
  const log = await tier1(nodes, metadata).openLog(0);
  await Promise.all(Array.from({ length: count }, (_, i) => log.append(entry(i))));
  await log.close();
}

void t.test("ledgers record their nodes' instance ids", async (t) => {
  const metadata = await metadataStore(t);
  const nodes = [0, 1, 2].map((i) => new IdentifiedNode(`node-${i}`, `id-${i}`));
  await writeLog(nodes, metadata, 5);
  const { state } = await readLogState(metadata, 0);
  t.same(state.ledgers.at(-1)?.instances, ["id-0", "id-1", "id-2"]);
  const plain = [new MemoryLogNode("plain-0")];
  const other = await metadataStore(t);
  await writeLog(plain, other, 1);
  t.equal((await readLogState(other, 0)).state.ledgers.at(-1)?.instances, undefined, "nodes without cookies: none recorded");
});

void t.test("one wiped node of 3/3/2: left out of the ledger; every acknowledged entry still read back", async (t) => {
  const metadata = await metadataStore(t);
  const nodes = [0, 1, 2].map((i) => new IdentifiedNode(`node-${i}`, `id-${i}`));
  await writeLog(nodes, metadata, 30);
  // node-1 comes back empty with a new identity (a wiped disk).
  const after = [nodes[0]!, new IdentifiedNode("node-1", "id-1-new"), nodes[2]!];
  const log = await tier1(after, metadata).openLog(0);
  t.teardown(() => log.close());
  const read: string[] = [];
  for await (const e of log.read()) read.push(e.data.toString());
  t.same(read, Array.from({ length: 30 }, (_, i) => `entry-${i}`), "all 30 entries, from the intact replicas");
  await log.append(entry(30));
});

void t.test("wiped nodes that may have held the only copies: DATA_CORRUPTION naming the node and both ids, metadata unchanged", async (t) => {
  for (const [name, build, wiped] of [
    ["ensemble 1 (standalone)", () => [new IdentifiedNode("local:lognode", "id-a")], () => [new IdentifiedNode("local:lognode", "id-b")]],
    [
      "two of 3/3/2",
      () => [0, 1, 2].map((i) => new IdentifiedNode(`node-${i}`, `id-${i}`)),
      () => [new IdentifiedNode("node-0", "new-0"), new IdentifiedNode("node-1", "new-1"), new IdentifiedNode("node-2", "id-2")],
    ],
  ] as const) {
    await t.test(name, async (t) => {
      const metadata = await metadataStore(t);
      await writeLog(build(), metadata, 10);
      const before = await readLogState(metadata, 0);
      const err = await tier1(wiped(), metadata)
        .openLog(0)
        .then(
          () => undefined,
          (e: unknown) => e as { code?: string; message?: string },
        );
      t.equal(err?.code, "DATA_CORRUPTION");
      t.match(err?.message ?? "", /log node \S+ held it as instance \S+ and now answers as instance \S+/);
      const now = await readLogState(metadata, 0);
      t.equal(now.version, before.version, "nothing was written: no epoch bump, no new ledger");
    });
  }
});

void t.test("a node that cannot tell its identity (unreachable now) is not taken for a wiped one", async (t) => {
  const metadata = await metadataStore(t);
  const nodes = [0, 1, 2].map((i) => new IdentifiedNode(`node-${i}`, `id-${i}`));
  await writeLog(nodes, metadata, 10);
  const silent = nodes[2]!;
  silent.instanceId = () => Promise.reject(new Error("unreachable"));
  const log = await tier1([nodes[0]!, nodes[1]!, silent], metadata).openLog(0);
  t.teardown(() => log.close());
  const read: string[] = [];
  for await (const e of log.read()) read.push(e.data.toString());
  t.equal(read.length, 10);
});

/** Makes `node`'s identity probe hang for its first `hangs` asks (a node restarting or slow), then answer `id`. */
function hangFirst(node: IdentifiedNode, hangs: number, id: string): { asks: () => number } {
  let asks = 0;
  node.instanceId = () => {
    asks++;
    return asks <= hangs ? new Promise<string>(() => undefined) : Promise.resolve(id);
  };
  return { asks: () => asks };
}

async function openError(t1: Tier1): Promise<{ code?: string; message?: string } | undefined> {
  return t1.openLog(0).then(
    async (log) => {
      await log.close();
      return undefined;
    },
    (e: unknown) => e as { code?: string; message?: string },
  );
}

void t.test("a wiped node that does not answer its identity at first is never believed: no short close, then DATA_CORRUPTION", async (t) => {
  const metadata = await metadataStore(t);
  // A standalone's single node: every acknowledged entry lives only there.
  await writeLog([new IdentifiedNode("local:lognode", "id-a")], metadata, 10);
  const before = await readLogState(metadata, 0);
  const wiped = new IdentifiedNode("local:lognode", "id-b");
  hangFirst(wiped, 1, "id-b");
  const first = await openError(tier1([wiped], metadata));
  t.equal(first?.code, "UNAVAILABLE", "recovery treats the unverified node as down, then as lost, and gives up");
  const mid = await readLogState(metadata, 0);
  t.same(
    mid.state.ledgers.map((l) => l.id),
    before.state.ledgers.map((l) => l.id),
    "the ledger was neither closed short nor dropped as empty",
  );
  const second = await openError(tier1([wiped], metadata));
  t.equal(second?.code, "DATA_CORRUPTION", "once it answers, the wiped node is refused");
});

void t.test("an intact node that answers its identity late is used once verified", async (t) => {
  const metadata = await metadataStore(t);
  const node = new IdentifiedNode("local:lognode", "id-a");
  await writeLog([node], metadata, 10);
  const late = hangFirst(node, 1, "id-a");
  const log = await tier1([node], metadata).openLog(0);
  t.teardown(() => log.close());
  const read: string[] = [];
  for await (const e of log.read()) read.push(e.data.toString());
  t.same(read, Array.from({ length: 10 }, (_, i) => `entry-${i}`), "every acknowledged entry");
  t.ok(late.asks() >= 2, "asked again after the first probe timed out");
});

void t.test("a hung node is asked once per open, not once per ledger", async (t) => {
  const metadata = await metadataStore(t);
  const nodes = [0, 1, 2].map((i) => new IdentifiedNode(`node-${i}`, `id-${i}`));
  // Many ledgers: each open of the log leaves one behind.
  for (let i = 0; i < 30; i++) await writeLog(nodes, metadata, 1);
  t.ok((await readLogState(metadata, 0)).state.ledgers.length >= 30);
  const hung = hangFirst(nodes[2]!, Number.MAX_SAFE_INTEGER, "id-2");
  const log = await tier1(nodes, metadata).openLog(0);
  t.teardown(() => log.close());
  t.ok(hung.asks() <= 10, `asked ${hung.asks()} times over 30 ledgers`);
  const read: string[] = [];
  for await (const e of log.read()) read.push(e.data.toString());
  t.equal(read.length, 30, "read from the verified replicas");
});
