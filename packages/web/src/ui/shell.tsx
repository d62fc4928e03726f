import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Chat, LocalConversation, LocalMessage } from "../chat.js";
import { Composer } from "./composer.js";
import { GroupDialog, NewChatDialog, NewGroupDialog } from "./dialogs.js";
import { formatTime, preview } from "./format.js";
import { Message } from "./message.js";
import { Avatar } from "./widgets.js";

function ConnectionBadge({ state }: { state: Chat["connection"] }) {
  const label = { connecting: "Connecting…", online: "Online", offline: "Offline, reconnecting…", unauthorized: "Signed out by the server" }[state];
  return (
    <span class={`connection ${state}`} data-state={state} title={label}>
      <span class="dot" />
      {label}
    </span>
  );
}

function Sidebar({ chat, onNewChat, onNewGroup, onSignOut }: { chat: Chat; onNewChat(): void; onNewGroup(): void; onSignOut(): void }) {
  const [menu, setMenu] = useState(false);
  const list = chat.conversationList();
  const me = chat.me!;
  const downloadKeystore = () => {
    const blob = new Blob([JSON.stringify(chat.creds.keystore, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${me.full_name.replace(/[^\w.-]+/g, "_") || "keystore"}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  return (
    <aside class="sidebar">
      <header class="sidebar-header">
        <Avatar id={me.user_id} name={me.full_name} size={36} />
        <div class="me">
          <div class="me-name">{me.full_name}</div>
          <ConnectionBadge state={chat.connection} />
        </div>
        <button type="button" class="icon-button" aria-label="Account menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
          ⋮
        </button>
        {menu && (
          <div class="menu" role="menu" onClick={() => setMenu(false)}>
            <button type="button" role="menuitem" onClick={() => void navigator.clipboard?.writeText(me.user_id).then(() => chat.notify("Your user id is copied"))}>
              Copy my user id
            </button>
            <button type="button" role="menuitem" onClick={downloadKeystore}>
              Download keystore
            </button>
            <button type="button" role="menuitem" class="danger" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <div class="sidebar-actions">
        <button type="button" onClick={onNewChat}>
          + New chat
        </button>
        <button type="button" onClick={onNewGroup}>
          + New group
        </button>
      </div>
      <nav class="conversations" aria-label="Conversations">
        {list.length === 0 && <p class="empty">No conversations yet. Start a chat with a user id, or wait for a bot to write.</p>}
        {list.map((c) => {
          const last = chat.lastMessage(c.conversation_id);
          return (
            <button
              type="button"
              key={c.conversation_id}
              class={`conversation${chat.selected === c.conversation_id ? " selected" : ""}`}
              data-conversation-id={c.conversation_id}
              aria-current={chat.selected === c.conversation_id}
              onClick={() => chat.select(c.conversation_id)}
            >
              <Avatar id={c.category === "GROUP" ? c.conversation_id : c.peer_id} name={chat.title(c)} group={c.category === "GROUP"} />
              <div class="conversation-main">
                <div class="conversation-top">
                  <span class="conversation-name">{chat.title(c)}</span>
                  <time>{last ? formatTime(last.created_at) : ""}</time>
                </div>
                <div class="conversation-bottom">
                  <span class="conversation-preview">
                    {last && c.category === "GROUP" && !last.mine && last.category !== "SYSTEM_CONVERSATION" ? `${chat.userName(last.user_id)}: ` : ""}
                    {preview(chat, last)}
                  </span>
                  {c.unread > 0 && (
                    <span class="badge" data-unread={c.unread}>
                      {c.unread}
                    </span>
                  )}
                </div>
              </div>
            </button>
          );
        })}
      </nav>
    </aside>
  );
}

function Lightbox({ src, name, onClose }: { src: string; name: string; onClose(): void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="lightbox" role="dialog" aria-label="Image" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <img src={src} alt={name} />
      <div class="lightbox-bar">
        <a href={src} download={name} target="_blank" rel="noopener">
          Download
        </a>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

function Thread({ chat, c, onManage }: { chat: Chat; c: LocalConversation; onManage(): void }) {
  const [quote, setQuote] = useState<LocalMessage>();
  const [image, setImage] = useState<{ src: string; name: string }>();
  const scroller = useRef<HTMLDivElement>(null);
  const messages = chat.messages(c.conversation_id);
  const group = c.category === "GROUP";
  const last = messages[messages.length - 1];

  // Follow new messages when the reader is at the bottom (or just sent one).
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && (stick.current || last?.mine)) el.scrollTop = el.scrollHeight;
  }, [last?.message_id, c.conversation_id, messages.length]);

  const subtitle = group ? `${c.participants.length} members` : chat.users.get(c.peer_id)?.is_bot ? "bot" : c.peer_id;
  return (
    <section class="thread" aria-label={chat.title(c)}>
      <header class="thread-header">
        <button type="button" class="icon-button back" aria-label="Back to conversations" onClick={() => chat.select(undefined)}>
          ←
        </button>
        <Avatar id={group ? c.conversation_id : c.peer_id} name={chat.title(c)} group={group} />
        <div class="thread-title">
          <h1>{chat.title(c)}</h1>
          <div class="thread-subtitle">{subtitle}</div>
        </div>
        {group && (
          <button type="button" class="members-button" onClick={onManage}>
            Members
          </button>
        )}
      </header>
      <div
        class="messages"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const continued = !!prev && prev.user_id === m.user_id && prev.category !== "SYSTEM_CONVERSATION" && m.category !== "SYSTEM_CONVERSATION";
          return <Message key={m.message_id} chat={chat} m={m} group={group} continued={continued} onReply={setQuote} onOpenImage={(src, name) => setImage({ src, name })} />;
        })}
      </div>
      {c.left ? (
        <div class="left-note">You are no longer a member of this conversation.</div>
      ) : (
        <Composer chat={chat} conversationId={c.conversation_id} quote={quote} onClearQuote={() => setQuote(undefined)} />
      )}
      {image && <Lightbox src={image.src} name={image.name} onClose={() => setImage(undefined)} />}
    </section>
  );
}

export function Shell({ chat, onSignOut }: { chat: Chat; onSignOut(): void }) {
  const [dialog, setDialog] = useState<"chat" | "group" | "manage">();
  const selected = chat.selected ? chat.conversations.get(chat.selected) : undefined;
  return (
    <div class={`shell${selected ? " has-thread" : ""}`}>
      <Sidebar chat={chat} onNewChat={() => setDialog("chat")} onNewGroup={() => setDialog("group")} onSignOut={onSignOut} />
      {selected ? (
        <Thread key={selected.conversation_id} chat={chat} c={selected} onManage={() => setDialog("manage")} />
      ) : (
        <section class="thread empty-thread">
          <div>
            <h1>openblaze</h1>
            <p>Pick a conversation, or start one with a user id.</p>
          </div>
        </section>
      )}
      {dialog === "chat" && <NewChatDialog chat={chat} onClose={() => setDialog(undefined)} />}
      {dialog === "group" && <NewGroupDialog chat={chat} onClose={() => setDialog(undefined)} />}
      {dialog === "manage" && selected && <GroupDialog chat={chat} c={selected} onClose={() => setDialog(undefined)} />}
      {chat.toast && (
        <div class="toast" role="status">
          {chat.toast}
        </div>
      )}
    </div>
  );
}
