export * from "./errors.js";
export * from "./endpoints.js";
export * from "./compose.js";
