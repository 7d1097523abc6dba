/**
 * Shared test vectors: the bytes the TypeScript side produces for every wire frame, error code,
 * routing-key hash and event-data check, written as JSON into proto/vectors/ so the Java client
 * (connector-flink, *VectorsTest) proves it reads and writes the same bytes. The two sides share no
 * source; these files are the contract. Run `node --import tsx proto/vectors/generate.ts` after a
 * protocol change; vectors.test.ts fails while the committed files differ from what this produces.
 * Stream-cut vectors live in client/stream-cut-vectors.ts (proto may not import client).
 */
import { writeFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { errorCodes, containerOf, keyPosition, murmur3x86_32, SluiceError, type ErrorCode } from "../../common/index.js";
import { FrameDecoder, decodePayload, encodeEvents, encodeFrame, frameTypeIds, validateEvents, type Frame } from "../wire/index.js";
import { headerCases, invalidPayloads, validFrames } from "./frame-cases.js";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A frame's fields as JSON: byte fields (data, uuids, entries) as lower-case hex, numbers as numbers. */
export function frameFieldsJson(frame: Frame): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(frame)) {
    if (key === "type") continue;
    // AddEntry's data is pieces sent back to back; on the wire (and in Java) it is one byte string.
    if (key === "data" && Array.isArray(value)) out[key] = Buffer.concat(value as Buffer[]).toString("hex");
    else out[key] = toJson(value);
  }
  return out;
}

function toJson(value: unknown): Json {
  if (Buffer.isBuffer(value)) return value.toString("hex");
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  throw new Error(`invariant violated: no JSON form for ${typeof value}`);
}

/** The code and message of the SluiceError `fn` throws, or nulls if it returns. */
function failureOf(fn: () => unknown): { code: ErrorCode | null; message: string | null } {
  try {
    fn();
    return { code: null, message: null };
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { code: err.code, message: err.message };
  }
}

function framesFile(): Json {
  const frames = validFrames().map((frame) => {
    const bytes = Buffer.concat(encodeFrame(frame));
    const fields = frameFieldsJson(frame);
    // Decoding our own bytes must give the fields back, or the vector would prove nothing.
    const decoded = frameFieldsJson(decodePayload(bytes.readUInt32BE(0), bytes.subarray(8)));
    if (JSON.stringify(decoded) !== JSON.stringify(fields)) throw new Error(`invariant violated: ${frame.type} does not round-trip`);
    return { name: frame.type, type: frameTypeIds[frame.type], fields, hex: bytes.toString("hex") };
  });
  const covered = new Set<string>(frames.map((f) => f.name));
  const missing = Object.keys(frameTypeIds).filter((name) => !covered.has(name));
  if (missing.length > 0) throw new Error(`invariant violated: no vector for ${missing.join(", ")}`);
  const invalid = invalidPayloads().map((c) => {
    const failure = failureOf(() => decodePayload(c.type, c.payload));
    if (failure.code === null) throw new Error(`invariant violated: invalid payload "${c.why}" decodes`);
    return { why: c.why, type: c.type, payloadHex: c.payload.toString("hex"), ...failure };
  });
  const headers = headerCases().map((c) => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(c.type >>> 0, 0);
    header.writeUInt32BE(c.payloadLength, 4);
    const decoder = new FrameDecoder(() => undefined);
    return { why: c.why, type: c.type, payloadLength: c.payloadLength, ...failureOf(() => decoder.push(header)) };
  });
  return { frames, invalid, headers };
}

function errorsFile(): Json {
  return {
    codes: Object.entries(errorCodes).map(([code, info]) => ({ code, wireId: info.wireId, retriable: info.retriable })),
  };
}

const hashKeys = [
  "", "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "hello", "Hello", "hello world",
  "key-0", "key-1", "key-2", "key-3", "key-10", "key-99", "key-100", "user/42", "order:123456", "0", "00", "-1",
  " ", "\t", "\n", "\u0000", "\u007f", "\u0080", "\u00e9", "\u00fc\u00f1\u00ee", "\u65e5\u672c\u8a9e", "\u{1f642}",
  "\u{1f642}\u{1f30a}", "a\u{1f642}b", "\ud800", "x\udc00y", "\ufeff", "\uffff", "caf\u00e9", "cafe\u0301",
  "The quick brown fox jumps over the lazy dog", "x".repeat(100), "k".repeat(341), "k".repeat(342),
  "\u00e9".repeat(600), "long-".repeat(1000), "\u{1f642}".repeat(300),
];

function routingHashFile(): Json {
  const keys = hashKeys.map((key) => {
    const utf8 = Buffer.from(key, "utf8");
    return { key, utf8Hex: utf8.toString("hex"), murmur3: murmur3x86_32(utf8), keyPosition: keyPosition(key) };
  });
  const seeds = [0, 1, 0x5eed, 0x9747b28c, 0xffffffff].flatMap((seed) =>
    ["", "a", "abcd", "abcde", "\u00e9t\u00e9"].map((text) => {
      const data = Buffer.from(text, "utf8");
      return { dataHex: data.toString("hex"), seed, murmur3: murmur3x86_32(data, seed) };
    }),
  );
  const segments = [
    "sc/st/0.#epoch.0", "sc/st/0.#epoch.3", "sc/st/0.#epoch.3#txn.0123456789abcdef0123456789abcdef",
    "sc/st/17.#epoch.0", "sc/st/17.#epoch.9", "scope-1/stream_A/4294967295.#epoch.4294967295", "not a segment",
    "a.#epoch.12", "x\n.#epoch.1", "sc/st/1.#epoch.1#txn.0123", "",
  ];
  const containers = segments.flatMap((segment) => [1, 4, 16, 1024].map((count) => ({ segment, containerCount: count, container: containerOf(segment, count) })));
  return { keys, seeds, containers };
}

function eventsFile(): Json {
  const ev = (...payloads: string[]) => encodeEvents(payloads.map((p) => Buffer.from(p, "utf8")));
  const lengthOnly = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const cases: { why: string; data: Buffer; eventCount: number }[] = [
    { why: "one event", data: ev("hello"), eventCount: 1 },
    { why: "three events, one empty", data: ev("a", "", "\u{1f642}"), eventCount: 3 },
    { why: "no data", data: Buffer.alloc(0), eventCount: 1 },
    { why: "count 0", data: Buffer.alloc(0), eventCount: 0 },
    { why: "fewer events than declared", data: ev("a", "b"), eventCount: 3 },
    { why: "more events than declared", data: ev("a", "b", "c"), eventCount: 2 },
    { why: "length prefix cut short", data: Buffer.concat([ev("a"), Buffer.from([0, 0])]), eventCount: 2 },
    { why: "length past the end", data: Buffer.concat([lengthOnly(10), Buffer.from("abc")]), eventCount: 1 },
    { why: "length at eventBytesMax, data missing", data: lengthOnly(8 * 1024 * 1024), eventCount: 1 },
    { why: "length above eventBytesMax", data: lengthOnly(8 * 1024 * 1024 + 1), eventCount: 1 },
    { why: "length 2^32-1", data: Buffer.concat([ev("ok"), lengthOnly(0xffffffff)]), eventCount: 2 },
  ];
  return {
    validate: cases.map((c) => ({ why: c.why, dataHex: c.data.toString("hex"), eventCount: c.eventCount, ...failureOf(() => validateEvents(c.data, c.eventCount)) })),
    frame: [["hello"], [], ["", "x", "\u00e9\u{1f642}"]].map((payloads) => ({ payloads, hex: ev(...payloads).toString("hex") })),
  };
}

/** The files of proto/vectors/ (name to content) as this code produces them now. */
export function generateVectors(): Record<string, string> {
  const text = (value: Json) => `${JSON.stringify(value, null, 1)}\n`;
  return {
    "frames.json": text(framesFile()),
    "errors.json": text(errorsFile()),
    "routing-hash.json": text(routingHashFile()),
    "events.json": text(eventsFile()),
  };
}

export const vectorsDir = fileURLToPath(new URL(".", import.meta.url));

const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  for (const [name, content] of Object.entries(generateVectors())) {
    writeFileSync(new URL(name, import.meta.url), content);
    process.stdout.write(`wrote proto/vectors/${name}\n`);
  }
}

