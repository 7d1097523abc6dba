// Proves that readTiered takes a range from the chunks the store lists, and that a listing whose first chunk does not
// hold the offset asked (empty, or ending at or before it) raises DATA_CORRUPTION after one GetChunks instead of
// listing again for ever. The store and the object store are in-memory fakes.
import t from "tap";
import { encodeEvents, type Frame, type ListedChunk, type WireConnection } from "../../proto/index.js";
import type { Tier2Reader } from "./tier2-reader.js";
import { readTiered, type BatchReadStats } from "./tiered-read.js";

const seg = "s/t/0.#epoch.0";
const bytes = encodeEvents([Buffer.from("e0"), Buffer.from("e1")]);

/** A store that answers every GetChunks with `chunks` (and counts them), over an object store holding chunk "c0" = `bytes`. */
function fakes(chunks: ListedChunk[]) {
  const calls = { getChunks: 0 };
  let id = 0;
  const conn = {
    nextRequestId: () => ++id,
    request: (frame: Frame) => {
      if (frame.type !== "GetChunks") throw new Error(`unexpected ${frame.type}`);
      calls.getChunks++;
      // A bound of its own, so that a regression fails the test instead of hanging it.
      if (calls.getChunks > 10) return Promise.reject(new Error("GetChunks asked again and again"));
      return Promise.resolve({ type: "ChunksListed", requestId: frame.requestId, segment: seg, chunks });
    },
  } as unknown as WireConnection;
  const tier2 = {
    description: "memory",
    read: (name: string, offset: number, length: number) => Promise.resolve(name === "c0" ? bytes.subarray(offset, offset + length) : undefined),
  } as unknown as Tier2Reader;
  const stats: BatchReadStats = { tier2Bytes: 0, storeBytes: 0, tier2Missing: 0 };
  return { calls, ctx: { connect: () => Promise.resolve(conn), tier2, stats } };
}

async function readAll(ctx: ReturnType<typeof fakes>["ctx"], start: number, end: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTiered(ctx, seg, start, end)) out.push(Buffer.from(e.data).toString());
  return out;
}

void t.test("a range held by a listed chunk is read from Tier-2", async (t) => {
  const { ctx } = fakes([{ name: "c0", offset: 0, length: bytes.length }]);
  t.same(await readAll(ctx, 0, bytes.length), ["e0", "e1"]);
  t.equal(ctx.stats.tier2Bytes, bytes.length);
});

void t.test("a listing whose first chunk is empty raises DATA_CORRUPTION", async (t) => {
  const { calls, ctx } = fakes([{ name: "c0", offset: 0, length: 0 }]);
  await t.rejects(readAll(ctx, 0, bytes.length), { code: "DATA_CORRUPTION" });
  t.equal(calls.getChunks, 1);
});

void t.test("a listing whose first chunk ends at the offset asked raises DATA_CORRUPTION", async (t) => {
  const half = encodeEvents([Buffer.from("e0")]).length;
  const { calls, ctx } = fakes([{ name: "c0", offset: 0, length: half }]);
  await t.rejects(readAll(ctx, half, bytes.length), { code: "DATA_CORRUPTION" });
  t.equal(calls.getChunks, 1);
});
