import DOMPurify from "dompurify";
import { marked } from "marked";

// Links in posts open in a new tab and tell the target nothing about us.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

/**
 * PLAIN_POST bodies: Markdown to HTML, then DOMPurify. Only its output ever reaches innerHTML;
 * scripts, event handlers, styles, forms and frames are dropped, and only safe URL schemes stay.
 */
export function renderMarkdown(source: string): string {
  const cached = cache.get(source);
  if (cached !== undefined) return cached;
  const html = marked.parse(source, { async: false, gfm: true, breaks: true });
  const clean = DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
    FORBID_ATTR: ["style", "class", "id"],
  });
  if (cache.size >= 500) cache.delete(cache.keys().next().value!);
  cache.set(source, clean);
  return clean;
}

/** The thread re-renders on every change; parse each post once. */
const cache = new Map<string, string>();
