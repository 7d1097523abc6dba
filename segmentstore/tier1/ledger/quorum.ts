/**
 * Quorum arithmetic of a ledger (BookKeeper's model): an ensemble of E log nodes, each entry
 * written to Qw of them (its write set, striped round-robin over the ensemble), and acknowledged
 * once Qa of those have it durable.
 */
import { InvalidConfigError } from "../../../common/index.js";

export interface QuorumConfig {
  /** E: log nodes a ledger is spread over. */
  ensembleSize: number;
  /** Qw: nodes each entry is written to. */
  writeQuorum: number;
  /** Qa: nodes that must have an entry durable before it is acknowledged. */
  ackQuorum: number;
}

/** Raises INVALID_CONFIG unless 1 <= Qa <= Qw <= E <= nodeCount, naming the flags to change. */
export function checkQuorum(q: QuorumConfig, nodeCount: number): QuorumConfig {
  const { ensembleSize: e, writeQuorum: w, ackQuorum: a } = q;
  for (const [name, v] of [["--ensemble", e], ["--write-quorum", w], ["--ack-quorum", a]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new InvalidConfigError(`${name} ${v}: must be an integer >= 1`);
  }
  if (!(a <= w && w <= e)) {
    throw new InvalidConfigError(`--ack-quorum ${a}, --write-quorum ${w}, --ensemble ${e}: need ack-quorum <= write-quorum <= ensemble`);
  }
  if (e > nodeCount) {
    throw new InvalidConfigError(`--ensemble ${e} needs at least ${e} log nodes, but --tier1 names ${nodeCount}`);
  }
  return q;
}

/** Indexes into the ensemble of the nodes that store `entryId`. */
export function writeSet(entryId: number, ensembleSize: number, writeQuorum: number): number[] {
  const set: number[] = [];
  for (let i = 0; i < writeQuorum; i++) set.push((entryId + i) % ensembleSize);
  return set;
}

/**
 * Whether every entry can still reach Qa acknowledgements when the nodes in `down` (ensemble
 * indexes) never answer. Write sets repeat with period E, so checking E consecutive entries covers
 * them all.
 */
export function quorumReachable(ensembleSize: number, writeQuorum: number, ackQuorum: number, down: ReadonlySet<number>): boolean {
  for (let first = 0; first < ensembleSize; first++) {
    let up = 0;
    for (const i of writeSet(first, ensembleSize, writeQuorum)) if (!down.has(i)) up++;
    if (up < ackQuorum) return false;
  }
  return true;
}

/**
 * Whether the nodes in `fenced` are enough that no writer can complete an add without one of them:
 * every write set has at least Qw - Qa + 1 fenced nodes, so Qa acks always include a fenced node.
 */
export function fencedEnough(ensembleSize: number, writeQuorum: number, ackQuorum: number, fenced: ReadonlySet<number>): boolean {
  const need = writeQuorum - ackQuorum + 1;
  for (let first = 0; first < ensembleSize; first++) {
    let n = 0;
    for (const i of writeSet(first, ensembleSize, writeQuorum)) if (fenced.has(i)) n++;
    if (n < need) return false;
  }
  return true;
}
