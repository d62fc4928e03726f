import { useState } from "preact/hooks";
import type { Chat, LocalConversation } from "../chat.js";
import { Avatar, Modal } from "./widgets.js";

function useBusy() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

function splitIds(text: string): string[] {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

/** Known people: everyone in a 1:1 conversation with us. */
function contacts(chat: Chat): string[] {
  const ids = new Set<string>();
  for (const c of chat.conversations.values()) if (c.category === "CONTACT" && c.peer_id) ids.add(c.peer_id);
  return [...ids];
}

export function NewChatDialog({ chat, onClose }: { chat: Chat; onClose(): void }) {
  const [id, setId] = useState("");
  const { busy, error, run } = useBusy();
  return (
    <Modal title="New chat" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (await run(() => chat.startChat(id))) onClose();
        }}
      >
        <label>
          User id
          <input name="user-id" value={id} autoFocus placeholder="e.g. 773e5e77-4107-45c2-b648-8fc722ed77f5" onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <p class="hint">
          Your own id, to give to others: <code>{chat.me?.user_id}</code>
        </p>
        {error && <p class="error">{error}</p>}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || !id.trim()}>
            Start chat
          </button>
        </div>
      </form>
    </Modal>
  );
}

function PeoplePicker({ chat, selected, onToggle, exclude = [] }: { chat: Chat; selected: Set<string>; onToggle(id: string): void; exclude?: string[] }) {
  const people = contacts(chat).filter((id) => !exclude.includes(id));
  if (people.length === 0) return null;
  return (
    <div class="picker">
      {people.map((id) => (
        <label key={id} class="picker-item">
          <input type="checkbox" checked={selected.has(id)} onChange={() => onToggle(id)} />
          <Avatar id={id} name={chat.userName(id)} size={28} />
          <span>{chat.userName(id)}</span>
        </label>
      ))}
    </div>
  );
}

function useSelection() {
  const [selected, setSelected] = useState(new Set<string>());
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (!next.delete(id)) next.add(id);
    setSelected(next);
  };
  return { selected, toggle };
}

export function NewGroupDialog({ chat, onClose }: { chat: Chat; onClose(): void }) {
  const [name, setName] = useState("");
  const [ids, setIds] = useState("");
  const { selected, toggle } = useSelection();
  const { busy, error, run } = useBusy();
  return (
    <Modal title="New group" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (await run(() => chat.createGroup(name, [...selected, ...splitIds(ids)]))) onClose();
        }}
      >
        <label>
          Group name
          <input name="group-name" value={name} autoFocus maxLength={512} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <PeoplePicker chat={chat} selected={selected} onToggle={toggle} />
        <label>
          Add members by user id (one per line)
          <textarea name="member-ids" rows={3} value={ids} onInput={(e) => setIds((e.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        {error && <p class="error">{error}</p>}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            Create group
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function GroupDialog({ chat, c, onClose }: { chat: Chat; c: LocalConversation; onClose(): void }) {
  const [name, setName] = useState(c.name);
  const [ids, setIds] = useState("");
  const { selected, toggle } = useSelection();
  const { busy, error, run } = useBusy();
  const me = chat.me?.user_id ?? "";
  const role = chat.myRole(c);
  const manager = role === "OWNER" || role === "ADMIN";
  const roleLabel = (r: string) => (r === "OWNER" ? "owner" : r === "ADMIN" ? "admin" : "");
  return (
    <Modal title="Group" onClose={onClose} wide>
      {manager ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => chat.rename(c.conversation_id, name));
          }}
        >
          <input name="group-name" value={name} maxLength={512} aria-label="Group name" onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" disabled={busy || !name.trim() || name === c.name}>
            Rename
          </button>
        </form>
      ) : (
        <h3>{c.name}</h3>
      )}
      <p class="hint">
        {c.participants.length} members · id <code>{c.conversation_id}</code>
      </p>
      <ul class="members">
        {c.participants.map((p) => (
          <li key={p.user_id} data-user-id={p.user_id}>
            <Avatar id={p.user_id} name={p.user_id === me ? (chat.me?.full_name ?? "") : chat.userName(p.user_id)} size={32} />
            <span class="member-name">{p.user_id === me ? `${chat.me?.full_name ?? ""} (you)` : chat.userName(p.user_id)}</span>
            {p.role && <span class="role">{roleLabel(p.role)}</span>}
            <span class="member-actions">
              {role === "OWNER" && p.user_id !== me && (
                <button type="button" disabled={busy} onClick={() => void run(() => chat.setRole(c.conversation_id, p.user_id, p.role === "ADMIN" ? "" : "ADMIN"))}>
                  {p.role === "ADMIN" ? "Revoke admin" : "Make admin"}
                </button>
              )}
              {manager && p.user_id !== me && p.role !== "OWNER" && (
                <button type="button" class="danger" disabled={busy} onClick={() => void run(() => chat.removeMember(c.conversation_id, p.user_id))}>
                  Remove
                </button>
              )}
            </span>
          </li>
        ))}
      </ul>
      {manager && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            if (await run(() => chat.addMembers(c.conversation_id, [...selected, ...splitIds(ids)]))) setIds("");
          }}
        >
          <h3>Add members</h3>
          <PeoplePicker chat={chat} selected={selected} onToggle={toggle} exclude={c.participants.map((p) => p.user_id)} />
          <textarea name="member-ids" rows={2} placeholder="user ids, one per line" value={ids} onInput={(e) => setIds((e.currentTarget as HTMLTextAreaElement).value)} />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy || (selected.size === 0 && !ids.trim())}>
              Add
            </button>
          </div>
        </form>
      )}
      {error && <p class="error">{error}</p>}
      {!c.left && role !== "OWNER" && (
        <div class="actions">
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={async () => {
              if (await run(() => chat.leave(c.conversation_id))) onClose();
            }}
          >
            Leave group
          </button>
        </div>
      )}
    </Modal>
  );
}
