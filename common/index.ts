export * from "./assert.js";
export * from "./clock.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./hash.js";
export * as limits from "./limits.js";
export * from "./log.js";
export * from "./names.js";
export * from "./record-log.js";
