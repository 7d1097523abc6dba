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
