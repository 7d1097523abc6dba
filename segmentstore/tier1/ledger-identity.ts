/**
 * Ledger identity checks (BookKeeper's cookies, seen from the writer's side): each ledger records
 * the instance id of every node of its ensemble when it was made (log-metadata.ts `instances`);
 * when a container's log is opened, every node is asked for its instance id again. A node that
 * answers another id lost what it held (its data directory was wiped, deleted or swapped), so its
 * "I do not hold that entry" must not be believed: it would make a recovery close a ledger short,
 * and a replay serve a container empty.
 *
 * What follows from a lost node: when some write set holds at least Qa lost nodes, an acknowledged
 * entry may have lived only there: DATA_CORRUPTION, and the container is not served (its other
 * replicas cannot make up for it). Otherwise the lost nodes are left out of that ledger's recovery
 * and reads (a stand-in answers UNAVAILABLE for them), and the loss is logged.
 */
import { DataCorruptionError, UnavailableError, logNodeProbeTimeoutMs, logger, toSluiceError, type Clock } from "../../common/index.js";
import type { LedgerState, LogNodeApi } from "./log-node-api.js";
import type { LedgerRecord } from "./log-metadata.js";
import { writeSet } from "./ledger/quorum.js";

const log = logger("tier1");

/** The instance id of `node`, or null when it cannot tell within the probe timeout (unreachable, or no cookies). */
export async function instanceIdOf(node: LogNodeApi, clock: Clock): Promise<string | null> {
  if (node.instanceId === undefined) return null;
  const asked = node.instanceId();
  return new Promise<string | null>((resolve) => {
    const timer = clock.setTimer(logNodeProbeTimeoutMs, () => resolve(null));
    asked.then(
      (id) => {
        timer.cancel();
        resolve(id);
      },
      (err: unknown) => {
        timer.cancel();
        log.warn("cannot read a log node's instance id; its identity is not checked now", { node: node.address, error: toSluiceError(err).message });
        resolve(null);
      },
    );
  });
}

/**
 * Compares the ensemble of `l` with the instance ids it recorded. Resolves with the ensemble
 * indexes of the nodes that lost their data (empty when none did, or the ledger recorded none).
 * Rejects DATA_CORRUPTION, naming the node and both ids, when an acknowledged entry may have been
 * only on lost nodes.
 */
export async function lostReplicas(l: LedgerRecord, nodes: readonly LogNodeApi[], container: number, clock: Clock): Promise<Set<number>> {
  const lost = new Set<number>();
  const recorded = l.instances;
  if (recorded === undefined) return lost;
  const found = await Promise.all(nodes.map((node, i) => (recorded[i] == null ? Promise.resolve(null) : instanceIdOf(node, clock))));
  const details: string[] = [];
  found.forEach((id, i) => {
    const expected = recorded[i];
    if (id === null || expected == null || id === expected) return;
    lost.add(i);
    details.push(`log node ${nodes[i]!.address} held it as instance ${expected} and now answers as instance ${id}`);
  });
  if (lost.size === 0) return lost;
  const e = l.ensemble.length;
  let worst = 0;
  for (let first = 0; first < e; first++) {
    worst = Math.max(worst, writeSet(first, e, l.writeQuorum).filter((i) => lost.has(i)).length);
  }
  const what = `container ${container}: ledger ${l.id}: ${details.join("; ")} (its data directory was wiped, deleted or replaced)`;
  if (worst >= l.ackQuorum) {
    const err = new DataCorruptionError(`${what}; acknowledged entries may have been only there, so the container is not served until an operator restores that data`);
    log.error("a container's log is refused: a log node lost acknowledged entries", { container, ledger: l.id, error: err.message });
    throw err;
  }
  log.error("a log node lost the data of a ledger; it is left out of that ledger's reads and recovery", { container, ledger: l.id, lost: details });
  return lost;
}

/** Stands in for a node that lost a ledger's data: every call fails UNAVAILABLE, so nothing it says is believed. */
export class LostReplica implements LogNodeApi {
  readonly address: string;
  private readonly why: string;

  constructor(node: LogNodeApi, ledger: number) {
    this.address = node.address;
    this.why = `log node ${node.address} lost the data of ledger ${ledger} (another instance id); it is not asked about it`;
  }

  addEntry(): Promise<void> {
    return Promise.reject(new UnavailableError(this.why));
  }

  readEntries(): Promise<Buffer[]> {
    return Promise.reject(new UnavailableError(this.why));
  }

  readState(): Promise<LedgerState> {
    return Promise.reject(new UnavailableError(this.why));
  }

  fence(): Promise<LedgerState> {
    return Promise.reject(new UnavailableError(this.why));
  }

  deleteLedger(): Promise<void> {
    // Deleting what it no longer holds is harmless; the ledger's other nodes are asked as usual.
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
