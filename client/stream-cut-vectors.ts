/**
 * Shared stream-cut vectors (proto/vectors/stream-cuts.json): cuts in both forms of stream-cut.ts,
 * texts and bytes that must be refused, and the code and message each gives. The Java client
 * (StreamCutVectorsTest) proves it writes the same bytes and text and refuses the same inputs. This
 * lives in client/ because proto/ may not import client/; the other vectors are made by
 * proto/vectors/generate.ts. Run `node --import tsx client/stream-cut-vectors.ts` to rewrite the
 * file; client/stream-cut-vectors.test.ts fails while the committed file differs.
 */
import { writeFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { SluiceError, type ErrorCode } from "../common/index.js";
import type { StreamCut } from "../proto/index.js";
import { streamCutFromBytes, streamCutFromText, streamCutToBytes, streamCutToText } from "./stream-cut.js";

const offsetMax = Number.MAX_SAFE_INTEGER;
const seg = (n: number | string, e: number | string, stream = "scope-1/stream_A") => `${stream}/${n}.#epoch.${e}`;

function validCuts(): StreamCut[] {
  return [
    { positions: [{ segment: "sc/st/0.#epoch.0", offset: 0 }] },
    {
      positions: [
        { segment: seg(3, 1), offset: 4294967296 },
        { segment: seg(0, 0), offset: 5 },
        { segment: seg(4294967295, 4294967295), offset: offsetMax },
      ],
    },
    { positions: [{ segment: seg(7, 2, `${"S".repeat(255)}/${"t.-_9".repeat(51)}`), offset: 123456789 }] },
    { positions: Array.from({ length: 100 }, (_, i) => ({ segment: seg(i, i % 7), offset: i * 1000 })) },
  ];
}

function failureOf(fn: () => unknown): { code: ErrorCode; message: string } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error("invariant violated: an invalid stream-cut vector was accepted");
}

/** Bytes of the cut format with a correct checksum, whatever the fields say. */
function bytesWithCrc(version: number, stream: Buffer, count: number, positions: [number, number, number, number][]): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt8(version, 0);
  head.writeUInt16BE(stream.length, 1);
  const countBuf = Buffer.alloc(2);
  countBuf.writeUInt16BE(count);
  const body = Buffer.concat([
    head,
    stream,
    countBuf,
    ...positions.map(([n, e, high, low]) => {
      const b = Buffer.alloc(16);
      b.writeUInt32BE(n, 0);
      b.writeUInt32BE(e, 4);
      b.writeUInt32BE(high, 8);
      b.writeUInt32BE(low, 12);
      return b;
    }),
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([body, crc]);
}

/** The content of proto/vectors/stream-cuts.json as this code produces it now. */
export function generateStreamCutVectors(): string {
  const valid = validCuts().map((cut) => {
    const bytes = Buffer.from(streamCutToBytes(cut));
    const text = streamCutToText(cut);
    if (JSON.stringify(streamCutFromText(` ${text}\n`)) !== JSON.stringify(cut)) throw new Error("invariant violated: a cut does not round-trip");
    return { positions: cut.positions, hex: bytes.toString("hex"), text };
  });
  const good = valid[1]!.text;
  const goodBytes = Buffer.from(valid[1]!.hex, "hex");
  const flipped = `${good.slice(0, 10)}${good[10] === "A" ? "B" : "A"}${good.slice(11)}`;
  const invalidTexts = [
    "", "   ", "sc2.AQ", "SC1.AQ", "sc1.", "sc1.!!!!", "sc1.AQ==", "sc1.AQ AQ", flipped, good.slice(0, -1), `${good}A`, `${good}AA`,
    `sc1.${"A".repeat(30000)}`, `sc1.${"A".repeat(100000)}`, "sc1.AQ", "\u00e9sc1.AQ",
  ].map((text) => ({ text, ...failureOf(() => streamCutFromText(text)) }));
  const stream = Buffer.from("scope-1/stream_A");
  const damaged = Buffer.from(goodBytes);
  damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 1;
  const invalidBytes = [
    Buffer.alloc(0),
    Buffer.from([2, 0, 0]),
    Buffer.from([1, 0, 3]),
    damaged,
    goodBytes.subarray(0, goodBytes.length - 1),
    bytesWithCrc(1, Buffer.from("no-slash"), 1, [[0, 0, 0, 0]]),
    bytesWithCrc(1, Buffer.from("a/b/c"), 1, [[0, 0, 0, 0]]),
    bytesWithCrc(1, Buffer.from([0x61, 0x2f, 0xff]), 1, [[0, 0, 0, 0]]),
    bytesWithCrc(1, stream, 0, [[0, 0, 0, 0]]),
    bytesWithCrc(1, stream, 2, [[0, 0, 0, 0]]),
    bytesWithCrc(1, stream, 1, [[0, 0, 0, 0], [1, 0, 0, 0]]),
    bytesWithCrc(1, stream, 1, [[0, 0, 0x0020_0000, 0]]),
    bytesWithCrc(1, stream, 1, [[0, 0, 0xffff_ffff, 0xffff_ffff]]),
    bytesWithCrc(1, stream, 2, [[4, 1, 0, 7], [4, 1, 0, 9]]),
  ].map((b) => ({ hex: b.toString("hex"), ...failureOf(() => streamCutFromBytes(b)) }));
  const invalidCuts = [
    [],
    [{ segment: seg(0, 0), offset: 0 }, { segment: seg(0, 0), offset: 1 }],
    [{ segment: seg(0, 0), offset: 0 }, { segment: seg(1, 0, "scope-1/other"), offset: 0 }],
    [{ segment: `${seg(0, 0)}#txn.0123456789abcdef0123456789abcdef`, offset: 0 }],
    [{ segment: "nope", offset: 0 }],
    [{ segment: seg("01", 0), offset: 0 }],
    [{ segment: seg(4294967296, 0), offset: 0 }],
    [{ segment: "bad scope!/st/0.#epoch.0", offset: 0 }],
    [{ segment: seg(0, 0), offset: -1 }],
    [{ segment: seg(0, 0), offset: offsetMax + 1 }],
  ].map((positions) => ({ positions, ...failureOf(() => streamCutToBytes({ positions })) }));
  return `${JSON.stringify({ valid, invalidTexts, invalidBytes, invalidCuts }, null, 1)}\n`;
}

export const streamCutVectorsFile = fileURLToPath(new URL("../proto/vectors/stream-cuts.json", import.meta.url));

const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  writeFileSync(streamCutVectorsFile, generateStreamCutVectors());
  process.stdout.write("wrote proto/vectors/stream-cuts.json\n");
}
