/**
 * Store-wide flow control of the front end (invariant 6: overload becomes backpressure).
 *
 * - Bytes not yet durable: every connection counts the append bytes it has received and not yet
 *   had acknowledged (dispatched or held). Above `connectionBytesHigh` a connection pauses its
 *   socket, below `connectionBytesLow` it resumes; over all connections, above `storeBytesHigh`
 *   every connection holding such bytes pauses, and they resume below `storeBytesLow`. The bound
 *   can be overshot by what was already read when a pause begins: at most one frame (16 MiB) per
 *   connection.
 * - Pinned bytes: data in the read index that is not in Tier-2 cannot be evicted. Once it reaches
 *   the pinned bound, connections hold new appends (in order, without dispatching them) until it
 *   falls below `pinnedResumeFraction` of the bound through truncation, deletion or tiering; held
 *   bytes count as not yet durable, so a flooding writer's socket soon pauses too. Other requests
 *   (reads, truncation) are still served on connections that are not paused, which is what lets
 *   memory be freed; a paused connection's other requests wait with its appends (a client that
 *   truncates should not share its connection with a flooding writer).
 */
import { assert, pinnedCheckMs, pinnedResumeFraction, connectionInflightBytesHigh, connectionInflightBytesLow, storeInflightBytesHighDefault, storeInflightBytesLowDefault, InvalidConfigError, type Clock, type TimerHandle } from "../../common/index.js";
import type { CacheBudget } from "../container/container-state.js";

export interface FlowOptions {
  connectionBytesHigh: number;
  connectionBytesLow: number;
  storeBytesHigh: number;
  storeBytesLow: number;
}

/** What the flow control tells a connection when something changed. */
export interface FlowParticipant {
  updateFlow(): void;
}

export class StoreFlow {
  readonly options: FlowOptions;
  private inflight = 0;
  private storePaused = false;
  private holding = false;
  private timer: TimerHandle | undefined;
  private readonly participants = new Set<FlowParticipant>();

  constructor(
    private readonly cache: CacheBudget,
    private readonly clock: Clock,
    options: Partial<FlowOptions> = {},
  ) {
    this.options = {
      connectionBytesHigh: options.connectionBytesHigh ?? connectionInflightBytesHigh,
      connectionBytesLow: options.connectionBytesLow ?? connectionInflightBytesLow,
      storeBytesHigh: options.storeBytesHigh ?? storeInflightBytesHighDefault,
      storeBytesLow: options.storeBytesLow ?? storeInflightBytesLowDefault,
    };
    const o = this.options;
    if (!(o.connectionBytesLow > 0 && o.connectionBytesLow < o.connectionBytesHigh)) {
      throw new InvalidConfigError(`connection watermarks: low ${o.connectionBytesLow} must be positive and below high ${o.connectionBytesHigh}`);
    }
    if (!(o.storeBytesLow > 0 && o.storeBytesLow < o.storeBytesHigh)) {
      throw new InvalidConfigError(`inflight-bytes watermarks: low ${o.storeBytesLow} must be positive and below high ${o.storeBytesHigh}`);
    }
  }

  join(p: FlowParticipant): void {
    this.participants.add(p);
  }

  leave(p: FlowParticipant): void {
    this.participants.delete(p);
  }

  /** Append bytes not yet durable over all connections. */
  get inflightBytes(): number {
    return this.inflight;
  }

  /** Whether connections holding bytes not yet durable must pause. */
  get paused(): boolean {
    return this.storePaused;
  }

  /** Counts `delta` bytes received (+) or acknowledged or refused (-). */
  add(delta: number): void {
    this.inflight += delta;
    assert(this.inflight >= 0, "store in-flight bytes never negative");
    if (!this.storePaused && this.inflight > this.options.storeBytesHigh) {
      this.storePaused = true;
      this.notify();
    } else if (this.storePaused && this.inflight < this.options.storeBytesLow) {
      this.storePaused = false;
      this.notify();
    }
  }

  /** Whether new appends must be held because pinned bytes reached their bound. */
  get holdAppends(): boolean {
    if (!this.holding && this.cache.usedBytes >= this.cache.maxBytes) {
      this.holding = true;
      this.watchPinned();
    }
    return this.holding;
  }

  private watchPinned(): void {
    this.timer = this.clock.setTimer(pinnedCheckMs, () => {
      if (this.cache.usedBytes < this.cache.maxBytes * pinnedResumeFraction) {
        this.holding = false;
        this.timer = undefined;
        this.notify();
      } else {
        this.watchPinned();
      }
    });
  }

  private notify(): void {
    for (const p of [...this.participants]) p.updateFlow();
  }

  close(): void {
    this.timer?.cancel();
    this.participants.clear();
  }
}
