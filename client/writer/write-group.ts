/**
 * A WriteGroup is the promise that the events written to one segment in one turn of the event loop
 * share: one promise per batch, not per event. It resolves once every one of its events is durable
 * and rejects as soon as one of them fails. Its events normally travel together in one block, but
 * after a scale the unstored ones are carried to the successors, maybe to several, so the group
 * counts its events still pending instead of belonging to one block.
 */
import type { SluiceError } from "../../common/index.js";

export class WriteGroup {
  readonly promise: Promise<void>;
  /** Events added and not yet durable. */
  private pending = 0;
  private settled = false;
  private resolveFn!: () => void;
  private rejectFn!: (err: SluiceError) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    // A write may be awaited by nobody (fire-and-forget producers); flush() reports failures.
    this.promise.catch(() => undefined);
  }

  added(): void {
    this.pending++;
  }

  /** `count` of its events are durable; the last one resolves the group. */
  stored(count: number): void {
    this.pending -= count;
    if (this.pending <= 0 && !this.settled) {
      this.settled = true;
      this.resolveFn();
    }
  }

  /**
   * One of its events failed: the group fails. Its other events may still be stored where they
   * went (after a scale, events of one group may have gone to several successors).
   */
  failed(err: SluiceError): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(err);
  }
}

/** `count` consecutive events of a block that belong to `group`. */
export interface Run {
  group: WriteGroup;
  count: number;
}

/**
 * An event not yet stored, handed from a sealed segment's writer to a successor's. Its bytes stay
 * counted by the EventWriter until the successor acks or fails it.
 */
export interface CarriedEvent {
  payload: Uint8Array;
  /** The key position it was routed by (drawn at random once for events without a key). */
  position: number;
  group: WriteGroup;
}
