/**
 * The browser's own history. Blaze delivers each message once per session until acked, so, as in
 * the official apps, the client keeps what it received; here in IndexedDB, one database per account.
 * Falls back to memory only when IndexedDB is unavailable (some private modes).
 */

export type StoreName = "messages" | "conversations" | "users";

const STORES: Record<StoreName, string> = { messages: "message_id", conversations: "conversation_id", users: "user_id" };

export interface LocalDb {
  all<T>(store: StoreName): Promise<T[]>;
  put(store: StoreName, value: object): void;
  clear(): Promise<void>;
}

function promise<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

class IdbDb implements LocalDb {
  constructor(private readonly db: IDBDatabase) {}

  all<T>(store: StoreName): Promise<T[]> {
    return promise(this.db.transaction(store, "readonly").objectStore(store).getAll()) as Promise<T[]>;
  }

  put(store: StoreName, value: object): void {
    // Fire and forget: the in-memory state is authoritative while the page lives.
    try {
      this.db.transaction(store, "readwrite").objectStore(store).put(value);
    } catch (e) {
      console.warn("history write failed", e);
    }
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(Object.keys(STORES), "readwrite");
    for (const name of Object.keys(STORES)) tx.objectStore(name).clear();
    await new Promise((resolve) => (tx.oncomplete = resolve));
  }
}

class MemoryDb implements LocalDb {
  async all<T>(): Promise<T[]> {
    return [];
  }
  put(): void {}
  async clear(): Promise<void> {}
}

export async function openDb(userId: string): Promise<LocalDb> {
  if (typeof indexedDB === "undefined") return new MemoryDb();
  try {
    const req = indexedDB.open(`openblaze-${userId}`, 1);
    req.onupgradeneeded = () => {
      for (const [name, keyPath] of Object.entries(STORES)) {
        if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name, { keyPath });
      }
    };
    return new IdbDb(await promise(req));
  } catch (e) {
    console.warn("IndexedDB unavailable, history lives in memory only", e);
    return new MemoryDb();
  }
}

export function deleteDb(userId: string): void {
  if (typeof indexedDB !== "undefined") indexedDB.deleteDatabase(`openblaze-${userId}`);
}
