/**
 * Reading one segment range with Tier-2 read directly: the store lists the chunks that hold the
 * range's bytes (GetChunks, from the container's metadata, so objects left by older owners are
 * never read), the bytes in those chunks come straight from the object store, and the rest (bytes
 * not yet tiered, held in the store's memory) from the store with ReadSegment. Both kinds of bytes
 * go through one event parser, so an event may straddle a chunk boundary.
 *
 * One read (a ranged GET or a ReadSegment) is kept in flight ahead of the consumer. A chunk found
 * missing (truncation deleted it after it was listed) is read through the store instead, which
 * answers its bytes or SEGMENT_TRUNCATED. Store requests are retried as every segment request is
 * (connection/segment-retry.ts); object store failures other than a missing object are raised.
 */
import { DataCorruptionError, InvalidArgumentError, chunksListedMax, logger, tier2ReadBytesMax } from "../../common/index.js";
import { EventParser, type FrameOf, type ListedChunk, type WireConnection } from "../../proto/index.js";
import { requestSegment, type ConnectFn } from "../connection/segment-retry.js";
import type { Event } from "../reader/segment-reader.js";
import type { Tier2Reader } from "./tier2-reader.js";

/** Bytes read so far by a batch client, by where they came from. */
export interface BatchReadStats {
  /** Read straight from Tier-2 (the object store). */
  tier2Bytes: number;
  /** Read through a segment store. */
  storeBytes: number;
  /** Listed chunks found missing in the object store (deleted by truncation, or a wrong bucket or prefix), read through the store instead. */
  tier2Missing: number;
}

export interface TieredReadContext {
  connect: ConnectFn;
  tier2: Tier2Reader;
  stats: BatchReadStats;
}

const requestTimeoutMs = 30_000;
const storeReadBytes = 1024 * 1024;
const log = logger("client");
/** A wrong bucket or prefix makes every chunk look missing: say so once per process, not per chunk. */
let missingWarned = false;

/** One piece of bytes on its way: from a chunk in Tier-2, or from the store. */
interface Piece {
  offset: number;
  /** undefined: the chunk was missing (read the piece through the store). */
  data: Promise<Buffer | undefined>;
  chunk?: ListedChunk;
}

/**
 * The events of `segment` in [startOffset, endOffset), in order. Raises what ReadSegment and
 * GetChunks raise (NO_SUCH_SEGMENT, SEGMENT_TRUNCATED, ...), INVALID_ARGUMENT when the segment
 * ends before endOffset or endOffset falls inside an event, DATA_CORRUPTION for a bad event length,
 * a chunk shorter than listed or a listing whose first chunk does not hold the offset asked, and
 * the object store's AUTH_FAILED or UNAVAILABLE.
 */
export async function* readTiered(ctx: TieredReadContext, segment: string, startOffset: number, endOffset: number): AsyncGenerator<Event> {
  const parser = new EventParser(startOffset);
  const stale = { endpoint: false };
  const request = <T>(send: (conn: WireConnection) => Promise<T>, what: string) =>
    requestSegment(segment, ctx.connect, send, { what: `${what} ${segment}`, stale });
  const listChunks = (offset: number) =>
    request(
      (conn) => conn.request({ type: "GetChunks", requestId: conn.nextRequestId(), segment, offset, maxCount: chunksListedMax }, "ChunksListed", requestTimeoutMs),
      "listing the chunks of",
    );
  const readStore = (offset: number, maxBytes: number): Promise<FrameOf<"SegmentRead">> =>
    request(
      (conn) => conn.request({ type: "ReadSegment", requestId: conn.nextRequestId(), segment, offset, maxBytes, waitMs: 0 }, "SegmentRead", requestTimeoutMs),
      "reading",
    );

  let offset = startOffset;
  while (offset < endOffset) {
    const chunks = (await listChunks(offset)).chunks;
    const first = chunks[0];
    if (first === undefined || first.offset > offset) {
      // Not in Tier-2 (yet): read through the store up to the next chunk, or the range's end.
      const stop = first === undefined ? endOffset : Math.min(endOffset, first.offset);
      for await (const data of storeBytes(readStore, segment, offset, stop)) {
        ctx.stats.storeBytes += data.length;
        yield* parser.push(offset, data);
        offset += data.length;
      }
      continue;
    }
    if (first.offset + first.length <= offset) {
      // Nothing of it could be read, and listing again would answer the same for ever.
      throw new DataCorruptionError(`the store listed chunk ${first.name} of ${segment} at ${first.offset}..${first.offset + first.length} for offset ${offset}, which it does not hold`);
    }
    // The pieces of the listed chunks that follow on from `offset` without a gap, read one ahead.
    const plan: { chunk: ListedChunk; offset: number; bytes: number }[] = [];
    for (let at = offset, i = 0; i < chunks.length && at < endOffset; i++) {
      const chunk = chunks[i]!;
      if (chunk.offset > at) break;
      const chunkEnd = Math.min(endOffset, chunk.offset + chunk.length);
      for (; at < chunkEnd; at += Math.min(tier2ReadBytesMax, chunkEnd - at)) plan.push({ chunk, offset: at, bytes: Math.min(tier2ReadBytesMax, chunkEnd - at) });
    }
    const start = (i: number): Piece | undefined => {
      const p = plan[i];
      if (p === undefined) return undefined;
      const data = ctx.tier2.read(p.chunk.name, p.offset - p.chunk.offset, p.bytes);
      // The consumer may stop before taking it; its failure is reported when it is taken.
      data.catch(() => undefined);
      return { offset: p.offset, data, chunk: p.chunk };
    };
    let ahead = start(0);
    for (let i = 0; ahead !== undefined; i++) {
      const piece = ahead;
      const data = await piece.data;
      if (data === undefined) {
        // Deleted since it was listed: the store answers these bytes, or SEGMENT_TRUNCATED. List again after them.
        ctx.stats.tier2Missing++;
        const stop = Math.min(endOffset, piece.chunk!.offset + piece.chunk!.length);
        let served = 0;
        for await (const bytes of storeBytes(readStore, segment, offset, stop)) {
          served += bytes.length;
          ctx.stats.storeBytes += bytes.length;
          yield* parser.push(offset, bytes);
          offset += bytes.length;
        }
        if (served > 0 && !missingWarned) {
          missingWarned = true;
          log.warn("a chunk the segment store lists is missing from Tier-2, but the store served its bytes; if this repeats, check the tier2 bucket and prefix", {
            segment, chunk: piece.chunk!.name, where: ctx.tier2.description,
          });
        }
        break;
      }
      ahead = start(i + 1);
      ctx.stats.tier2Bytes += data.length;
      yield* parser.push(piece.offset, data);
      offset = piece.offset + data.length;
    }
  }
  if (parser.pendingBytes !== 0) throw new InvalidArgumentError(`range end ${endOffset} of ${segment} falls inside an event`);
}

/**
 * Raw bytes of `segment` in [from, to) through the store, in order, one ReadSegment ahead. Raises
 * INVALID_ARGUMENT when the segment ends before `to`.
 */
async function* storeBytes(read: (offset: number, maxBytes: number) => Promise<FrameOf<"SegmentRead">>, segment: string, from: number, to: number): AsyncGenerator<Buffer> {
  const send = (at: number) => {
    const reply = read(at, Math.min(storeReadBytes, to - at));
    reply.catch(() => undefined);
    return reply;
  };
  let at = from;
  let ahead = at < to ? send(at) : undefined;
  while (ahead !== undefined) {
    const reply = await ahead;
    if (reply.offset !== at) throw new InvalidArgumentError(`read of ${segment} answered offset ${reply.offset}, asked ${at}`);
    if (reply.data.length === 0) throw new InvalidArgumentError(`${segment} ends at ${at}, before the range end ${to}`);
    at += reply.data.length;
    ahead = at < to ? send(at) : undefined;
    yield reply.data;
  }
}
