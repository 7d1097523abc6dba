/** Test events that say who wrote them: `key|sequence|padding`, so a reader can check order and once-only delivery. */
import type { Sluice } from "../../client/index.js";

export function testEvent(key: string, seq: number, sizeBytes = 100): Buffer {
  const head = `${key}|${seq}|`;
  return Buffer.from(head.padEnd(Math.max(sizeBytes, head.length), "x"));
}

export function parseTestEvent(data: Uint8Array): { key: string; seq: number } {
  const [key, seq] = Buffer.from(data).toString("utf8").split("|");
  return { key: key!, seq: Number(seq) };
}

/** Reads every event of a stream; returns per-key sequences in read order and the total. */
export async function readAllByKey(sluice: Sluice, stream: string): Promise<{ total: number; byKey: Map<string, number[]> }> {
  const byKey = new Map<string, number[]>();
  let total = 0;
  for (const range of await sluice.batch.segments(stream)) {
    for await (const e of sluice.batch.read(range)) {
      const { key, seq } = parseTestEvent(e.data);
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      list.push(seq);
      total++;
    }
  }
  return { total, byKey };
}

/** Writes seq `first`..`first+count-1` for keys k0..k(keys-1) (routing key = key), with a new writer, and closes it. */
export async function writeKeyedEvents(sluice: Sluice, stream: string, keys: number, count: number, first = 0): Promise<void> {
  const w = sluice.writer(stream);
  const writes: Promise<void>[] = [];
  for (let seq = first; seq < first + count; seq++) for (let k = 0; k < keys; k++) writes.push(w.write(testEvent(`k${k}`, seq), { routingKey: `k${k}` }));
  await Promise.all(writes);
  await w.close();
}
