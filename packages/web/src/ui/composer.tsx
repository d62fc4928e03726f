import { Categories } from "@openblaze/protocol/browser";
import { useRef, useState } from "preact/hooks";
import type { Chat, LocalMessage } from "../chat.js";
import { utf8 } from "../lib/bytes.js";
import { sendFile } from "./attach.js";
import { preview } from "./format.js";

export function Composer({ chat, conversationId, quote, onClearQuote }: { chat: Chat; conversationId: string; quote: LocalMessage | undefined; onClearQuote(): void }) {
  const [text, setText] = useState("");
  const [mode, setMode] = useState<"text" | "post">("text");
  const [uploading, setUploading] = useState<string>();
  const fileInput = useRef<HTMLInputElement>(null);
  const textarea = useRef<HTMLTextAreaElement>(null);

  const submit = () => {
    const body = text.trim();
    if (!body) return;
    chat.send(conversationId, mode === "post" ? Categories.PLAIN_POST : Categories.PLAIN_TEXT, utf8(mode === "post" ? text : body), quote?.message_id ?? "");
    setText("");
    onClearQuote();
    textarea.current?.focus();
  };

  const pick = async (files: FileList | null) => {
    const list = [...(files ?? [])];
    if (fileInput.current) fileInput.current.value = "";
    for (const file of list) {
      setUploading(file.name);
      try {
        await sendFile(chat, conversationId, file, quote?.message_id ?? "");
        onClearQuote();
      } catch (e) {
        chat.notify(`Could not send ${file.name}: ${(e as Error).message}`);
      } finally {
        setUploading(undefined);
      }
    }
  };

  return (
    <div class="composer">
      {quote && (
        <div class="composer-quote">
          <div>
            <div class="quote-name">Replying to {chat.userName(quote.user_id)}</div>
            <div class="quote-text">{preview(chat, quote)}</div>
          </div>
          <button type="button" class="icon-button" aria-label="Cancel reply" onClick={onClearQuote}>
            ✕
          </button>
        </div>
      )}
      {uploading && <div class="composer-status">Uploading {uploading}…</div>}
      <div class="composer-row">
        <button type="button" class="icon-button attach" aria-label="Attach a file" title="Attach an image or file" onClick={() => fileInput.current?.click()}>
          <svg viewBox="0 0 24 24" width="22" height="22">
            <path
              d="M16.5 6.5l-8 8a2 2 0 002.8 2.8l8.2-8.2a4 4 0 00-5.6-5.6L5.6 11.8a6 6 0 008.5 8.5l6.4-6.4"
              fill="none"
              stroke="currentColor"
              stroke-width="1.8"
              stroke-linecap="round"
            />
          </svg>
        </button>
        <input ref={fileInput} type="file" class="hidden" data-testid="file-input" multiple onChange={(e) => void pick((e.currentTarget as HTMLInputElement).files)} />
        <div class="mode" role="group" aria-label="Message kind">
          <button type="button" class={mode === "text" ? "on" : ""} aria-pressed={mode === "text"} onClick={() => setMode("text")}>
            Text
          </button>
          <button type="button" class={mode === "post" ? "on" : ""} aria-pressed={mode === "post"} onClick={() => setMode("post")} title="Markdown post">
            Post
          </button>
        </div>
        <textarea
          ref={textarea}
          class="composer-input"
          rows={1}
          placeholder={mode === "post" ? "Markdown post" : "Message"}
          title={mode === "post" ? "Ctrl+Enter sends, Enter starts a new line" : "Enter sends, Shift+Enter starts a new line"}
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            const send = mode === "post" ? e.key === "Enter" && (e.ctrlKey || e.metaKey) : e.key === "Enter" && !e.shiftKey && !e.isComposing;
            if (send) {
              e.preventDefault();
              submit();
            }
          }}
        />
        <button type="button" class="send" onClick={submit} disabled={!text.trim()} aria-label="Send">
          Send
        </button>
      </div>
    </div>
  );
}
