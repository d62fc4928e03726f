/**
 * A small typed event emitter. Node's EventEmitter is stringly typed and throws when an "error"
 * event has no listener, which would turn a bot's handler bug into a crash; this one never throws
 * out of emit(): a failing listener is reported to the "error" listeners instead.
 */
export type EventMap = Record<string, unknown[]>;
export type Listener<A extends unknown[]> = (...args: A) => void;
// Stored untyped: the map holds listeners of every event; on() and emit() keep the types paired.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void;

export class Emitter<E extends EventMap & { error: [error: Error, ...rest: unknown[]] }> {
  private readonly listeners = new Map<keyof E, Set<AnyListener>>();

  /** `onListenerError` reports a listener that threw (typically by emitting "error" with context). */
  constructor(private readonly onListenerError: (error: Error, event: keyof E) => void = (e) => process.emitWarning(e)) {}

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as AnyListener);
    return () => void set.delete(listener as AnyListener);
  }

  /** Like on(), removed after the first call. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, ((...args: E[K]) => {
      off();
      listener(...args);
    }) as Listener<E[K]>);
    return off;
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) {
      // An error nobody listens to must still be visible, but never fatal.
      if (event === "error") process.emitWarning(args[0] as Error);
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(...args);
      } catch (e) {
        // A throwing "error" listener has nowhere left to report to but the process warning channel.
        if (event === "error") process.emitWarning(toError(e));
        else this.onListenerError(toError(e), event);
      }
    }
  }

  removeAll(): void {
    this.listeners.clear();
  }
}

export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(typeof e === "string" ? e : JSON.stringify(e));
}
