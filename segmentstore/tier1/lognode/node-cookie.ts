/**
 * A log node's cookie (after BookKeeper's): the identity of the data in its directory, a random
 * instance id made at the node's first start and kept in `cookie.json` there. The segment stores
 * record, per ledger, the instance id of each node holding it (log-metadata.ts); a node that later
 * answers with another id lost the data it held (its directory was wiped, deleted or swapped for
 * another), and its answers about those ledgers ("I hold nothing") must not be believed. The id
 * lives in the directory's own files, never in its path, so a directory moved or restored elsewhere
 * keeps its identity.
 *
 * The file is written once, as `cookie.json.tmp`, fsync'd, renamed, and the directory fsync'd, so
 * it is either whole or absent. A cookie that does not parse is DATA_CORRUPTION: the node refuses
 * to start rather than take a new identity over data that may be its own.
 */
import { randomUUID } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { open as openFile, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { DataCorruptionError, InternalError, logger, syncDirectory } from "../../../common/index.js";

const log = logger("lognode");

export const cookieFileName = "cookie.json";
const cookieFormat = 1;
const instanceIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reads the cookie in `dir` (which exists), or makes one when there is none. `hadData` says whether
 * the directory already held journal files: a cookie made then is logged, since the data predates
 * it (a directory written before cookies existed, or one whose cookie was deleted).
 */
export async function loadOrCreateCookie(dir: string, hadData: boolean): Promise<string> {
  const path = join(dir, cookieFileName);
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new InternalError(`${path}: cannot read the log node's cookie`, { cause: err });
  }
  if (text !== undefined) return parseCookie(text, path);
  const instanceId = randomUUID();
  const tmp = `${path}.tmp`;
  try {
    const handle = await openFile(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC);
    try {
      await handle.writeFile(`${JSON.stringify({ format: cookieFormat, instanceId, createdAt: new Date().toISOString() })}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDirectory(dir);
  } catch (err) {
    throw new InternalError(`${path}: cannot write the log node's cookie`, { cause: err });
  }
  if (hadData) log.warn("the log node's journal had no cookie; it gets a new identity now", { dir, instanceId });
  else log.info("new log node identity", { dir, instanceId });
  return instanceId;
}

function parseCookie(text: string, path: string): string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new DataCorruptionError(`${path}: the log node's cookie does not parse (${err instanceof Error ? err.message : String(err)}); the node refuses to start rather than take a new identity`);
  }
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if (o.format !== cookieFormat || typeof o.instanceId !== "string" || !instanceIdPattern.test(o.instanceId)) {
    throw new DataCorruptionError(`${path}: the log node's cookie is not format ${cookieFormat} with an instance id; the node refuses to start rather than take a new identity`);
  }
  return o.instanceId;
}
