import type { Logger } from "pino";
import type { ServerConfig } from "../config.js";
import { LocalBus, type Bus } from "./bus.js";
import { RedisBus, parseRedisUrl } from "./redis-bus.js";

/** The bus `config.bus` names: in-process, or Redis pub/sub shared by every node. */
export function openBus(config: Pick<ServerConfig, "bus">, log?: Logger): Bus {
  if (config.bus === "local") return new LocalBus();
  const { url, prefix } = parseRedisUrl(config.bus);
  return new RedisBus({ url, ...(prefix !== undefined && { prefix }), ...(log && { log: log.child({ component: "bus" }) }) });
}
