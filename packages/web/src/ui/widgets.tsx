import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { avatarColor, initials } from "./format.js";

export function Avatar({ id, name, size = 40, group = false }: { id: string; name: string; size?: number; group?: boolean }) {
  return (
    <div
      class={`avatar${group ? " group" : ""}`}
      style={{ width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.38)}px`, background: avatarColor(id) }}
      aria-hidden="true"
    >
      {group ? "#" : initials(name)}
    </div>
  );
}

export function Modal({ title, onClose, children, wide = false }: { title: string; onClose(): void; children: ComponentChildren; wide?: boolean }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={`modal${wide ? " wide" : ""}`} role="dialog" aria-modal="true" aria-label={title}>
        <header class="modal-header">
          <h2>{title}</h2>
          <button type="button" class="icon-button" aria-label="Close" onClick={onClose}>
            ✕
          </button>
        </header>
        <div class="modal-body">{children}</div>
      </div>
    </div>
  );
}
