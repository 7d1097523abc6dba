/** What the etcd store and its watches share: the call deadline, error texts, and key and revision decoding. */
import type { IResponseHeader } from "etcd3";
import { assert } from "../../common/index.js";

/** Every unary call, keep-alive exchange, connect probe and watch creation ends within this. */
export const etcdCallTimeoutMs = 5_000;
/** etcd's answer to a read or watch below its compacted revision. */
export const compactedMessage = /required revision has been compacted/;
export const emptyValue = Buffer.alloc(0);

export /** etcd revisions are int64 strings; Sluice's stay far below 2^53. */
function revisionOf(header: Pick<IResponseHeader, "revision">): number {
  const revision = Number(header.revision);
  assert(Number.isSafeInteger(revision) && revision >= 0, `etcd revision ${header.revision} is a safe integer`);
  return revision;
}

export function unprefix(key: Buffer, namespaceBytes: number): string {
  return key.toString("utf8", namespaceBytes);
}
