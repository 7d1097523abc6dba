// Proves the stream decoder yields the same frames however the bytes are chunked, rejects an oversized length after only the header, and stays poisoned after an error, by feeding encoded frames split at every boundary.
import t from "tap";
import { FrameTooLargeError, MalformedFrameError, SluiceError } from "../../common/index.js";
import { encodeFrame } from "./codec.js";
import { FrameDecoder } from "./decoder.js";
import type { Frame } from "./frames.js";

const writerId = Buffer.alloc(16, 7);
const frames: Frame[] = [
  { type: "Hello", highVersion: 1, lowVersion: 1 },
  { type: "KeepAlive" },
  { type: "AppendBlock", requestId: 3, writerId, segment: "a/b/0", lastEventNumber: 9, eventCount: 1, data: Buffer.from([0, 0, 0, 3, 1, 2, 3]) },
  { type: "SegmentRead", requestId: 4, segment: "a/b/0", offset: 100, atTail: false, endOfSegment: true, data: Buffer.from("tail bytes") },
  { type: "Error", requestId: 5, errorId: 21, segment: "a/b/0", message: "sealed" },
];
const stream = Buffer.concat(frames.flatMap((f) => encodeFrame(f)));

function collect(): { decoder: FrameDecoder; out: Frame[] } {
  const out: Frame[] = [];
  return { decoder: new FrameDecoder((f) => out.push(f)), out };
}

void t.test("all frames in one chunk", (t) => {
  const { decoder, out } = collect();
  decoder.push(stream);
  t.strictSame(out, frames);
  t.equal(decoder.bufferedBytes, 0);
  const read = out[3];
  t.equal(read?.type === "SegmentRead" ? read.data.buffer : null, stream.buffer, "a frame inside one chunk is a view of it");
  t.end();
});

void t.test("split into two chunks at every byte boundary", (t) => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { decoder, out } = collect();
    decoder.push(stream.subarray(0, cut));
    decoder.push(stream.subarray(cut));
    t.strictSame(out, frames, `cut at ${cut}`);
    t.equal(decoder.bufferedBytes, 0);
  }
  t.end();
});

void t.test("one byte at a time", (t) => {
  const { decoder, out } = collect();
  let bufferedMax = 0;
  for (let i = 0; i < stream.length; i++) {
    decoder.push(stream.subarray(i, i + 1));
    bufferedMax = Math.max(bufferedMax, decoder.bufferedBytes);
  }
  t.strictSame(out, frames);
  t.equal(decoder.bufferedBytes, 0);
  t.ok(bufferedMax < 64, "never buffers more than one frame");
  t.end();
});

void t.test("many small frames in one chunk", (t) => {
  const many: Frame[] = [];
  for (let i = 1; i <= 1000; i++) many.push({ type: "CreateSegment", requestId: i, segment: `s/${i}` });
  const { decoder, out } = collect();
  decoder.push(Buffer.concat(many.flatMap((f) => encodeFrame(f))));
  t.strictSame(out, many);
  t.end();
});

void t.test("a 2^32-1 length is FRAME_TOO_LARGE after the header alone", (t) => {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(12, 0);
  header.writeUInt32BE(0xffff_ffff, 4);
  const { decoder, out } = collect();
  for (let i = 0; i < 7; i++) decoder.push(header.subarray(i, i + 1));
  t.equal(decoder.bufferedBytes, 7);
  t.throws(() => decoder.push(header.subarray(7)), FrameTooLargeError);
  t.ok(decoder.bufferedBytes <= 8, "nothing buffered for the payload");
  t.equal(out.length, 0);
  t.end();
});

void t.test("the largest allowed frame passes, one byte more does not", (t) => {
  const limit = 16 * 1024 * 1024;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(21, 0);
  header.writeUInt32BE(limit - 8, 4);
  const ok = collect().decoder;
  ok.push(header);
  t.equal(ok.bufferedBytes, 0, "header accepted, payload awaited");
  header.writeUInt32BE(limit - 7, 4);
  t.throws(() => collect().decoder.push(header), { code: "FRAME_TOO_LARGE" });
  t.end();
});

void t.test("unknown type fails at the header, before the payload arrives", (t) => {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(77, 0);
  header.writeUInt32BE(1000, 4);
  t.throws(() => collect().decoder.push(header), { code: "UNKNOWN_FRAME_TYPE" });
  t.end();
});

void t.test("poisoned after an error", (t) => {
  const bad = Buffer.concat(encodeFrame({ type: "KeepAlive" }));
  bad.writeUInt32BE(1, 0); // a Hello with an empty payload is too short
  const { decoder, out } = collect();
  let first: unknown;
  try {
    decoder.push(Buffer.concat([bad, stream]));
  } catch (err) {
    first = err;
  }
  t.ok(first instanceof MalformedFrameError);
  t.equal(out.length, 0);
  let second: unknown;
  try {
    decoder.push(stream);
  } catch (err) {
    second = err;
  }
  t.equal(second, first, "the same error again");
  t.equal(out.length, 0, "nothing more delivered");
  t.end();
});

void t.test("a throwing listener poisons the decoder", (t) => {
  const decoder = new FrameDecoder(() => {
    throw new Error("listener bug");
  });
  t.throws(() => decoder.push(stream), { code: "INTERNAL" });
  let again: unknown;
  try {
    decoder.push(stream);
  } catch (err) {
    again = err;
  }
  t.ok(again instanceof SluiceError && again.code === "INTERNAL");
  t.end();
});

void t.test("a frame spread over chunks is gathered into one buffer of exactly its payload size", (t) => {
  const data = Buffer.alloc(100_000, 0x5a);
  const frame: Frame = { type: "SegmentRead", requestId: 1, segment: "x", offset: 0, atTail: true, endOfSegment: false, data };
  const bytes = Buffer.concat(encodeFrame(frame));
  const { decoder, out } = collect();
  decoder.push(bytes.subarray(0, 5));
  decoder.push(bytes.subarray(5, 40_000));
  t.equal(decoder.bufferedBytes, 40_000 - 8);
  decoder.push(bytes.subarray(40_000));
  t.strictSame(out, [frame]);
  const got = out[0];
  t.equal(got?.type === "SegmentRead" ? got.data.buffer.byteLength : 0, bytes.length - 8);
  t.end();
});
