/**
 * The end-of-run audit: every event of the output stream, read from its head to its tail with the
 * batch client, checked per key against what the generator wrote. An event of key k with sequence s
 * is expected exactly once for every s below written[k], in increasing order (the sink routes by the
 * key, so a key's events share a segment of the fixed-size output and keep their order there).
 */
import type { Sluice } from "../client/index.js";

export interface OutputAudit {
  /** Events read from the output. */
  events: number;
  keys: number;
  /** Written by the generator, never found in the output. */
  lost: number;
  /** Found more than once (each extra copy counts one). */
  duplicated: number;
  /** Found after an event of the same key with a higher sequence. */
  outOfOrder: number;
  /** Events that are not "k<i>:<seq>" of a written key and sequence. */
  unexpected: number;
}

/** Counts lost, duplicated and out-of-order events of `events` against `written` (per key i, sequences 0..written[i]-1). */
export function auditEvents(events: Iterable<string>, written: readonly number[]): OutputAudit {
  const seen = written.map((n) => new Uint8Array(n));
  const last = new Array<number>(written.length).fill(-1);
  const audit: OutputAudit = { events: 0, keys: written.length, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0 };
  for (const text of events) {
    audit.events++;
    const m = /^k(\d+):(\d+)$/.exec(text);
    const key = m === null ? -1 : Number(m[1]);
    const seq = m === null ? -1 : Number(m[2]);
    if (key < 0 || key >= written.length || seq >= written[key]!) {
      audit.unexpected++;
      continue;
    }
    const marks = seen[key]!;
    if (marks[seq] === 1) audit.duplicated++;
    else marks[seq] = 1;
    if (seq < last[key]!) audit.outOfOrder++;
    else last[key] = seq;
  }
  for (const marks of seen) for (const mark of marks) if (mark === 0) audit.lost++;
  return audit;
}

/** Reads `stream` from its head to its tail now (segment by segment, predecessors first) and audits it. */
export async function auditStream(client: Sluice, stream: string, written: readonly number[]): Promise<OutputAudit> {
  const decoder = new TextDecoder();
  const texts: string[] = [];
  for (const range of await client.batch.segments(stream)) {
    for await (const e of client.batch.read(range)) texts.push(decoder.decode(e.data));
  }
  return auditEvents(texts, written);
}

/** True when the audit found nothing wrong. */
export function auditClean(a: OutputAudit): boolean {
  return a.lost === 0 && a.duplicated === 0 && a.outOfOrder === 0 && a.unexpected === 0;
}
