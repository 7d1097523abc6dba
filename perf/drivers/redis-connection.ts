/**
 * Connections to the Redis peer: how they are opened (bounded reconnects, command timeouts), how a
 * command's failure becomes a typed error, and how they are closed.
 */
import { Redis } from "ioredis";
import { UnavailableError, logger } from "../../common/index.js";

/** Every command, XADD included, fails after this long without a reply. */
export const redisCommandTimeoutMs = 30_000;
const connectTimeoutMs = 10_000;
const reconnectAttemptsMax = 10;
const reconnectDelayMsMax = 1_000;
/** quit() waits for the replies still due; past this, the connection is dropped. */
const quitTimeoutMs = 10_000;

const log = logger("redis-driver");

export interface RedisDriverConfig {
  host: string;
  port: number;
}

/**
 * The options that differ between connections. Not ioredis's RedisOptions: under
 * exactOptionalPropertyTypes its `replyMapping?: ... | undefined` does not fit the constructor's
 * `replyMapping?: ReplyMapping`, so spreading a RedisOptions value fails to compile (ioredis 6.0.0).
 */
export interface ConnectionExtras {
  enableAutoPipelining?: boolean;
  autoResendUnfulfilledCommands?: boolean;
}

export function openConnection(config: RedisDriverConfig, role: string, extra: ConnectionExtras): Redis {
  const conn = new Redis({
    host: config.host,
    port: config.port,
    // RESP2 gives the reply shapes the types describe without a HELLO round trip, on any Redis peer.
    protocol: 2,
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    commandTimeout: redisCommandTimeoutMs,
    maxRetriesPerRequest: reconnectAttemptsMax,
    // Reconnect a bounded number of times; then pending and queued commands fail with an error.
    retryStrategy: (attempt) => (attempt > reconnectAttemptsMax ? null : Math.min(attempt * 100, reconnectDelayMsMax)),
    ...extra,
  });
  // Failures reach callers through their rejected commands; the event is logged only so a broken
  // peer is visible while it reconnects (and so ioredis does not report it as unhandled).
  conn.on("error", (err: Error) => log.warn("connection error", { role, error: err }));
  return conn;
}

export async function connectOrFail(conn: Redis, topic: string): Promise<void> {
  try {
    await conn.connect();
  } catch (err) {
    conn.disconnect();
    throw new UnavailableError(`cannot connect to Redis for topic ${topic}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The current last entry id of each stream. XREAD's `$` means "the end when this call started", so a
 * loop passing `$` again for a stream that had no news would skip what arrived between two calls;
 * concrete ids make "from the end" mean the end at subscription, for every stream.
 */
export async function currentEnds(conn: Redis, streams: readonly string[]): Promise<string[]> {
  const replies = await Promise.all(streams.map((s) => command(`XREVRANGE ${s}`, conn.xrevrange(s, "+", "-", "COUNT", 1))));
  return replies.map((entries) => entries[0]?.[0] ?? "0-0");
}

/** Awaits one Redis command, turning a client or server failure into UnavailableError. */
export async function command<T>(what: string, reply: Promise<T>): Promise<T> {
  try {
    return await reply;
  } catch (err) {
    throw new UnavailableError(`${what} failed: ${errorMessage(err)}`, { cause: err });
  }
}

/** QUIT, which Redis answers after every reply still due; a peer that does not answer is dropped. */
export async function quitWithin(conn: Redis): Promise<void> {
  if (conn.status === "end" || conn.status === "wait") {
    conn.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), quitTimeoutMs);
  });
  try {
    const outcome = await Promise.race([conn.quit(), timedOut]);
    if (outcome === "timeout") log.warn("QUIT unanswered; dropping the connection", { timeoutMs: quitTimeoutMs });
  } catch (err) {
    // A connection that already failed cannot QUIT; dropping it is all that is left to do.
    log.debug("QUIT failed; dropping the connection", { error: errorMessage(err) });
  } finally {
    clearTimeout(timer);
    conn.disconnect();
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
