import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_PAYLOAD_RULES, isClientSendable, isPlainCategory, validatePayload } from "../src/categories.js";
import type { PayloadRules } from "../src/categories.js";
import { BlazeError } from "../src/errors.js";
import { Categories, Limits } from "../src/names.js";

const ID = "0f9a7c3e-5b1d-4e2a-9c8b-6d5e4f3a2b1c";
const ID2 = "7404c815-0393-4ea3-b9f2-b08efe4c72da";

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

function text(s: string): Buffer {
  return Buffer.from(s, "utf8");
}

function ok(category: string, payload: Buffer, rules?: PayloadRules): void {
  assert.doesNotThrow(() => validatePayload(category, payload, rules));
}

/** Asserts a 10002 on `field` and returns its reason. */
function refusal(category: string, payload: Buffer, rules?: PayloadRules, field = "data"): string {
  try {
    validatePayload(category, payload, rules);
  } catch (e) {
    assert.ok(e instanceof BlazeError, `expected BlazeError, got ${String(e)}`);
    assert.equal(e.code, 10002);
    assert.equal(e.extra?.field, field);
    assert.equal(typeof e.extra?.reason, "string");
    return e.extra!.reason!;
  }
  assert.fail(`expected ${category} payload to be refused`);
}

function refused(category: string, payload: Buffer, pattern: RegExp, rules?: PayloadRules): void {
  assert.match(refusal(category, payload, rules), pattern);
}

const image = { attachment_id: ID, mime_type: "image/jpeg", width: 1024, height: 768, size: 183422 };
const button = { label: "Open", color: "#3D75E3", action: "https://example.org" };
const buttons = (n: number) => Array.from({ length: n }, (_, i) => ({ ...button, label: `B${i}` }));
const card = { app_id: ID2, title: "Weekly report", description: "3 new items" };

describe("category sets", () => {
  it("lets clients send user content, app, recall, pin and pass-through families", () => {
    for (const c of Object.values(Categories)) {
      assert.equal(isClientSendable(c), c !== Categories.SYSTEM_CONVERSATION, c);
    }
    for (const c of ["ENCRYPTED_TEXT", "SIGNAL_KEY", "SIGNAL_TEXT"]) assert.ok(isClientSendable(c), c);
    for (const c of ["SYSTEM_USER", "SYSTEM_ACCOUNT_SNAPSHOT", "WEBRTC_AUDIO_OFFER", "PLAIN_UNKNOWN", "ENCRYPTED_", "plain_text", ""]) {
      assert.equal(isClientSendable(c), false, c);
    }
  });

  it("treats only known PLAIN_* as plain", () => {
    assert.ok(isPlainCategory("PLAIN_TEXT"));
    assert.ok(isPlainCategory("PLAIN_TRANSCRIPT"));
    for (const c of ["APP_CARD", "APP_BUTTON_GROUP", "MESSAGE_RECALL", "ENCRYPTED_TEXT", "SIGNAL_TEXT", "PLAIN_UNKNOWN"]) {
      assert.equal(isPlainCategory(c), false, c);
    }
  });

  it("defaults to six buttons", () => {
    assert.equal(DEFAULT_PAYLOAD_RULES.maxButtons, 6);
  });
});

describe("validatePayload: common rules", () => {
  it("refuses unknown categories on the category field", () => {
    assert.equal(refusal("PLAIN_HOLOGRAM", text("hi"), undefined, "category"), "unknown category PLAIN_HOLOGRAM");
    refusal("SYSTEM_USER", json({ action: "UPDATE", user_id: ID }), undefined, "category");
    refusal("constructor", text("hi"), undefined, "category");
  });

  it("refuses an empty payload for every category", () => {
    for (const c of [...Object.values(Categories), "ENCRYPTED_TEXT", "SIGNAL_TEXT"]) {
      assert.equal(refusal(c, Buffer.alloc(0)), "payload is empty", c);
    }
  });

  it("refuses payloads over 128 KiB", () => {
    ok(Categories.PLAIN_TEXT, Buffer.alloc(Limits.MAX_PAYLOAD_BYTES, 0x61));
    refused(Categories.PLAIN_TEXT, Buffer.alloc(Limits.MAX_PAYLOAD_BYTES + 1, 0x61), /131073 bytes, at most 131072/);
    refused("ENCRYPTED_TEXT", Buffer.alloc(Limits.MAX_PAYLOAD_BYTES + 1), /at most 131072/);
  });

  it("passes encrypted and signal bodies through opaquely", () => {
    ok("ENCRYPTED_TEXT", Buffer.from([0x01, 0x00, 0xff, 0xfe]));
    ok("SIGNAL_KEY", Buffer.from([0xc3, 0x28]));
  });

  it("refuses non-JSON and wrongly shaped JSON", () => {
    refused(Categories.PLAIN_IMAGE, text("{not json"), /not valid JSON/);
    refused(Categories.PLAIN_IMAGE, json([image]), /must be a JSON object/);
    refused(Categories.APP_BUTTON_GROUP, json(button), /must be a JSON array/);
    refused(Categories.PLAIN_CONTACT, Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/);
  });
});

describe("validatePayload: user content", () => {
  it("PLAIN_TEXT and PLAIN_POST need valid UTF-8 text", () => {
    ok(Categories.PLAIN_TEXT, text("hello 👋 wörld"));
    ok(Categories.PLAIN_POST, text("# Title\n\n*markdown*"));
    refused(Categories.PLAIN_TEXT, Buffer.from([0x68, 0x69, 0xc3, 0x28]), /^text is not valid UTF-8$/);
    refused(Categories.PLAIN_POST, Buffer.from([0xed, 0xa0, 0x80]), /not valid UTF-8/); // encoded lone surrogate
    refused(Categories.PLAIN_TEXT, Buffer.from([0xef, 0xbb, 0xbf]), /text is empty/);
  });

  it("PLAIN_IMAGE", () => {
    ok(Categories.PLAIN_IMAGE, json(image));
    ok(Categories.PLAIN_IMAGE, json({ ...image, thumbnail: "AAAA", caption: "cat", created_at: "2024-05-01T08:30:00Z" }));
    ok(Categories.PLAIN_IMAGE, json({ ...image, caption: null }));
    refused(Categories.PLAIN_IMAGE, json({ ...image, attachment_id: "nope" }), /^attachment_id must be a lower-case UUID$/);
    refused(Categories.PLAIN_IMAGE, json({ ...image, width: 0 }), /^width must be a positive integer$/);
    refused(Categories.PLAIN_IMAGE, json({ ...image, height: 1.5 }), /^height must be a positive integer$/);
    refused(Categories.PLAIN_IMAGE, json({ ...image, size: -1 }), /^size must be a non-negative integer$/);
    refused(Categories.PLAIN_IMAGE, json({ ...image, mime_type: "" }), /^mime_type must not be empty$/);
    refused(Categories.PLAIN_IMAGE, json({ ...image, caption: 5 }), /^caption must be a string$/);
  });

  it("PLAIN_VIDEO", () => {
    ok(Categories.PLAIN_VIDEO, json({ ...image, mime_type: "video/mp4", duration: 12000 }));
    refused(Categories.PLAIN_VIDEO, json({ ...image, mime_type: "video/mp4" }), /^duration must be a number$/);
    refused(Categories.PLAIN_VIDEO, json({ ...image, duration: -1 }), /duration -1 is outside/);
  });

  it("PLAIN_AUDIO accepts waveform and wave_form", () => {
    const audio = { attachment_id: ID, mime_type: "audio/ogg", size: 4096, duration: 3000 };
    ok(Categories.PLAIN_AUDIO, json(audio));
    ok(Categories.PLAIN_AUDIO, json({ ...audio, waveform: "AAECAwQF" }));
    ok(Categories.PLAIN_AUDIO, json({ ...audio, wave_form: "AAECAwQF" }));
    refused(Categories.PLAIN_AUDIO, json({ ...audio, waveform: "!!!" }), /^waveform is not valid base64$/);
    refused(Categories.PLAIN_AUDIO, json({ ...audio, wave_form: 7 }), /^wave_form must be a string$/);
    refused(Categories.PLAIN_AUDIO, json({ ...audio, duration: "3s" }), /^duration must be a number$/);
  });

  it("PLAIN_DATA", () => {
    const data = { attachment_id: ID, mime_type: "application/pdf", size: 10, name: "report.pdf" };
    ok(Categories.PLAIN_DATA, json(data));
    ok(Categories.PLAIN_DATA, json({ ...data, name: "" }));
    refused(Categories.PLAIN_DATA, json({ ...data, name: undefined }), /^name must be a string$/);
  });

  it("PLAIN_STICKER in both forms", () => {
    ok(Categories.PLAIN_STICKER, json({ sticker_id: ID }));
    ok(Categories.PLAIN_STICKER, json({ name: "smile", album_id: ID2 }));
    ok(Categories.PLAIN_STICKER, json({ sticker_id: "", name: "smile", album_id: ID2 }));
    refused(Categories.PLAIN_STICKER, json({ sticker_id: "42" }), /^sticker_id must be a lower-case UUID$/);
    refused(Categories.PLAIN_STICKER, json({}), /needs sticker_id, or name and album_id/);
    refused(Categories.PLAIN_STICKER, json({ name: "smile" }), /^album_id must be a lower-case UUID$/);
    refused(Categories.PLAIN_STICKER, json({ name: "", album_id: ID2 }), /^name must not be empty$/);
  });

  it("PLAIN_CONTACT", () => {
    ok(Categories.PLAIN_CONTACT, json({ user_id: ID }));
    refused(Categories.PLAIN_CONTACT, json({ user_id: ID.toUpperCase() }), /^user_id must be a lower-case UUID$/);
  });

  it("PLAIN_LIVE", () => {
    const live = { width: 640, height: 360, thumb_url: "https://x/t.jpg", url: "https://x/live.m3u8" };
    ok(Categories.PLAIN_LIVE, json(live));
    ok(Categories.PLAIN_LIVE, json({ ...live, shareable: false }));
    refused(Categories.PLAIN_LIVE, json({ ...live, url: "" }), /^url must not be empty$/);
    refused(Categories.PLAIN_LIVE, json({ ...live, shareable: "no" }), /^shareable must be a boolean$/);
  });

  it("PLAIN_LOCATION", () => {
    ok(Categories.PLAIN_LOCATION, json({ latitude: 48.8584, longitude: 2.2945, name: "Eiffel Tower", address: "Paris" }));
    ok(Categories.PLAIN_LOCATION, json({ latitude: 0, longitude: 10 }));
    refused(Categories.PLAIN_LOCATION, json({ latitude: 0, longitude: 0 }), /\(0, 0\) is not a valid position/);
    refused(Categories.PLAIN_LOCATION, json({ latitude: 91, longitude: 2 }), /^latitude 91 is outside \[-90, 90\]$/);
    refused(Categories.PLAIN_LOCATION, json({ latitude: 1, longitude: -180.5 }), /^longitude -180.5 is outside/);
    refused(Categories.PLAIN_LOCATION, json({ latitude: "1", longitude: 2 }), /^latitude must be a number$/);
  });

  it("PLAIN_TRANSCRIPT", () => {
    ok(Categories.PLAIN_TRANSCRIPT, json([{ transcript_id: ID, message_id: ID2, category: "PLAIN_TEXT", content: "hi" }]));
    refused(Categories.PLAIN_TRANSCRIPT, json([]), /no entries/);
    refused(Categories.PLAIN_TRANSCRIPT, json([{}, "x"]), /^transcript\[1\] must be an object$/);
    refused(Categories.PLAIN_TRANSCRIPT, json({ content: "hi" }), /must be a JSON array/);
  });

  it("PLAIN_JSON", () => {
    ok(Categories.PLAIN_JSON, json({ action: "RESEND_KEY", user_id: ID }));
    refused(Categories.PLAIN_JSON, json({ user_id: ID }), /^action must be a string$/);
  });
});

describe("validatePayload: app messages", () => {
  it("APP_BUTTON_GROUP accepts 1..6 buttons by default", () => {
    ok(Categories.APP_BUTTON_GROUP, json([button]));
    ok(Categories.APP_BUTTON_GROUP, json(buttons(6)));
    assert.equal(refusal(Categories.APP_BUTTON_GROUP, json(buttons(7))), "7 buttons, at most 6");
    assert.equal(refusal(Categories.APP_BUTTON_GROUP, json([])), "0 buttons, at least 1");
  });

  it("APP_BUTTON_GROUP allows 18 buttons when configured, never more", () => {
    const rules = { maxButtons: 18 };
    ok(Categories.APP_BUTTON_GROUP, json(buttons(18)), rules);
    assert.equal(refusal(Categories.APP_BUTTON_GROUP, json(buttons(19)), rules), "19 buttons, at most 18");
    assert.equal(refusal(Categories.APP_BUTTON_GROUP, json(buttons(19)), { maxButtons: 50 }), "19 buttons, at most 18");
  });

  it("APP_BUTTON_GROUP checks each label, colour and action", () => {
    // 36 code points, 72 UTF-16 units: labels count characters as users see them.
    ok(Categories.APP_BUTTON_GROUP, json([{ ...button, label: "😀".repeat(36) }]));
    ok(Categories.APP_BUTTON_GROUP, json([{ ...button, color: "#abcdef" }]));
    assert.equal(
      refusal(Categories.APP_BUTTON_GROUP, json([button, { ...button, label: "x".repeat(37) }])),
      "buttons[1].label has 37 characters, at most 36",
    );
    refused(Categories.APP_BUTTON_GROUP, json([{ ...button, label: "😀".repeat(37) }]), /37 characters, at most 36/);
    refused(Categories.APP_BUTTON_GROUP, json([{ ...button, label: "" }]), /^buttons\[0\]\.label must not be empty$/);
    assert.equal(refusal(Categories.APP_BUTTON_GROUP, json([{ ...button, color: "#12345" }])), 'buttons[0].color "#12345" is not #RRGGBB');
    refused(Categories.APP_BUTTON_GROUP, json([{ ...button, color: "red" }]), /is not #RRGGBB/);
    refused(Categories.APP_BUTTON_GROUP, json([{ ...button, action: "" }]), /^buttons\[0\]\.action must not be empty$/);
    refused(Categories.APP_BUTTON_GROUP, json(["Open"]), /^buttons\[0\] must be an object$/);
  });

  it("APP_CARD in its legacy form", () => {
    ok(Categories.APP_CARD, json({ ...card, icon_url: "https://x/i.png", action: "https://example.org" }));
    refused(Categories.APP_CARD, json({ ...card, action: "" }), /^action must not be empty$/);
  });

  it("APP_CARD in its current form", () => {
    const current = {
      ...card,
      cover_url: "https://example.org/c.png",
      cover: { mime_type: "image/png", url: "https://example.org/c.png", width: 800, height: 500, thumbnail: "" },
      actions: [button],
      shareable: true,
      updated_at: "2024-05-01T08:30:00Z",
    };
    ok(Categories.APP_CARD, json(current));
    ok(Categories.APP_CARD, json(card)); // purely informational: no action at all
    ok(Categories.APP_CARD, json({ ...card, description: "", actions: [] }));
    ok(Categories.APP_CARD, json({ ...card, title: "t".repeat(128) }));
    refused(Categories.APP_CARD, json({ ...card, title: "t".repeat(129) }), /^title has 129 characters, at most 128$/);
    refused(Categories.APP_CARD, json({ ...card, title: "" }), /^title must not be empty$/);
    refused(Categories.APP_CARD, json({ ...card, description: "d".repeat(1025) }), /^description has 1025 characters, at most 1024$/);
    refused(Categories.APP_CARD, json({ ...card, app_id: "app" }), /^app_id must be a lower-case UUID$/);
    assert.equal(refusal(Categories.APP_CARD, json({ ...current, actions: buttons(7) })), "7 actions, at most 6");
    refused(Categories.APP_CARD, json({ ...current, actions: [{ ...button, color: "#12345" }] }), /^actions\[0\]\.color/);
    refused(Categories.APP_CARD, json({ ...current, actions: button }), /^actions must be an array$/);
    refused(Categories.APP_CARD, json({ ...current, cover: "https://x" }), /^cover must be an object$/);
    refused(Categories.APP_CARD, json({ ...current, shareable: 1 }), /^shareable must be a boolean$/);
  });
});

describe("validatePayload: control categories", () => {
  it("MESSAGE_RECALL", () => {
    ok(Categories.MESSAGE_RECALL, json({ message_id: ID }));
    refused(Categories.MESSAGE_RECALL, json({ message_id: "" }), /^message_id must be a lower-case UUID$/);
  });

  it("MESSAGE_PIN", () => {
    ok(Categories.MESSAGE_PIN, json({ action: "PIN", message_ids: [ID] }));
    ok(Categories.MESSAGE_PIN, json({ action: "UNPIN", message_ids: [ID, ID2] }));
    refused(Categories.MESSAGE_PIN, json({ action: "pin", message_ids: [ID] }), /^action must be PIN or UNPIN$/);
    refused(Categories.MESSAGE_PIN, json({ action: "PIN", message_ids: [] }), /^message_ids must be a non-empty array$/);
    refused(Categories.MESSAGE_PIN, json({ action: "PIN", message_ids: [ID, "x"] }), /^message_ids\[1\] must be a lower-case UUID$/);
  });

  it("SYSTEM_CONVERSATION", () => {
    ok(Categories.SYSTEM_CONVERSATION, json({ action: "ADD", participant_id: ID, user_id: ID2 }));
    ok(Categories.SYSTEM_CONVERSATION, json({ action: "CREATE", participant_id: "" }));
    ok(Categories.SYSTEM_CONVERSATION, json({ action: "ROLE", participant_id: ID, role: "ADMIN" }));
    ok(Categories.SYSTEM_CONVERSATION, json({ action: "ROLE", participant_id: ID, role: "" }));
    ok(Categories.SYSTEM_CONVERSATION, json({ action: "EXPIRE", participant_id: "", expire_in: 86400 }));
    refused(Categories.SYSTEM_CONVERSATION, json({ action: "KICK", participant_id: ID }), /^action must be one of CREATE, ADD/);
    refused(Categories.SYSTEM_CONVERSATION, json({ action: "ADD" }), /^participant_id must be a lower-case UUID$/);
    refused(Categories.SYSTEM_CONVERSATION, json({ action: "ROLE", participant_id: ID, role: "MEMBER" }), /^role must be OWNER, ADMIN or ""$/);
    refused(Categories.SYSTEM_CONVERSATION, json({ action: "ADD", participant_id: ID, user_id: "bot" }), /^user_id must be/);
  });
});
