/**
 * Recovery must not close a ledger before an entry the old writer can still complete: a "missing"
 * answer counts only from a node that is fenced. Here the one unfenced node answers missing while
 * the old writer's add to it is still in flight, and the node holding the entry cannot be read.
 */
import t from "tap";
import { setTimeout as sleep } from "node:timers/promises";
import { UnavailableError } from "../../../common/index.js";
import type { LogNodeApi } from "../log-node-api.js";
import { LedgerWriter } from "./ledger-writer.js";
import { recoverLedger } from "./ledger-recovery.js";
import { MemoryLogNode } from "./memory-log-node.js";

function faulty(node: MemoryLogNode, faults: { fenceFails?: boolean; holdEntry?: number; readsFail?: () => boolean }): { api: LogNodeApi; release(): void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const api: LogNodeApi = {
    address: node.address,
    addEntry: async (l, e, lac, data, recovery) => {
      const copy = data.map((b) => Buffer.from(b));
      if (e === faults.holdEntry && !recovery) await gate;
      return node.addEntry(l, e, lac, copy, recovery);
    },
    readEntries: (l, first, max) => (faults.readsFail?.() === true ? Promise.reject(new UnavailableError(`${node.address} is gone`)) : node.readEntries(l, first, max)),
    readState: (l) => node.readState(l),
    fence: (l) => (faults.fenceFails === true ? Promise.reject(new UnavailableError("fence lost")) : node.fence(l)),
    deleteLedger: (l) => node.deleteLedger(l),
    close: () => node.close(),
  };
  return { api, release: () => release() };
}

void t.test("an unfenced node's 'missing' does not end the ledger", async (t) => {
  let zGone = false;
  const x = faulty(new MemoryLogNode("X"), { fenceFails: true, holdEntry: 3 });
  const y = faulty(new MemoryLogNode("Y"), { holdEntry: 3 });
  const z = faulty(new MemoryLogNode("Z"), { readsFail: () => zGone });
  const acked: number[] = [];
  const writer = new LedgerWriter(7, [x.api, y.api, z.api], 3, 2, { onAcked: (lac) => acked.push(lac), onBroken: () => undefined });
  for (let i = 0; i < 4; i++) {
    writer.add([Buffer.from(`e${i}`)]);
    await sleep(5);
  }
  zGone = true;
  const recovery = recoverLedger({ ledgerId: 7, ensemble: [x.api, y.api, z.api], writeQuorum: 3, ackQuorum: 2 });
  await t.rejects(recovery, { code: "UNAVAILABLE" }, "undecidable now: retried later, never closed at entry 2");
  x.release();
  await sleep(10);
  t.same(acked.at(-1), 3, "the old writer completed entry 3 through the unfenced node");
  zGone = false;
  y.release();
  t.equal(await recoverLedger({ ledgerId: 7, ensemble: [x.api, y.api, z.api], writeQuorum: 3, ackQuorum: 2 }), 3, "a later recovery keeps entry 3");
});
