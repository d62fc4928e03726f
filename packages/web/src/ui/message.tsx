import type {
  AppCardPayload,
  AudioPayload,
  ButtonPayload,
  ContactPayload,
  DataPayload,
  ImagePayload,
  LivePayload,
  LocationPayload,
  PinPayload,
  StickerPayload,
  TranscriptEntry,
  VideoPayload,
} from "@openblaze/protocol/browser";
import { useEffect, useState } from "preact/hooks";
import { payloadJson, payloadText, type Chat, type LocalMessage } from "../chat.js";
import { fromBase64 } from "../lib/bytes.js";
import { formatClock, formatDuration, formatSize, isButton, isColor, preview, safeHttpUrl, systemText } from "./format.js";
import { renderMarkdown } from "./markdown.js";
import { Avatar } from "./widgets.js";

export interface MessageProps {
  chat: Chat;
  m: LocalMessage;
  group: boolean;
  /** The previous message is from the same sender: no name or avatar again. */
  continued: boolean;
  onReply(m: LocalMessage): void;
  onOpenImage(src: string, name: string): void;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

/** Plain text with http(s) links made clickable; everything is a text node (escaped by Preact). */
export function Linkified({ text }: { text: string }) {
  const parts: (string | { href: string; text: string })[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    const trail = /[.,;:!?)\]]+$/.exec(raw)?.[0] ?? "";
    raw = raw.slice(0, raw.length - trail.length);
    const href = safeHttpUrl(raw);
    if (!href) continue;
    parts.push(text.slice(last, match.index), { href, text: raw });
    last = match.index + raw.length;
  }
  parts.push(text.slice(last));
  return (
    <>
      {parts.map((p, i) =>
        typeof p === "string" ? (
          p
        ) : (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow">
            {p.text}
          </a>
        ),
      )}
    </>
  );
}

function useAttachmentUrl(chat: Chat, attachmentId: string | undefined): string | undefined {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!attachmentId) return;
    let live = true;
    chat.attachmentUrl(attachmentId).then(
      (u) => live && setUrl(u),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [attachmentId]);
  return url;
}

/** Thumbnails are small JPEGs (or PNGs) in base64; the browser sniffs the real type. */
function thumbnailSrc(thumbnail: string | undefined): string | undefined {
  if (!thumbnail) return undefined;
  try {
    fromBase64(thumbnail);
  } catch {
    return undefined;
  }
  return `data:image/jpeg;base64,${thumbnail.replace(/-/g, "+").replace(/_/g, "/")}`;
}

function fit(width: number, height: number, max = 280): { width: number; height: number } {
  if (!(width > 0 && height > 0)) return { width: max, height: Math.round(max * 0.66) };
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(48, Math.round(width * scale)), height: Math.max(48, Math.round(height * scale)) };
}

function ImageContent({ chat, p, onOpen }: { chat: Chat; p: ImagePayload; onOpen(src: string, name: string): void }) {
  const url = useAttachmentUrl(chat, p.attachment_id);
  const [loaded, setLoaded] = useState(false);
  const thumb = thumbnailSrc(p.thumbnail);
  const box = fit(p.width, p.height);
  return (
    <figure class="image" style={{ width: `${box.width}px` }}>
      <button
        type="button"
        class="image-frame"
        style={{ width: `${box.width}px`, height: `${box.height}px` }}
        onClick={() => url && onOpen(url, p.caption || "image")}
        aria-label="Open image"
      >
        {thumb && !loaded && <img class="image-thumb" src={thumb} alt="" />}
        {url && <img class={`image-full${loaded ? " loaded" : ""}`} src={url} alt={p.caption || "image"} onLoad={() => setLoaded(true)} />}
      </button>
      {p.caption && (
        <figcaption>
          <Linkified text={p.caption} />
        </figcaption>
      )}
    </figure>
  );
}

function VideoContent({ chat, p }: { chat: Chat; p: VideoPayload }) {
  const url = useAttachmentUrl(chat, p.attachment_id);
  const box = fit(p.width, p.height, 320);
  return (
    <div class="video">
      <video controls preload="metadata" poster={thumbnailSrc(p.thumbnail)} src={url} style={{ width: `${box.width}px`, height: `${box.height}px` }} />
      <div class="media-meta">
        {formatDuration(p.duration)} · {formatSize(p.size)}
      </div>
    </div>
  );
}

function Waveform({ samples }: { samples: Uint8Array }) {
  const bars = 40;
  const step = Math.max(1, samples.length / bars);
  const values = Array.from({ length: Math.min(bars, samples.length) }, (_, i) => samples[Math.floor(i * step)]! / 255);
  return (
    <svg class="waveform" viewBox={`0 0 ${values.length * 4} 24`} aria-hidden="true">
      {values.map((v, i) => (
        <rect key={i} x={i * 4} y={24 - Math.max(2, v * 24)} width="2.5" height={Math.max(2, v * 24)} rx="1" />
      ))}
    </svg>
  );
}

function AudioContent({ chat, p }: { chat: Chat; p: AudioPayload }) {
  const url = useAttachmentUrl(chat, p.attachment_id);
  let samples: Uint8Array | undefined;
  try {
    const wave = p.waveform ?? p.wave_form;
    if (wave) samples = fromBase64(wave);
  } catch {
    samples = undefined;
  }
  return (
    <div class="audio">
      {samples && samples.length > 0 && <Waveform samples={samples} />}
      <audio controls preload="metadata" src={url} />
      <div class="media-meta">{formatDuration(p.duration)}</div>
    </div>
  );
}

function FileContent({ chat, p }: { chat: Chat; p: DataPayload }) {
  const url = useAttachmentUrl(chat, p.attachment_id);
  const ext = (p.name.split(".").pop() ?? "").slice(0, 4).toUpperCase() || "FILE";
  return (
    <div class="file">
      <div class="file-icon">{ext}</div>
      <div class="file-main">
        <div class="file-name">{p.name || "file"}</div>
        <div class="media-meta">
          {formatSize(p.size)} · {p.mime_type}
        </div>
      </div>
      {url ? (
        <a class="file-download" href={url} download={p.name || "file"} target="_blank" rel="noopener">
          Download
        </a>
      ) : (
        <span class="file-download muted">…</span>
      )}
    </div>
  );
}

export function ButtonRow({ chat, m, buttons }: { chat: Chat; m: LocalMessage; buttons: ButtonPayload[] }) {
  return (
    <div class="buttons">
      {buttons.filter(isButton).map((b, i) => {
        const color = isColor(b.color) ? b.color : "#3d75e3";
        return (
          <button
            key={i}
            type="button"
            class="app-button"
            data-action={b.action}
            style={{ color, borderColor: color }}
            title={b.action}
            onClick={() => void chat.runAction(m.conversation_id, b.action).catch((e: Error) => chat.notify(e.message))}
          >
            {b.label}
          </button>
        );
      })}
    </div>
  );
}

function CardContent({ chat, m, p }: { chat: Chat; m: LocalMessage; p: AppCardPayload }) {
  const legacy = "action" in p && typeof p.action === "string" && p.action !== "";
  const current = p as Extract<AppCardPayload, { actions?: ButtonPayload[] }>;
  const cover = legacy ? undefined : safeHttpUrl(current.cover?.url ?? current.cover_url);
  const icon = safeHttpUrl(p.icon_url);
  const actions = !legacy && Array.isArray(current.actions) ? current.actions : [];
  const body = (
    <>
      {cover && <img class="card-cover" src={cover} alt="" referrerpolicy="no-referrer" />}
      <div class="card-body">
        {icon && <img class="card-icon" src={icon} alt="" referrerpolicy="no-referrer" />}
        <div>
          <div class="card-title">{p.title}</div>
          {p.description && <div class="card-description">{p.description}</div>}
        </div>
      </div>
    </>
  );
  return (
    <div class="card">
      {legacy ? (
        <button
          type="button"
          class="card-link"
          data-action={(p as { action: string }).action}
          onClick={() => void chat.runAction(m.conversation_id, (p as { action: string }).action).catch((e: Error) => chat.notify(e.message))}
        >
          {body}
        </button>
      ) : (
        body
      )}
      {actions.length > 0 && <ButtonRow chat={chat} m={m} buttons={actions} />}
    </div>
  );
}

function ContactContent({ chat, p }: { chat: Chat; p: ContactPayload }) {
  useEffect(() => chat.ensureUsers([p.user_id]), [p.user_id]);
  const user = chat.users.get(p.user_id);
  const name = user?.full_name ?? "Contact";
  return (
    <div class="contact">
      <Avatar id={p.user_id} name={name} size={40} />
      <div class="contact-main">
        <div class="contact-name">{name}</div>
        <div class="media-meta">{user ? `#${user.identity_number}` : p.user_id}</div>
      </div>
      {p.user_id !== chat.me?.user_id && (
        <button type="button" class="link-button" onClick={() => void chat.startChat(p.user_id).catch((e: Error) => chat.notify(e.message))}>
          Message
        </button>
      )}
    </div>
  );
}

function LocationContent({ p }: { p: LocationPayload }) {
  const lat = Number(p.latitude);
  const lon = Number(p.longitude);
  const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
  return (
    <a class="location" href={href} target="_blank" rel="noopener noreferrer">
      <div class="location-pin" aria-hidden="true">
        <svg viewBox="0 0 24 24" width="26" height="26">
          <path d="M12 2.5a7 7 0 00-7 7c0 5.2 7 12 7 12s7-6.8 7-12a7 7 0 00-7-7z" fill="#2eb67d" />
          <circle cx="12" cy="9.5" r="2.6" fill="white" />
        </svg>
      </div>
      <div>
        <div class="location-name">{p.name || "Location"}</div>
        {p.address && <div class="media-meta">{p.address}</div>}
        <div class="media-meta">
          {lat.toFixed(5)}, {lon.toFixed(5)}
        </div>
      </div>
    </a>
  );
}

function LiveContent({ p }: { p: LivePayload }) {
  const href = safeHttpUrl(p.url);
  const thumb = safeHttpUrl(p.thumb_url);
  const box = fit(p.width, p.height);
  const inner = (
    <>
      {thumb && <img src={thumb} alt="" referrerpolicy="no-referrer" style={{ width: `${box.width}px` }} />}
      <span class="live-badge">LIVE</span>
    </>
  );
  return href ? (
    <a class="live" href={href} target="_blank" rel="noopener noreferrer">
      {inner}
    </a>
  ) : (
    <div class="live">{inner}</div>
  );
}

function StickerContent({ p }: { p: StickerPayload }) {
  const name = "name" in p && p.name ? p.name : "sticker";
  return (
    <div class="sticker" title={"sticker_id" in p ? p.sticker_id : name}>
      <svg class="sticker-face" viewBox="0 0 24 24" width="64" height="64" aria-hidden="true">
        <path d="M12 2.8l2.8 5.7 6.3.9-4.6 4.4 1.1 6.2L12 17l-5.6 3 1.1-6.2-4.6-4.4 6.3-.9z" fill="#f5b82e" />
      </svg>
      <div class="media-meta">{name}</div>
    </div>
  );
}

function TranscriptContent({ entries }: { entries: TranscriptEntry[] }) {
  return (
    <div class="transcript">
      <div class="transcript-title">
        Transcript · {entries.length} {entries.length === 1 ? "message" : "messages"}
      </div>
      {entries.slice(0, 8).map((e, i) => (
        <div key={i} class="transcript-line">
          <b>{e.user_full_name || "someone"}:</b> {e.content && /TEXT|POST/.test(e.category ?? "") ? e.content.slice(0, 140) : `[${e.category ?? "message"}]`}
        </div>
      ))}
    </div>
  );
}

function Content({ chat, m, onOpenImage }: Pick<MessageProps, "chat" | "m" | "onOpenImage">) {
  if (m.recalled) return <div class="recalled">This message was deleted</div>;
  const json = <T,>() => payloadJson<T>(m);
  switch (m.category) {
    case "PLAIN_TEXT":
      return (
        <div class="text">
          <Linkified text={payloadText(m)} />
        </div>
      );
    case "PLAIN_POST":
      // Sanitised by DOMPurify in renderMarkdown; nothing else is ever set as HTML.
      return <div class="post" dangerouslySetInnerHTML={{ __html: renderMarkdown(payloadText(m)) }} />;
    case "PLAIN_IMAGE": {
      const p = json<ImagePayload>();
      return p ? <ImageContent chat={chat} p={p} onOpen={onOpenImage} /> : <Broken m={m} />;
    }
    case "PLAIN_VIDEO": {
      const p = json<VideoPayload>();
      return p ? <VideoContent chat={chat} p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_AUDIO": {
      const p = json<AudioPayload>();
      return p ? <AudioContent chat={chat} p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_DATA": {
      const p = json<DataPayload>();
      return p ? <FileContent chat={chat} p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_STICKER": {
      const p = json<StickerPayload>();
      return p ? <StickerContent p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_CONTACT": {
      const p = json<ContactPayload>();
      return p ? <ContactContent chat={chat} p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_LOCATION": {
      const p = json<LocationPayload>();
      return p ? <LocationContent p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_LIVE": {
      const p = json<LivePayload>();
      return p ? <LiveContent p={p} /> : <Broken m={m} />;
    }
    case "PLAIN_TRANSCRIPT": {
      const p = json<TranscriptEntry[]>();
      return Array.isArray(p) ? <TranscriptContent entries={p} /> : <Broken m={m} />;
    }
    case "APP_CARD": {
      const p = json<AppCardPayload>();
      return p ? <CardContent chat={chat} m={m} p={p} /> : <Broken m={m} />;
    }
    default:
      return <div class="unsupported">Unsupported message ({m.category})</div>;
  }
}

function Broken({ m }: { m: LocalMessage }) {
  return <div class="unsupported">Unreadable {m.category} message</div>;
}

export function Tick({ status, onRetry, error }: { status: LocalMessage["status"]; onRetry(): void; error?: string | undefined }) {
  if (status === "FAILED") {
    return (
      <button type="button" class="tick failed" onClick={onRetry} title={error ? `${error} — click to retry` : "Not sent — click to retry"}>
        ! Retry
      </button>
    );
  }
  const label = { SENDING: "Sending", SENT: "Sent", DELIVERED: "Delivered", READ: "Read" }[status];
  return (
    <span class={`tick ${status.toLowerCase()}`} title={label} aria-label={label}>
      {status === "SENDING" ? (
        <svg viewBox="0 0 16 16" width="14" height="14">
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="1.5" />
          <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
        </svg>
      ) : (
        <svg viewBox="0 0 20 16" width="18" height="14">
          <path d="M1.5 8.5l3.5 3.5L12 4.5" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
          {status !== "SENT" && (
            <path d="M8.2 11l1 1L16.5 4.5" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
          )}
        </svg>
      )}
    </span>
  );
}

function Quote({ chat, id }: { chat: Chat; id: string }) {
  const q = chat.message(id);
  const jump = () => document.querySelector(`[data-message-id="${CSS.escape(id)}"]`)?.scrollIntoView({ behavior: "smooth", block: "center" });
  return (
    <button type="button" class="quote" onClick={jump}>
      <div class="quote-name">{q ? chat.userName(q.user_id) : "Quoted message"}</div>
      <div class="quote-text">{q ? preview(chat, q) : "not in this browser's history"}</div>
    </button>
  );
}

/** One entry of the thread: a system line, or a bubble (plus buttons outside it). */
export function Message({ chat, m, group, continued, onReply, onOpenImage }: MessageProps) {
  if (m.category === "SYSTEM_CONVERSATION") {
    return (
      <div class="system" data-message-id={m.message_id} data-category={m.category}>
        {systemText(chat, m)}
      </div>
    );
  }
  if (m.category === "MESSAGE_PIN") {
    const p = payloadJson<PinPayload>(m);
    return (
      <div class="system" data-message-id={m.message_id} data-category={m.category}>
        {chat.userName(m.user_id)} {p?.action === "UNPIN" ? "unpinned" : "pinned"} a message
      </div>
    );
  }
  const side = m.mine ? "mine" : "theirs";
  const time = formatClock(m.created_at);
  const showName = group && !m.mine && !continued;
  const isButtons = m.category === "APP_BUTTON_GROUP" && !m.recalled;
  const meta = (
    <span class="meta">
      <time dateTime={m.created_at}>{time}</time>
      {m.mine && <Tick status={m.status} error={m.error} onRetry={() => chat.retry(m.message_id)} />}
    </span>
  );
  return (
    <div
      class={`row ${side}${continued ? " continued" : ""}`}
      data-message-id={m.message_id}
      data-category={m.category}
      data-status={m.mine ? m.status : undefined}
    >
      {!m.mine && group && (continued ? <div class="avatar-spacer" /> : <Avatar id={m.user_id} name={chat.userName(m.user_id)} size={32} />)}
      <div class="stack">
        {showName && <div class="sender">{chat.userName(m.user_id)}</div>}
        {isButtons ? (
          <div class="button-message">
            <ButtonRow chat={chat} m={m} buttons={payloadJson<ButtonPayload[]>(m) ?? []} />
            {meta}
          </div>
        ) : (
          <div class={`bubble cat-${m.category.toLowerCase()}`}>
            {m.quote_message_id && <Quote chat={chat} id={m.quote_message_id} />}
            <Content chat={chat} m={m} onOpenImage={onOpenImage} />
            {meta}
          </div>
        )}
      </div>
      {!m.recalled && (
        <button type="button" class="reply-button" title="Reply" aria-label="Reply" onClick={() => onReply(m)}>
          ↩
        </button>
      )}
    </div>
  );
}

