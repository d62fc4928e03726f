import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newUuid, uniqueConversationId } from "@openblaze/protocol";
import { Harness, type Frame, type TestSocket, type TestUser } from "@openblaze/server/test/harness";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { WEB_DIR, json, launch, newContext, png, screenshot } from "./support.js";

const LONG = 20_000;

/**
 * The web chat end to end: a real server (in-process, on port 0) serving the built app, real
 * headless Chromium driving it, and a bot on a raw Blaze socket on the other side.
 */
describe("web chat in Chromium", () => {
  let h: Harness;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let alice: TestUser;
  let botUser: TestUser;
  let bot: TestSocket;
  let conv: string;
  const pageErrors: string[] = [];

  const row = (messageId: string) => page.locator(`[data-message-id="${messageId}"]`);

  async function botSend(category: string, payload: unknown, extra: Record<string, unknown> = {}): Promise<string> {
    const data = typeof payload === "string" ? Buffer.from(payload).toString("base64") : json(payload);
    const params = { conversation_id: conv, recipient_id: alice.userId, message_id: newUuid(), category, data, ...extra };
    const id = newUuid();
    bot.send({ id, action: "CREATE_MESSAGE", params });
    const reply = await bot.next((f) => f.id === id, LONG);
    assert.equal(reply.error, undefined, `${category}: ${JSON.stringify(reply.error)}`);
    return params.message_id;
  }

  /** The next message the browser sent to the bot, acked READ by the bot (as bots do). */
  async function botReceive(): Promise<Frame> {
    const f = await bot.push(LONG);
    bot.send({ id: newUuid(), action: "ACKNOWLEDGE_MESSAGE_RECEIPT", params: { message_id: f.data.message_id, status: "READ" } });
    return f;
  }

  async function botUpload(bytes: Buffer): Promise<{ attachment_id: string; view_url: string }> {
    const created = await h.http(botUser, "POST", "/attachments", {});
    const a = created.body.data;
    const put = await fetch(a.upload_url, { method: "PUT", body: new Uint8Array(bytes), headers: { "content-type": "application/octet-stream", "x-amz-acl": "public-read" } });
    assert.equal(put.status, 200);
    return a;
  }

  before(async () => {
    h = await Harness.start({ webDir: WEB_DIR });
    alice = await h.user("Alice");
    botUser = await h.user("Helper Bot", true);
    conv = uniqueConversationId(alice.userId, botUser.userId);
    bot = await h.socket(botUser);
    assert.equal((await bot.request("LIST_PENDING_MESSAGES")).error, undefined);
    browser = await launch();
    context = await newContext(browser, h.httpUrl);
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await h?.close();
  });

  it("signs in with a pasted keystore", async () => {
    await page.goto(h.httpUrl + "/");
    await page.getByText("Chat with your bots").waitFor();
    await screenshot(page, "01-sign-in");
    await page.locator("#keystore").fill(JSON.stringify(alice.keystore, null, 2));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator('.connection[data-state="online"]').waitFor({ timeout: LONG });
    assert.equal(await page.locator(".me-name").textContent(), "Alice");
    // Kept in this browser only.
    const saved = await page.evaluate(() => localStorage.getItem("openblaze.keystore"));
    assert.equal(JSON.parse(saved!).app_id, alice.userId);
  });

  let buttonsId = "";
  let cardId = "";

  it("receives a bot's text, app card and button group, with an unread count", async () => {
    await botSend("PLAIN_TEXT", "Hi Alice! I am the helper bot.");
    cardId = await botSend("APP_CARD", {
      app_id: botUser.userId,
      title: "Weekly report",
      description: "3 new items are waiting for you",
      cover_url: "https://example.org/cover.png",
      actions: [{ label: "Open report", color: "#7B61FF", action: "https://example.org/report" }],
    });
    buttonsId = await botSend("APP_BUTTON_GROUP", [
      { label: "Say hi", color: "#E8554E", action: "input:hi bot" },
      { label: "Docs", color: "#3D75E3", action: "https://example.org/docs" },
      { label: "Status", color: "#2EB67D", action: "input:/status" },
    ]);
    const item = page.locator(`.conversation[data-conversation-id="${conv}"]`);
    await item.locator('.badge[data-unread="3"]').waitFor({ timeout: LONG });
    // The name comes from the bot's profile, fetched after the first message shows (the id's start
    // stands in until then): on a slow host it can land after the badge.
    await item.locator(".conversation-name").filter({ hasText: /^Helper Bot$/ }).waitFor({ timeout: LONG });
    assert.match((await item.locator(".conversation-preview").textContent())!, /Buttons: Say hi, Docs, Status/);
    await screenshot(page, "02-unread");

    await item.click();
    await row(buttonsId).waitFor();
    await item.locator(".badge").waitFor({ state: "detached" });
    // Opening the thread marks all three READ: the bot hears it.
    const read = new Set<string>();
    while (read.size < 3) {
      const r = await bot.next((f) => f.action === "ACKNOWLEDGE_MESSAGE_RECEIPT" && f.data?.status === "READ", LONG);
      read.add(r.data.message_id);
    }
    assert.ok(read.has(buttonsId) && read.has(cardId));

    const card = row(cardId);
    assert.equal(await card.locator(".card-title").textContent(), "Weekly report");
    await card.locator(".card-cover").evaluate((img: HTMLImageElement) => img.complete || new Promise((r) => (img.onload = r)));
    const sayHi = row(buttonsId).getByRole("button", { name: "Say hi" });
    assert.equal(await sayHi.evaluate((b) => getComputedStyle(b).color), "rgb(232, 85, 78)");
    assert.equal(await row(buttonsId).getByRole("button", { name: "Status" }).evaluate((b) => getComputedStyle(b).borderTopColor), "rgb(46, 182, 125)");
    await screenshot(page, "03-buttons-and-card");
  });

  it("clicking an input: button sends its text to the bot, and shows the read tick", async () => {
    await row(buttonsId).getByRole("button", { name: "Say hi" }).click();
    const f = await botReceive();
    assert.equal(f.data.category, "PLAIN_TEXT");
    assert.equal(Buffer.from(f.data.data, "base64").toString(), "hi bot");
    assert.equal(f.data.conversation_id, conv);
    await row(f.data.message_id).and(page.locator('[data-status="READ"]')).waitFor({ timeout: LONG });
  });

  it("clicking a link button (and a card action) opens the URL in a new tab", async () => {
    const [docs] = await Promise.all([context.waitForEvent("page"), row(buttonsId).getByRole("button", { name: "Docs" }).click()]);
    await docs.waitForLoadState();
    assert.equal(docs.url(), "https://example.org/docs");
    assert.equal(await docs.evaluate(() => window.opener), null, "opened with noopener");
    await docs.close();
    const [report] = await Promise.all([context.waitForEvent("page"), row(cardId).getByRole("button", { name: "Open report" }).click()]);
    await report.waitForLoadState();
    assert.equal(report.url(), "https://example.org/report");
    await report.close();
  });

  let textId = "";

  it("sends text; ticks go sent → read when the bot acks", async () => {
    const input = page.locator(".composer-input");
    await input.fill("hello bot, how are you?");
    await input.press("Enter");
    const f = await bot.push(LONG);
    textId = f.data.message_id;
    assert.equal(Buffer.from(f.data.data, "base64").toString(), "hello bot, how are you?");
    assert.equal(f.data.user_id, alice.userId);
    await row(textId).and(page.locator('[data-status="SENT"]')).waitFor({ timeout: LONG });
    await bot.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: textId, status: "DELIVERED" });
    await row(textId).and(page.locator('[data-status="DELIVERED"]')).waitFor({ timeout: LONG });
    await bot.request("ACKNOWLEDGE_MESSAGE_RECEIPT", { message_id: textId, status: "READ" });
    await row(textId).locator(".tick.read").waitFor({ timeout: LONG });
    assert.equal(await row(textId).getAttribute("data-status"), "READ");
  });

  const picture = png(120, 80, [230, 80, 60], [250, 200, 60]);

  it("sends an image through /attachments; the bot gets the same bytes; read tick", async () => {
    await page.getByTestId("file-input").setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: picture });
    const f = await botReceive();
    assert.equal(f.data.category, "PLAIN_IMAGE");
    const p = JSON.parse(Buffer.from(f.data.data, "base64").toString());
    assert.equal(p.mime_type, "image/png");
    assert.equal(p.width, 120);
    assert.equal(p.height, 80);
    assert.equal(p.size, picture.length);
    assert.ok(typeof p.thumbnail === "string" && p.thumbnail.length > 20, "a thumbnail is attached");
    const a = await h.http(botUser, "GET", `/attachments/${p.attachment_id}`);
    const bytes = Buffer.from(await (await fetch(a.body.data.view_url)).arrayBuffer());
    assert.ok(bytes.equals(picture), "uploaded bytes arrive unchanged");
    const r = row(f.data.message_id);
    await r.and(page.locator('[data-status="READ"]')).waitFor({ timeout: LONG });
    await r.locator("img.image-full.loaded").waitFor({ timeout: LONG });
    assert.equal(await r.locator("img.image-full").evaluate((img: HTMLImageElement) => img.naturalWidth), 120);
    await screenshot(page, "04-sent-text-and-image");
  });

  it("renders every category, sanitises posts, quotes and recalls", async () => {
    const bob = await h.user("Bob Builder");
    const photo = png(640, 400, [40, 160, 120], [30, 60, 200]);
    const photoAtt = await botUpload(photo);
    const fileAtt = await botUpload(Buffer.from("name,score\nalice,10\n"));
    const ids: Record<string, string> = {};
    ids.PLAIN_POST = await botSend(
      "PLAIN_POST",
      '# Release notes\n\n**Bold** and _italic_, `code`, a [link](https://example.org/notes).\n\n- one\n- two\n\n<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>[bad](javascript:window.__xss=3)',
    );
    ids.PLAIN_IMAGE = await botSend("PLAIN_IMAGE", { attachment_id: photoAtt.attachment_id, mime_type: "image/png", width: 640, height: 400, size: photo.length, caption: "A view" });
    ids.PLAIN_DATA = await botSend("PLAIN_DATA", { attachment_id: fileAtt.attachment_id, mime_type: "text/csv", size: 20, name: "scores.csv" });
    ids.PLAIN_VIDEO = await botSend("PLAIN_VIDEO", { attachment_id: photoAtt.attachment_id, mime_type: "video/mp4", width: 640, height: 360, size: 1000, duration: 65000 });
    ids.PLAIN_AUDIO = await botSend("PLAIN_AUDIO", { attachment_id: photoAtt.attachment_id, mime_type: "audio/ogg", size: 100, duration: 4000, waveform: Buffer.from([10, 80, 200, 255, 120, 40, 90, 180]).toString("base64") });
    ids.PLAIN_STICKER = await botSend("PLAIN_STICKER", { sticker_id: newUuid() });
    ids.PLAIN_CONTACT = await botSend("PLAIN_CONTACT", { user_id: bob.userId });
    ids.PLAIN_LIVE = await botSend("PLAIN_LIVE", { width: 640, height: 360, thumb_url: "https://example.org/live.png", url: "https://example.org/live.m3u8" });
    ids.PLAIN_LOCATION = await botSend("PLAIN_LOCATION", { latitude: 31.2304, longitude: 121.4737, name: "The Bund", address: "Zhongshan East 1st Rd, Shanghai" });
    ids.PLAIN_TRANSCRIPT = await botSend("PLAIN_TRANSCRIPT", [{ user_full_name: "Alice", category: "PLAIN_TEXT", content: "earlier words" }]);
    ids.QUOTE = await botSend("PLAIN_TEXT", "Replying to your question: all good!", { quote_message_id: textId });
    ids.MESSAGE_PIN = await botSend("MESSAGE_PIN", { action: "PIN", message_ids: [textId] });
    const doomed = await botSend("PLAIN_TEXT", "this will be recalled");
    await row(doomed).waitFor({ timeout: LONG });
    await botSend("MESSAGE_RECALL", { message_id: doomed });
    await row(doomed).locator(".recalled").waitFor({ timeout: LONG });

    for (const [name, id] of Object.entries(ids)) await row(id).waitFor({ timeout: LONG, state: "attached" }).catch(() => assert.fail(`${name} not shown`));

    const post = row(ids.PLAIN_POST).locator(".post");
    assert.equal(await post.locator("h1").textContent(), "Release notes");
    assert.equal(await post.locator("strong").textContent(), "Bold");
    assert.equal(await post.locator('a[href="https://example.org/notes"]').getAttribute("rel"), "noopener noreferrer nofollow");
    assert.equal(await post.locator("script, [onerror]").count(), 0);
    assert.equal(await post.locator('a[href^="javascript"]').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);

    await row(ids.PLAIN_IMAGE).locator("img.image-full.loaded").waitFor({ timeout: LONG });
    assert.equal(await row(ids.PLAIN_IMAGE).locator("figcaption").textContent(), "A view");
    assert.equal(await row(ids.PLAIN_DATA).locator(".file-name").textContent(), "scores.csv");
    await row(ids.PLAIN_DATA).locator("a.file-download").waitFor();
    const href = await row(ids.PLAIN_DATA).locator("a.file-download").getAttribute("href");
    assert.equal(href, (await h.http(alice, "GET", `/attachments/${fileAtt.attachment_id}`)).body.data.view_url);
    assert.equal(await row(ids.PLAIN_DATA).locator("a.file-download").getAttribute("download"), "scores.csv");
    await row(ids.PLAIN_VIDEO).locator("video").waitFor({ state: "attached" });
    assert.match((await row(ids.PLAIN_VIDEO).locator(".media-meta").textContent())!, /1:05/);
    assert.equal(await row(ids.PLAIN_AUDIO).locator(".waveform rect").count(), 8);
    await row(ids.PLAIN_STICKER).locator(".sticker").waitFor();
    await row(ids.PLAIN_CONTACT).getByText("Bob Builder").waitFor({ timeout: LONG });
    assert.equal(await row(ids.PLAIN_LIVE).locator("a.live").getAttribute("href"), "https://example.org/live.m3u8");
    assert.equal(await row(ids.PLAIN_LOCATION).locator(".location-name").textContent(), "The Bund");
    assert.match((await row(ids.PLAIN_LOCATION).locator("a.location").getAttribute("href"))!, /openstreetmap\.org\/\?mlat=31\.2304&mlon=121\.4737/);
    await row(ids.PLAIN_TRANSCRIPT).getByText("earlier words").waitFor();
    assert.equal(await row(ids.QUOTE).locator(".quote-text").textContent(), "hello bot, how are you?");
    assert.match((await row(ids.MESSAGE_PIN).textContent())!, /pinned a message/);
    await screenshot(page, "05b-every-category-end");
    await row(ids.PLAIN_POST).evaluate((el) => el.scrollIntoView({ block: "start" }));
    await screenshot(page, "05a-every-category-start");

    // Full view of an image, with a download link.
    await row(ids.PLAIN_IMAGE).getByRole("button", { name: "Open image" }).click();
    const box = page.locator(".lightbox");
    await box.locator("img").evaluate((img: HTMLImageElement) => img.complete || new Promise((r) => (img.onload = r)));
    assert.equal(await box.locator("img").evaluate((img: HTMLImageElement) => img.naturalWidth), 640);
    await screenshot(page, "06-image-full-view");
    await box.getByRole("button", { name: "Close" }).click();
    await box.waitFor({ state: "detached" });
  });

  it("starts a chat by user id, creates a group and manages its members", async () => {
    const bob = await h.user("Bob");
    const carol = await h.user("Carol");
    const bobSocket = await h.socket(bob);
    const carolSocket = await h.socket(carol);
    await bobSocket.request("LIST_PENDING_MESSAGES");
    await carolSocket.request("LIST_PENDING_MESSAGES");

    await page.getByRole("button", { name: "+ New chat" }).click();
    await page.locator('input[name="user-id"]').fill(bob.userId);
    await page.getByRole("button", { name: "Start chat" }).click();
    await page.locator(".thread-title h1", { hasText: "Bob" }).waitFor();
    await page.locator(".composer-input").fill("hi Bob");
    await page.locator(".composer-input").press("Enter");
    const dm = await bobSocket.push(LONG);
    assert.equal(dm.data.conversation_id, uniqueConversationId(alice.userId, bob.userId));
    assert.equal(Buffer.from(dm.data.data, "base64").toString(), "hi Bob");

    await page.getByRole("button", { name: "+ New group" }).click();
    const dialog = page.getByRole("dialog", { name: "New group" });
    await dialog.locator('input[name="group-name"]').fill("Team");
    await dialog.locator(".picker-item", { hasText: "Bob" }).locator("input").check();
    await dialog.locator('textarea[name="member-ids"]').fill(carol.userId);
    await dialog.getByRole("button", { name: "Create group" }).click();
    await page.locator(".thread-title h1", { hasText: "Team" }).waitFor();
    const created = await carolSocket.push(LONG);
    assert.equal(created.data.category, "SYSTEM_CONVERSATION");
    const group = created.data.conversation_id;
    assert.equal(JSON.parse(Buffer.from(created.data.data, "base64").toString()).action, "CREATE");
    await bobSocket.push(LONG);
    await page.locator(".thread-subtitle", { hasText: "3 members" }).waitFor();

    await page.locator(".composer-input").fill("hello team");
    await page.locator(".composer-input").press("Enter");
    for (const s of [bobSocket, carolSocket]) {
      const m = await s.push(LONG);
      assert.equal(m.data.conversation_id, group);
      assert.equal(Buffer.from(m.data.data, "base64").toString(), "hello team");
    }

    await page.getByRole("button", { name: "Members" }).click();
    const members = page.getByRole("dialog", { name: "Group" });
    await members.locator(`li[data-user-id="${carol.userId}"]`).getByRole("button", { name: "Remove" }).click();
    await members.locator(`li[data-user-id="${carol.userId}"]`).waitFor({ state: "detached" });
    const removed = await carolSocket.push(LONG);
    assert.equal(JSON.parse(Buffer.from(removed.data.data, "base64").toString()).action, "REMOVE");
    await members.locator(`li[data-user-id="${bob.userId}"]`).getByRole("button", { name: "Make admin" }).click();
    await members.locator(`li[data-user-id="${bob.userId}"] .role`, { hasText: "admin" }).waitFor();
    await members.locator('textarea[name="member-ids"]').fill(carol.userId);
    await members.getByRole("button", { name: "Add", exact: true }).click();
    await members.locator(`li[data-user-id="${carol.userId}"]`).waitFor();
    const added = await carolSocket.next((f) => f.action === "CREATE_MESSAGE" && f.data?.category === "SYSTEM_CONVERSATION" && JSON.parse(Buffer.from(f.data.data, "base64").toString()).action === "ADD", LONG);
    assert.equal(added.data.conversation_id, group);
    await screenshot(page, "07-group-members");
    await members.getByRole("button", { name: "Close" }).click();
    // The system lines render in the thread.
    await page.locator(".system", { hasText: "You removed Carol" }).waitFor({ timeout: LONG });
    await page.locator(".system", { hasText: "You added Carol" }).waitFor({ timeout: LONG });
    bobSocket.close();
    carolSocket.close();
  });

  it("keeps the account and history across a reload, and forgets both on sign-out", async () => {
    await page.reload();
    await page.locator('.connection[data-state="online"]').waitFor({ timeout: LONG });
    await page.locator(`.conversation[data-conversation-id="${conv}"]`).click();
    await row(textId).locator(".tick.read").waitFor({ timeout: LONG });
    // A phone-sized window shows one pane at a time.
    await page.setViewportSize({ width: 400, height: 780 });
    assert.equal(await page.locator(".sidebar").isVisible(), false);
    await screenshot(page, "09-narrow-thread");
    await page.getByRole("button", { name: "Back to conversations" }).click();
    await page.locator(".sidebar").waitFor();
    assert.equal(await page.locator(".thread").isVisible(), false);
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.getByRole("button", { name: "Account menu" }).click();
    await page.getByRole("menuitem", { name: "Sign out" }).click();
    await page.locator("#keystore").waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem("openblaze.keystore")), null);
    assert.deepEqual(pageErrors, []);
  });
});

describe("web chat sign-up in dev mode", () => {
  let h: Harness;
  let browser: Browser;

  before(async () => {
    h = await Harness.start({ webDir: WEB_DIR, dev: true });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it("creates an account whose private key never leaves the browser", async () => {
    const context = await newContext(browser, h.httpUrl);
    const page = await context.newPage();
    const bodies: string[] = [];
    page.on("request", (r) => r.url().endsWith("/dev/signup") && bodies.push(r.postData() ?? ""));
    await page.goto(h.httpUrl + "/");
    await page.locator('input[name="full-name"]').fill("Dora Dev");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.locator('.connection[data-state="online"]').waitFor({ timeout: LONG });
    assert.equal(await page.locator(".me-name").textContent(), "Dora Dev");
    const keystore = JSON.parse((await page.evaluate(() => localStorage.getItem("openblaze.keystore")))!);
    assert.match(keystore.session_private_key, /^[0-9a-f]{64}$/);
    assert.equal(bodies.length, 1);
    const sent = JSON.parse(bodies[0]!);
    assert.deepEqual(Object.keys(sent).sort(), ["full_name", "session_secret"]);
    assert.ok(!bodies[0]!.includes(keystore.session_private_key));
    // The server knows the account.
    const someone = await h.user("someone");
    const found = await h.http(someone, "GET", `/users/${keystore.app_id}`);
    assert.equal(found.body.data.full_name, "Dora Dev");
    await screenshot(page, "08-dev-signup");
    await context.close();
  });

  it("is not offered when the server is not in dev mode", async () => {
    const plain = await Harness.start({ webDir: WEB_DIR });
    const context = await newContext(browser, plain.httpUrl);
    try {
      const page = await context.newPage();
      await page.goto(plain.httpUrl + "/");
      await page.locator("#keystore").waitFor();
      assert.equal(await page.locator('input[name="full-name"]').count(), 0);
    } finally {
      await context.close();
      await plain.close();
    }
  });
});
