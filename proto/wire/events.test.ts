// Proves event framing: validation accepts exactly well-formed data and types each failure, skipEvents finds event boundaries, and EventParser rebuilds events and their offsets from ranges split at every point.
import t from "tap";
import { SluiceError } from "../../common/index.js";
import { EventParser, encodeEvents, skipEvents, validateEvents, type ParsedEvent } from "./events.js";

const payloads = [Buffer.from("alpha"), Buffer.alloc(0), Buffer.from("c"), Buffer.from("delta-delta-delta")];
const data = encodeEvents(payloads);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SluiceError ? err.code : `not a SluiceError: ${String(err)}`;
  }
  return "no error";
}

void t.test("encodeEvents frames each payload with its u32 length", (t) => {
  t.equal(data.length, 4 * 4 + 5 + 0 + 1 + 17);
  t.equal(data.readUInt32BE(0), 5);
  t.equal(data.subarray(4, 9).toString(), "alpha");
  t.equal(data.readUInt32BE(9), 0);
  t.equal(encodeEvents([]).length, 0);
  t.end();
});

void t.test("validateEvents accepts well-formed data", (t) => {
  t.doesNotThrow(() => validateEvents(data, 4));
  t.doesNotThrow(() => validateEvents(encodeEvents([Buffer.alloc(0)]), 1));
  t.end();
});

void t.test("validateEvents rejects bad data with typed errors", (t) => {
  t.equal(code(() => validateEvents(data, 3)), "INVALID_EVENTS", "count too low");
  t.equal(code(() => validateEvents(data, 5)), "INVALID_EVENTS", "count too high");
  t.equal(code(() => validateEvents(data, 0)), "INVALID_EVENTS", "count zero");
  t.equal(code(() => validateEvents(Buffer.alloc(0), 0)), "INVALID_EVENTS", "empty data, count zero");
  t.equal(code(() => validateEvents(data.subarray(0, data.length - 1), 4)), "INVALID_EVENTS", "sum longer than data");
  t.equal(code(() => validateEvents(Buffer.concat([data, Buffer.from([0, 0])]), 4)), "INVALID_EVENTS", "data longer than sum");
  t.equal(code(() => validateEvents(Buffer.concat([data, Buffer.from([0, 0, 0, 0])]), 4)), "INVALID_EVENTS", "one event too many");
  const oversized = Buffer.alloc(8);
  oversized.writeUInt32BE(8 * 1024 * 1024 + 1, 0);
  t.equal(code(() => validateEvents(oversized, 1)), "EVENT_TOO_LARGE", "length above eventBytesMax");
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(0xffff_ffff, 0);
  t.equal(code(() => validateEvents(huge, 1)), "EVENT_TOO_LARGE", "length 2^32-1");
  t.end();
});

void t.test("encodeEvents refuses an event above eventBytesMax", (t) => {
  t.equal(code(() => encodeEvents([Buffer.alloc(8 * 1024 * 1024 + 1)])), "EVENT_TOO_LARGE");
  t.end();
});

void t.test("skipEvents returns a view after the first n events", (t) => {
  t.equal(skipEvents(data, 0).length, data.length);
  t.strictSame(skipEvents(data, 1), encodeEvents(payloads.slice(1)));
  t.strictSame(skipEvents(data, 2), encodeEvents(payloads.slice(2)));
  t.strictSame(skipEvents(data, 3), encodeEvents(payloads.slice(3)));
  t.equal(skipEvents(data, 4).length, 0);
  t.equal(skipEvents(data, 2).buffer, data.buffer, "a view, not a copy");
  t.throws(() => skipEvents(data, 5), /invariant/);
  t.end();
});

/** The expected events of `data` placed at segment offset `base`. */
function expected(base: number): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  let offset = base;
  for (const p of payloads) {
    out.push({ offset, data: p });
    offset += 4 + p.length;
  }
  return out;
}

void t.test("EventParser: whole range at once", (t) => {
  const parser = new EventParser(1000);
  t.strictSame(parser.push(1000, data), expected(1000));
  t.equal(parser.pendingBytes, 0);
  t.equal(parser.nextOffset, 1000 + data.length);
  t.end();
});

void t.test("EventParser: every pair and triple of split points", (t) => {
  const base = 4096;
  for (let a = 0; a <= data.length; a++) {
    for (let b = a; b <= data.length; b++) {
      const parser = new EventParser();
      const got = [
        ...parser.push(base, data.subarray(0, a)),
        ...parser.push(base + a, data.subarray(a, b)),
        ...parser.push(base + b, data.subarray(b)),
      ];
      if (!t.strictSame(got, expected(base), `splits ${a}, ${b}`)) return;
      t.equal(parser.pendingBytes, 0);
    }
  }
  t.end();
});

void t.test("EventParser: one byte at a time holds the partial event", (t) => {
  const parser = new EventParser(0);
  const got: ParsedEvent[] = [];
  for (let i = 0; i < data.length; i++) {
    got.push(...parser.push(i, data.subarray(i, i + 1)));
    if (i === 6) t.equal(parser.pendingBytes, 7, "4 header bytes and 3 payload bytes of the first event");
  }
  t.strictSame(got, expected(0));
  t.end();
});

void t.test("EventParser: a length above eventBytesMax is DATA_CORRUPTION naming the offset", (t) => {
  const parser = new EventParser(50);
  const bad = Buffer.alloc(4);
  bad.writeUInt32BE(0xffff_ffff, 0);
  t.strictSame(parser.push(50, data), expected(50));
  const at = 50 + data.length;
  t.equal(parser.push(at, bad.subarray(0, 2)).length, 0);
  t.throws(() => parser.push(at + 2, bad.subarray(2)), { code: "DATA_CORRUPTION", message: new RegExp(`offset ${at}\\b`) });
  t.throws(() => parser.push(at + 4, data), { code: "DATA_CORRUPTION" }, "stays failed");
  t.end();
});

void t.test("EventParser: a gap between ranges is a programming error", (t) => {
  const parser = new EventParser(0);
  parser.push(0, data.subarray(0, 3));
  t.throws(() => parser.push(4, data.subarray(4)), /expected offset 3/);
  t.throws(() => new EventParser(10).push(0, data), /expected offset 10/);
  t.end();
});
