/**
 * The embedded metadata store's memory of past changes, so a watch can start from an older
 * revision. Bounded by event count and by bytes; it drops whole revisions, oldest first, so every
 * change from `start` on is always here.
 */
import { metadataWatchHistoryBytesMax, metadataWatchHistoryMax, RevisionCompactedError } from "../../common/index.js";
import type { WatchEvent } from "./metadata-store.js";

export class WatchHistory {
  private events: WatchEvent[] = [];
  private head = 0;
  private bytes = 0;

  /** @param start the first revision kept (the store's revision + 1 when it opens). */
  constructor(private start: number) {}

  /** Remembers the events of one durable change. */
  add(events: readonly WatchEvent[]): void {
    this.events.push(...events);
    for (const e of events) this.bytes += e.key.length + e.value.length;
    while (this.events.length - this.head > metadataWatchHistoryMax || this.bytes > metadataWatchHistoryBytesMax) {
      this.start = this.events[this.head]!.revision + 1;
      while (this.head < this.events.length && this.events[this.head]!.revision < this.start) {
        const dropped = this.events[this.head++]!;
        this.bytes -= dropped.key.length + dropped.value.length;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Raises REVISION_COMPACTED when changes from `fromRevision` on are no longer all kept. */
  check(fromRevision: number): void {
    if (fromRevision < this.start) {
      throw new RevisionCompactedError(
        `watch from revision ${fromRevision}: this store keeps changes from revision ${this.start} on; list again and watch from the list's revision + 1`,
      );
    }
  }

  /** The kept changes under `prefix` from `fromRevision` on, oldest first. */
  since(fromRevision: number, prefix: string): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (let i = this.head; i < this.events.length; i++) {
      const e = this.events[i]!;
      if (e.revision >= fromRevision && e.key.startsWith(prefix)) out.push(e);
    }
    return out;
  }
}
