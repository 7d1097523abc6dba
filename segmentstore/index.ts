export { SegmentStore, type SegmentStoreOptions } from "./segment-store.js";
