/**
 * Container placement: the leader controller assigns every container to a live segment store
 * (`cluster/assignment/<c>`, see store/container-placement.ts) and moves the containers of stores
 * whose lease has ended. Stores follow the assignment keys by watch: the new owner fences the old
 * one's log and takes the container over.
 *
 * The plan (planAssignments) is pure: orphaned containers (unassigned, or assigned to a store that
 * is not live) go to the least loaded live stores; then containers move one at a time from the most
 * to the least loaded store until the spread is even (no store above ceil(containers / stores), and
 * at most one container between the most and the least loaded). Every move interrupts a container
 * for a takeover, so the plan moves no container it does not have to.
 */
import {
  assert,
  ConditionalCheckFailedError,
  containerCountMax,
  logger,
  systemClock,
  toSluiceError,
  type Clock,
  type TimerHandle,
} from "../../common/index.js";
import { assignedStore, containerAssignmentKey, containerAssignmentPrefix, listAll, parseAssignmentKey, type MetadataStore } from "../store/index.js";
import type { Leadership } from "../control-ops.js";
import type { StoreEndpoint } from "./membership.js";

const log = logger("placement");

export const placementIntervalMsDefault = 1_000;

/** The live segment stores by id (Membership implements it). */
export interface LiveStores {
  liveStores(): Promise<Map<string, StoreEndpoint>>;
}

export interface PlacementLoopOptions {
  /** How often the leader compares assignments with the live stores (default `placementIntervalMsDefault`). */
  intervalMs?: number;
}

/** Orders store ids so that ties are broken the same way on every controller. */
function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The assignment changes (container -> new store) that bring `current` in line with `live`:
 * containers that are unassigned or assigned to a store not in `live` go to the live store with the
 * fewest containers (ties by id); then, while the most loaded live store holds more than
 * ceil(containerCount / live) or two more than the least loaded, one container moves from the most
 * to the least loaded. No change when `live` is empty. Assignments of containers outside
 * [0, containerCount) are ignored.
 */
export function planAssignments(containerCount: number, current: ReadonlyMap<number, string>, live: readonly string[]): Map<number, string> {
  assert(Number.isInteger(containerCount) && containerCount >= 1 && containerCount <= containerCountMax, "container count in range");
  const changes = new Map<number, string>();
  const stores = [...new Set(live)].sort(byId);
  if (stores.length === 0) return changes;
  const held = new Map<string, number[]>(stores.map((s) => [s, []]));
  const orphans: number[] = [];
  for (let c = 0; c < containerCount; c++) {
    const list = held.get(current.get(c) ?? "");
    if (list === undefined) orphans.push(c);
    else list.push(c);
  }
  // O(stores) per step; containerCount and the store count are both bounded (1024 and 1000).
  const least = (): [string, number[]] => {
    let best: [string, number[]] | undefined;
    for (const entry of held) if (best === undefined || entry[1].length < best[1].length) best = entry;
    assert(best !== undefined, "there is a live store");
    return best;
  };
  const most = (): [string, number[]] => {
    let best: [string, number[]] | undefined;
    for (const entry of held) if (best === undefined || entry[1].length > best[1].length) best = entry;
    assert(best !== undefined, "there is a live store");
    return best;
  };
  for (const c of orphans) {
    const [store, list] = least();
    list.push(c);
    changes.set(c, store);
  }
  const fairMax = Math.ceil(containerCount / stores.length);
  // Each move lowers the sum of squared loads, so this ends; the bound only guards the invariant.
  for (let moves = 0; ; moves++) {
    assert(moves <= containerCount * containerCount, "rebalancing ends");
    const [from, fromList] = most();
    const [to, toList] = least();
    if (fromList.length <= fairMax && fromList.length - toList.length <= 1) break;
    // The highest-numbered container moves, so plans are repeatable.
    fromList.sort((a, b) => a - b);
    const c = fromList.pop();
    assert(c !== undefined, `store ${from} holds a container to move`);
    toList.push(c);
    changes.set(c, to);
  }
  for (const [c, store] of changes) if (current.get(c) === store) changes.delete(c);
  return changes;
}

interface Assignment {
  store: string;
  version: number;
}

/**
 * The leader's placement loop: every `intervalMs` it reads the assignments and the live stores and
 * writes planAssignments' changes, each by compare-and-set on the version it read, so that a write
 * made in between (an operator's, or a deposed leader's) is not overwritten blindly; the next tick
 * plans again from what is stored. A follower's tick does nothing.
 */
export class PlacementLoop {
  private readonly intervalMs: number;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: MetadataStore,
    private readonly membership: LiveStores,
    private readonly leadership: Leadership,
    private readonly containerCount: number,
    private readonly clock: Clock = systemClock,
    options: PlacementLoopOptions = {},
  ) {
    const intervalMs = options.intervalMs ?? placementIntervalMsDefault;
    assert(Number.isInteger(intervalMs) && intervalMs >= 1, "intervalMs is a positive integer");
    assert(Number.isInteger(containerCount) && containerCount >= 1 && containerCount <= containerCountMax, "container count in range");
    this.intervalMs = intervalMs;
  }

  start(): void {
    assert(this.timer === undefined && this.running === undefined && !this.closed, "a PlacementLoop starts once");
    this.schedule(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.running = this.round();
    });
  }

  /** One tick, its failure logged (the next tick retries), then the next one scheduled. Never rejects. */
  private async round(): Promise<void> {
    try {
      await this.tick();
    } catch (err) {
      log.warn("placement round failed; retrying next round", { error: toSluiceError(err).message });
    }
    this.running = undefined;
    this.schedule(this.intervalMs);
  }

  /**
   * One round: when leader, moves the containers the plan says to. Resolves with the number of
   * assignments written. Raises the metadata store's errors (DATA_CORRUPTION for an assignment that
   * does not parse).
   */
  async tick(): Promise<number> {
    if (!this.leadership.isLeader()) return 0;
    const assignments = await this.readAssignments();
    const live = await this.membership.liveStores();
    const current = new Map([...assignments].map(([c, a]) => [c, a.store]));
    const changes = planAssignments(this.containerCount, current, [...live.keys()]);
    let moved = 0;
    for (const [c, to] of changes) {
      // Leadership may end during a round; a deposed leader stops writing at once.
      if (!this.leadership.isLeader() || this.closed) break;
      const before = assignments.get(c);
      try {
        // The value is an assignment as container-placement.ts writes it: {"store": ID}.
        await this.store.compareAndSet(containerAssignmentKey(c), before?.version ?? 0, Buffer.from(JSON.stringify({ store: to }), "utf8"));
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedError)) throw err;
        log.info("a container's assignment changed while placing it; planning again next round", { container: c });
        continue;
      }
      moved++;
      const reason = before === undefined ? "unassigned" : live.has(before.store) ? "rebalance" : "store not live";
      log.info("container assigned", { container: c, from: before?.store ?? null, to, reason });
    }
    return moved;
  }

  /** Assignments of containers [0, containerCount) with the versions a compare-and-set needs. */
  private async readAssignments(): Promise<Map<number, Assignment>> {
    const out = new Map<number, Assignment>();
    // Bounded by the container count (at most containerCountMax keys under the prefix that parse).
    for (const kv of await listAll(this.store, containerAssignmentPrefix)) {
      const c = parseAssignmentKey(kv.key);
      if (c === undefined || c >= this.containerCount) continue;
      out.set(c, { store: assignedStore(kv.key, kv.value), version: kv.version });
    }
    return out;
  }
}
