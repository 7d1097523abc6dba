export { listAll, type Compare, type KeyValue, type LeaseId, type ListOptions, type ListPage, type MetadataStore, type PutOptions, type TxnOp, type Watch, type WatchEvent, type WatchHandler } from "./metadata-store.js";
export { FileMetadataStore, type FileMetadataStoreOptions } from "./file-metadata-store.js";
export { EtcdMetadataStore } from "./etcd-metadata-store.js";
export { openMetadataStore } from "./open.js";
export { checkContainerCount } from "./cluster-settings.js";
