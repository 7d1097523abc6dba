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
 *
 * A node that does not tell its identity within the probe timeout (down, restarting, slow) while a
 * ledger recorded one for it is not trusted for that ledger either: it may be a wiped node coming
 * back, and its "I do not hold that entry" would close the ledger short. It stands in behind an
 * UnverifiedReplica, which asks again before each call and answers UNAVAILABLE until the node
 * answers with the recorded id, so recovery and reads treat it as a down node until then. Each
 * address is asked once per open, all at once, whatever the number of ledgers (IdentityCache).
 */
import { DataCorruptionError, UnavailableError, logger, toSluiceError, type Clock } from "../../common/index.js";
import type { LedgerState, LogNodeApi } from "./log-node-api.js";
import type { LedgerRecord } from "./log-metadata.js";
import { writeSet } from "./ledger/quorum.js";

const log = logger("tier1");

/** What a node said when asked for its identity. */
export type IdentityAnswer =
  /** Its instance id. */
  | { kind: "id"; id: string }
  /** It keeps no cookie (an older node): its identity is not checked. */
  | { kind: "none" }
  /** No answer within the probe timeout, or an error: its identity is not known now. */
  | { kind: "unknown"; why: string };

/** Asks `node` for its instance id; never rejects, and settles within `timeoutMs`. */
export async function askIdentity(node: LogNodeApi, clock: Clock, timeoutMs: number): Promise<IdentityAnswer> {
  if (node.instanceId === undefined) return { kind: "none" };
  const asked = node.instanceId();
  return new Promise<IdentityAnswer>((resolve) => {
    const timer = clock.setTimer(timeoutMs, () => resolve({ kind: "unknown", why: `no answer within ${timeoutMs} ms` }));
    asked.then(
      (id) => {
        timer.cancel();
        resolve({ kind: "id", id });
      },
      (err: unknown) => {
        timer.cancel();
        resolve({ kind: "unknown", why: toSluiceError(err).message });
      },
    );
  });
}

/** The instance id of `node`, or null when it cannot tell within `timeoutMs` (unreachable, or no cookies). */
export async function instanceIdOf(node: LogNodeApi, clock: Clock, timeoutMs: number): Promise<string | null> {
  const a = await askIdentity(node, clock, timeoutMs);
  return a.kind === "id" ? a.id : null;
}

/**
 * The identities of log nodes for one open of a container's log. An address is asked by one call
 * at a time (callers asking meanwhile share it), and an answer (an id, or no cookie) is kept for
 * as long as this cache lives; an unknown answer is not kept, so the next ask tries again.
 */
export class IdentityCache {
  private readonly known = new Map<string, IdentityAnswer>();
  private readonly asking = new Map<string, Promise<IdentityAnswer>>();

  constructor(
    private readonly nodeFor: (address: string) => LogNodeApi,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  /** What `address` answers (from the cache once it answered). Never rejects. */
  ask(address: string): Promise<IdentityAnswer> {
    const known = this.known.get(address);
    if (known !== undefined) return Promise.resolve(known);
    let asking = this.asking.get(address);
    if (asking === undefined) {
      asking = askIdentity(this.nodeFor(address), this.clock, this.timeoutMs).then((a) => {
        this.asking.delete(address);
        if (a.kind !== "unknown") this.known.set(address, a);
        return a;
      });
      this.asking.set(address, asking);
    }
    return asking;
  }

  /** Asks every distinct address once, all at once; resolves with each one's answer. */
  async askAll(addresses: Iterable<string>): Promise<Map<string, IdentityAnswer>> {
    const distinct = [...new Set(addresses)];
    const answers = await Promise.all(distinct.map((a) => this.ask(a)));
    return new Map(distinct.map((a, i) => [a, answers[i]!]));
  }
}

/** The nodes of one ledger's ensemble that are not to be believed, by ensemble index. */
export interface ReplicaTrust {
  /** Nodes that answered another instance id than the ledger recorded: they lost its data. */
  lost: Set<number>;
  /** Nodes the ledger recorded an id for that did not answer with any: not trusted until they do. */
  unverified: Set<number>;
}

/** Addresses whose identity `l` recorded: the ones to ask before its recovery or reads. */
export function recordedAddresses(l: LedgerRecord): string[] {
  const recorded = l.instances;
  if (recorded === undefined) return [];
  return l.ensemble.filter((_, i) => recorded[i] != null);
}

/**
 * Compares the ensemble of `l` with the instance ids it recorded, given the nodes' `answers`
 * (IdentityCache.askAll over recordedAddresses). Returns the lost and unverified nodes (both empty
 * when the ledger recorded no id). Throws DATA_CORRUPTION, naming the node and both ids, when an
 * acknowledged entry may have been only on lost nodes.
 */
export function replicaTrust(l: LedgerRecord, answers: ReadonlyMap<string, IdentityAnswer>, container: number): ReplicaTrust {
  const trust: ReplicaTrust = { lost: new Set(), unverified: new Set() };
  const recorded = l.instances;
  if (recorded === undefined) return trust;
  const details: string[] = [];
  l.ensemble.forEach((address, i) => {
    const expected = recorded[i];
    if (expected == null) return;
    const a = answers.get(address) ?? { kind: "unknown", why: "not asked" };
    if (a.kind === "unknown") trust.unverified.add(i);
    else if (a.kind === "id" && a.id !== expected) {
      trust.lost.add(i);
      details.push(`log node ${address} held it as instance ${expected} and now answers as instance ${a.id}`);
    }
  });
  if (trust.lost.size === 0) return trust;
  const e = l.ensemble.length;
  let worst = 0;
  for (let first = 0; first < e; first++) {
    worst = Math.max(worst, writeSet(first, e, l.writeQuorum).filter((i) => trust.lost.has(i)).length);
  }
  const what = `container ${container}: ledger ${l.id}: ${details.join("; ")} (its data directory was wiped, deleted or replaced)`;
  if (worst >= l.ackQuorum) {
    const err = new DataCorruptionError(`${what}; acknowledged entries may have been only there, so the container is not served until an operator restores that data`);
    log.error("a container's log is refused: a log node lost acknowledged entries", { container, ledger: l.id, error: err.message });
    throw err;
  }
  log.error("a log node lost the data of a ledger; it is left out of that ledger's reads and recovery", { container, ledger: l.id, lost: details });
  return trust;
}

/**
 * Stands in for a node whose identity could not be verified for a ledger: before each call it asks
 * the node's identity (IdentityCache: once verified, not again) and answers UNAVAILABLE until the
 * node answers with the id the ledger recorded, so quorum logic counts it as down, never as a node
 * that does not hold the ledger's entries. A node that answers another id lost the ledger's data
 * and is never asked about it (UNAVAILABLE) for as long as this stand-in lives.
 */
export class UnverifiedReplica implements LogNodeApi {
  readonly address: string;
  private lostAs: string | undefined;

  constructor(
    private readonly node: LogNodeApi,
    private readonly ledger: number,
    private readonly expected: string,
    private readonly identities: IdentityCache,
  ) {
    this.address = node.address;
  }

  private async verified(): Promise<LogNodeApi> {
    if (this.lostAs === undefined) {
      const a = await this.identities.ask(this.address);
      if (a.kind === "unknown") {
        throw new UnavailableError(`log node ${this.address}: its identity for ledger ${this.ledger} cannot be verified (${a.why}); it is not asked about it until it can`);
      }
      if (a.kind === "none" || a.id === this.expected) return this.node;
      this.lostAs = a.id;
      log.error("a log node lost the data of a ledger; it is left out of that ledger's reads and recovery", {
        ledger: this.ledger,
        lost: `log node ${this.address} held it as instance ${this.expected} and now answers as instance ${a.id}`,
      });
    }
    throw new UnavailableError(`log node ${this.address} lost the data of ledger ${this.ledger} (instance ${this.expected}, now ${this.lostAs}); it is not asked about it`);
  }

  async addEntry(ledger: number, entryId: number, lac: number, data: readonly Buffer[], recovery: boolean): Promise<void> {
    return (await this.verified()).addEntry(ledger, entryId, lac, data, recovery);
  }

  async readEntries(ledger: number, firstEntryId: number, maxBytes: number): Promise<Buffer[]> {
    return (await this.verified()).readEntries(ledger, firstEntryId, maxBytes);
  }

  async readState(ledger: number): Promise<LedgerState> {
    return (await this.verified()).readState(ledger);
  }

  async fence(ledger: number): Promise<LedgerState> {
    return (await this.verified()).fence(ledger);
  }

  deleteLedger(ledger: number): Promise<void> {
    // As for a lost replica: deleting is harmless whatever the node holds now.
    return this.node.deleteLedger(ledger);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
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
