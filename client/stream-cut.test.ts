// Proves stream cuts survive text and bytes unchanged and that malformed input of every kind (bad prefix, bad
// characters, cut short, edited, wrong version, bad names, offsets or counts, duplicates) raises INVALID_ARGUMENT
// instead of a crash or another cut, by round-tripping sample cuts and decoding damaged copies of them.
import { crc32 } from "node:zlib";
import t from "tap";
import { SluiceError, streamCutPositionsMax } from "../common/index.js";
import type { StreamCut } from "../proto/index.js";
import { streamCutFromBytes, streamCutFromText, streamCutToBytes, streamCutToText, streamOfCut } from "./stream-cut.js";

const cut: StreamCut = {
  positions: [
    { segment: "shop/orders/2.#epoch.1", offset: 120 },
    { segment: "shop/orders/0.#epoch.0", offset: 0 },
    { segment: "shop/orders/4294967295.#epoch.4294967295", offset: 2 ** 53 - 1 },
    { segment: "shop/orders/3.#epoch.1", offset: 2 ** 32 + 7 },
  ],
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SluiceError) return `${err.code}: ${err.message}`;
    return `not a SluiceError: ${String(err)}`;
  }
  return "no error";
}

/** Bytes with a correct checksum over `body` (a cut another program might make). */
function sealed(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length + 4);
  body.copy(out);
  out.writeUInt32BE(crc32(body), body.length);
  return out;
}

void t.test("cuts round-trip through bytes and text, positions in order", (t) => {
  t.strictSame(streamCutFromBytes(streamCutToBytes(cut)), cut);
  const text = streamCutToText(cut);
  t.match(text, /^sc1\.[A-Za-z0-9_-]+$/, "text is a prefix and base64url: safe on a command line and in a file");
  t.strictSame(streamCutFromText(text), cut);
  t.strictSame(streamCutFromText(`  ${text}\n`), cut, "a file's trailing newline is ignored");
  const one: StreamCut = { positions: [{ segment: "a/b/0.#epoch.0", offset: 5 }] };
  t.strictSame(streamCutFromText(streamCutToText(one)), one);
  t.equal(streamCutToBytes(one).length, 1 + 2 + 3 + 2 + 16 + 4, "one position of a short stream is 28 bytes");
  const many: StreamCut = { positions: Array.from({ length: streamCutPositionsMax }, (_, i) => ({ segment: `s/t/${i}.#epoch.${i % 7}`, offset: i * 1000 })) };
  t.strictSame(streamCutFromText(streamCutToText(many)), many, "the largest cut");
  const sub = new Uint8Array(64 + streamCutToBytes(one).length);
  sub.set(streamCutToBytes(one), 64);
  t.strictSame(streamCutFromBytes(sub.subarray(64)), one, "a view into a larger buffer");
  t.equal(streamOfCut(cut), "shop/orders");
  t.end();
});

void t.test("cuts that are not well formed are refused, naming the problem", (t) => {
  const pos = (segment: string, offset = 0) => ({ segment, offset });
  const cases: [string, unknown, RegExp][] = [
    ["no positions", { positions: [] }, /no positions/],
    ["not a cut", {}, /positions array/],
    ["null", null, /positions array/],
    ["two streams", { positions: [pos("a/b/0.#epoch.0"), pos("a/c/1.#epoch.0")] }, /two streams, a\/b and a\/c/],
    ["not a segment name", { positions: [pos("a/b/0")] }, /invalid segment name/],
    ["segment not a string", { positions: [{ segment: 7, offset: 0 }] }, /segment name/],
    ["transaction segment", { positions: [pos(`a/b/0.#epoch.0#txn.${"0".repeat(32)}`)] }, /transaction segment/],
    ["negative offset", { positions: [pos("a/b/0.#epoch.0", -1)] }, /offset -1/],
    ["fractional offset", { positions: [pos("a/b/0.#epoch.0", 1.5)] }, /offset 1.5/],
    ["unsafe offset", { positions: [pos("a/b/0.#epoch.0", 2 ** 53)] }, /offset 9007199254740992/],
    ["offset not a number", { positions: [{ segment: "a/b/0.#epoch.0", offset: "5" }] }, /offset 5 /],
    ["duplicate", { positions: [pos("a/b/0.#epoch.0", 1), pos("a/b/0.#epoch.0", 2)] }, /twice/],
    ["too many", { positions: Array.from({ length: streamCutPositionsMax + 1 }, (_, i) => pos(`a/b/${i}.#epoch.0`)) }, /at most 4096/],
  ];
  for (const [name, bad, message] of cases) {
    for (const fn of [streamOfCut, streamCutToBytes, streamCutToText]) {
      const got = code(() => fn(bad as StreamCut));
      t.ok(got.startsWith("INVALID_ARGUMENT"), `${name}: ${fn.name} raises INVALID_ARGUMENT (${got})`);
      t.match(got, message, `${name}: ${fn.name} says why`);
    }
  }
  t.end();
});

void t.test("damaged or foreign text is refused", (t) => {
  const text = streamCutToText(cut);
  const cases: [string, string, RegExp][] = [
    ["empty", "", /starts with "sc1\."/],
    ["no prefix", text.slice(4), /starts with "sc1\."/],
    ["other version prefix", `sc2.${text.slice(4)}`, /starts with "sc1\."/],
    ["raw segment name", "shop/orders/0.#epoch.0", /starts with "sc1\."/],
    ["a space inside", `${text.slice(0, 10)} ${text.slice(10)}`, /outside base64url/],
    ["standard base64 characters", `${text.slice(0, 10)}+/${text.slice(12)}`, /outside base64url/],
    ["padding", `${text}==`, /outside base64url/],
    ["cut short", text.slice(0, text.length - 5), /checksum|cut short/],
    ["cut to the prefix", "sc1.", /cut short|none/],
    ["one character changed", text.slice(0, 20) + (text[20] === "A" ? "B" : "A") + text.slice(21), /checksum|cut short/],
    ["stray trailing bits", `${text.slice(0, -1)}${text.endsWith("A") ? "B" : "A"}`, /checksum|whole base64url|cut short/],
    ["too long", `sc1.${"A".repeat(200_000)}`, /longer than any cut/],
  ];
  for (const [name, bad, message] of cases) {
    const got = code(() => streamCutFromText(bad));
    t.ok(got.startsWith("INVALID_ARGUMENT"), `${name}: INVALID_ARGUMENT (${got})`);
    t.match(got, message, `${name}: says why`);
  }
  t.match(code(() => streamCutFromText(42 as unknown as string)), /^INVALID_ARGUMENT/);
  t.end();
});

void t.test("damaged or foreign bytes are refused, even with a valid checksum", (t) => {
  const good = Buffer.from(streamCutToBytes(cut));
  const body = good.subarray(0, good.length - 4);
  const edit = (at: number, value: number, width: 1 | 2 | 4) => {
    const b = Buffer.from(body);
    if (width === 1) b.writeUInt8(value, at);
    else if (width === 2) b.writeUInt16BE(value, at);
    else b.writeUInt32BE(value, at);
    return sealed(b);
  };
  const streamLength = body.readUInt16BE(1);
  const countAt = 3 + streamLength;
  const firstPosition = countAt + 2;
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /none/],
    ["unknown version", edit(0, 2, 1), /version 2 is unknown/],
    ["cut short", good.subarray(0, 20), /too short|checksum/],
    ["checksum wrong", Buffer.concat([body, Buffer.alloc(4)]), /checksum/],
    ["a byte flipped", (() => { const b = Buffer.from(good); b.writeUInt8(b.readUInt8(firstPosition + 3) ^ 1, firstPosition + 3); return b; })(), /checksum/],
    ["trailing byte", sealed(Buffer.concat([body, Buffer.alloc(1)])), /need 64 bytes, but 65 follow/],
    ["count zero", edit(countAt, 0, 2), /0 positions/],
    ["count above the bytes", edit(countAt, 5, 2), /5 positions need 80 bytes, but 64 follow/],
    ["count above the bound", edit(countAt, streamCutPositionsMax + 1, 2), /4097 positions/],
    ["stream length past the end", edit(1, 60_000, 2), /stream name length 60000/],
    ["bad stream name", (() => { const b = Buffer.from(body); b.write("sh p", 3, "latin1"); return sealed(b); })(), /invalid scope name/],
    ["no slash in the stream name", (() => { const b = Buffer.from(body); b.write("x", 3 + 4, "latin1"); return sealed(b); })(), /scope\/stream/],
    ["unsafe offset", edit(firstPosition + 8, 0x0020_0000, 4), /above 2\^53-1/],
    ["duplicate segment", (() => {
      const b = Buffer.from(body);
      b.copy(b, firstPosition + 16, firstPosition, firstPosition + 8);
      return sealed(b);
    })(), /twice/],
    ["too long", Buffer.alloc(100_000, 1), /version 1 .*|longer than any cut/],
  ];
  for (const [name, bad, message] of cases) {
    const got = code(() => streamCutFromBytes(bad));
    t.ok(got.startsWith("INVALID_ARGUMENT"), `${name}: INVALID_ARGUMENT (${got})`);
    t.match(got, message, `${name}: says why`);
  }
  t.match(code(() => streamCutFromBytes("sc1.x" as unknown as Uint8Array)), /^INVALID_ARGUMENT.*Uint8Array/);
  t.end();
});
