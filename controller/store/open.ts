/**
 * Opens the metadata store a `--metadata` URI names:
 *   file://DIR                         the embedded store in DIR (created if missing)
 *   etcd://HOST:PORT[,HOST:PORT][/NS]  etcd, keys under namespace NS (default `sluice/`)
 */
import { resolve } from "node:path";
import { InvalidConfigError, type Clock } from "../../common/index.js";
import { EtcdMetadataStore } from "./etcd-metadata-store.js";
import { FileMetadataStore } from "./file-metadata-store.js";
import type { MetadataStore } from "./metadata-store.js";

/**
 * `readOnly` (file:// only; etcd serves readers and writers alike): open the embedded store without
 * locking or changing its directory, as read-only tools must while its owner runs (see
 * FileMetadataStoreOptions.readOnly). Without it a file store is locked: DATA_DIR_LOCKED while
 * another live process has it open.
 */
export async function openMetadataStore(uri: string, options: { clock?: Clock; readOnly?: boolean } = {}): Promise<MetadataStore> {
  if (uri.startsWith("file://")) {
    const dir = uri.slice("file://".length);
    if (dir.length === 0) throw new InvalidConfigError(`--metadata ${uri}: give a directory, as in file:///var/lib/sluice/metadata`);
    return FileMetadataStore.open(resolve(dir), { ...(options.clock === undefined ? {} : { clock: options.clock }), ...(options.readOnly === true ? { readOnly: true } : {}) });
  }
  if (uri.startsWith("etcd://")) return EtcdMetadataStore.connect(uri);
  throw new InvalidConfigError(`--metadata ${uri}: use file://DIR (embedded) or etcd://HOST:PORT[,HOST:PORT...][/NAMESPACE]`);
}
