export type { MetadataStore, VersionedValue } from "./metadata-store.js";
export { FileMetadataStore } from "./file-metadata-store.js";
