export * from "./controller.js";
export * from "./wire/index.js";
