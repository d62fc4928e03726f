/** Where a client connects. Both URLs are full URLs so any host, port and scheme works. */
export interface Endpoints {
  /** WebSocket URL, e.g. ws://127.0.0.1:7777/ */
  blazeUrl: string;
  /** HTTP API base, e.g. http://127.0.0.1:7777 */
  apiUrl: string;
}

export const Endpoints = {
  /** A local `openblaze serve` with its defaults. */
  local: { blazeUrl: "ws://127.0.0.1:7777/", apiUrl: "http://127.0.0.1:7777" },
  /** The real Mixin service. */
  mixin: { blazeUrl: "wss://blaze.mixin.one/", apiUrl: "https://api.mixin.one" },
  /** The real Mixin service's alternate hosts (official clients fail over to them). */
  mixinZeromesh: { blazeUrl: "wss://mixin-blaze.zeromesh.net/", apiUrl: "https://mixin-api.zeromesh.net" },
} as const satisfies Record<string, Endpoints>;
