export { listAll, type Compare, type KeyValue, type LeaseId, type ListOptions, type ListPage, type MetadataStore, type PutOptions, type TxnOp, type Watch, type WatchEvent, type WatchHandler } from "./metadata-store.js";
export { FileMetadataStore, type FileMetadataStoreOptions } from "./file-metadata-store.js";
export { EtcdMetadataStore } from "./etcd-metadata-store.js";
export { openMetadataStore } from "./open.js";
export { checkContainerCount } from "./cluster-settings.js";
export {
  assignContainers,
  assignedStore,
  claimUnassignedContainers,
  containerAssignmentKey,
  containerAssignmentPrefix,
  containerOwnerKey,
  parseAssignmentKey,
  readAssignments,
  readContainerCount,
  readContainerOwner,
  recordContainerOwner,
  validateStoreId,
  type ContainerOwner,
} from "./container-placement.js";
