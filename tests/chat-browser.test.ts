/**
 * The chat example's page in headless Chromium (Debian's `chromium`, driven by
 * playwright-core), on switchboard/client, which the chat server serves as one
 * file. Three chats, one browser:
 * - two pages in one room chat both ways (multi-line text, links as anchors,
 *   markup as text), see each other in the user list and typing; one page is
 *   cut and kept offline while the other talks: it marks the gap, queues what
 *   it sends meanwhile, and after the client's own reconnect (with `resume`)
 *   shows what it missed exactly once; cut again while the room's log starts
 *   over (a new epoch), the client reports a resync and the page shows the
 *   room's latest in place of what it showed. It lists the rooms from the
 *   lobby and switches between them. Back within the presence grace each time,
 *   it was never announced as gone;
 * - at 600 px wide the user list stays in view, and a message past the rate
 *   limit stays in the input with the reason;
 * - a flood of acknowledged sends cut in the middle (by the page, then by the
 *   server) shows the sent sequence exactly once each.
 * Saves screenshots to .test-results/screenshots/ (chat.png, chat-600.png) on
 * every run; with UPDATE_SCREENSHOTS=1 it also replaces tests/screenshots/,
 * which the README shows (so an ordinary test run leaves the work tree clean).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rename } from "node:fs/promises";
import process from "node:process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type ChatOptions, startChat } from "../examples/chat.ts";
import { runtime, within } from "./helpers/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT_DIR = fileURLToPath(new URL("../.test-results/screenshots/", import.meta.url));
const README_SCREENSHOT_DIR = fileURLToPath(new URL("./screenshots/", import.meta.url));
const PAGE_FILE = new URL("../examples/chat/index.html", import.meta.url);
const ROOM = "browser-test";
const THIS_FILE = fileURLToPath(import.meta.url);
/** `deno run -A tests/chat-browser.test.ts --scenario` runs the scenario as a program (see the test). */
const SCENARIO_FLAG = "--scenario";
/** The whole scenario's bound; the Deno child gets a little less, so that its own output is shown. */
const TEST_TIMEOUT_MS = 120_000;
const noChromium = !existsSync(CHROMIUM) &&
  `Chromium is not installed at ${CHROMIUM} (CI installs Debian's chromium through .ci/run)`;

/** The part of switchboard/client's object the test uses in the page. */
interface PageClient {
  readonly state: string;
  readonly positions: ReadonlyMap<string, { epoch: string; id: number }>;
  send(data: unknown, options?: { ack: true }): Promise<void> | boolean;
}

interface WelcomeRoom {
  resumed: boolean;
  epoch: string;
  id: number;
  messages: { id: number; text: string }[];
}

/** What the page exposes for tests on `globalThis.__chat`. */
interface ChatDebug {
  readonly status: string;
  readonly room: string;
  readonly connectionId: string | null;
  readonly lastWelcome: { rooms: Record<string, WelcomeRoom> } | null;
  readonly client: PageClient;
  dropConnection(): void;
}

// The callbacks passed to page.evaluate run in the page, where globalThis is the window.
declare global {
  var __chat: ChatDebug;
  var __pwned: unknown;
  var __flood: Promise<void>[];
}

interface Shown {
  id: number;
  username: string;
  text: string;
}

/** The chat messages a page shows, in order, from the DOM. */
function shownMessages(page: Page): Promise<Shown[]> {
  return page.$$eval("#messages li[data-id]", (items) =>
    items.map((item) => ({
      id: Number((item as HTMLElement).dataset.id),
      username: item.querySelector("strong")!.textContent ?? "",
      text: item.querySelector("p")!.textContent ?? "",
    })));
}

/** The event lines a page shows ("Ada joined", "Guest-XXXX is now Ada"), in order; not the offline markers. */
function shownEvents(page: Page): Promise<string[]> {
  return page.$$eval("#messages li.event:not(.offline)", (items) => items.map((item) => item.textContent ?? ""));
}

/** Every line of the conversation, in order: a message's text, or an event's (offline markers included). */
function conversation(page: Page): Promise<string[]> {
  return page.$$eval("#messages li", (items) =>
    items.map((item) => item.querySelector("p")?.textContent ?? `[${item.textContent}]`));
}

function connected(page: Page): Promise<unknown> {
  return page.waitForFunction(() => globalThis.__chat?.status === "connected");
}

async function setName(page: Page, name: string): Promise<void> {
  await page.fill("#username", name);
  await page.press("#username", "Enter");
  await page.waitForFunction((n) => document.getElementById("status")!.textContent === `Connected as ${n}`, name);
}

/** Types and sends `text`; resolves once the server acknowledged it (the input is empty again). */
async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await inputEmptied(page);
}

function inputEmptied(page: Page): Promise<unknown> {
  return page.waitForFunction(() => (document.getElementById("text") as HTMLTextAreaElement).value === "");
}

/** Waits until the page shows a message with this text, and returns it. */
async function waitForMessage(page: Page, text: string): Promise<Shown> {
  await page.waitForFunction(
    (t) => Array.from(document.querySelectorAll("#messages li[data-id] p")).some((p) => p.textContent === t),
    text,
  );
  return (await shownMessages(page)).find((m) => m.text === text)!;
}

function inUserList(page: Page, name: string) {
  return page.locator("#users").getByText(name, { exact: true });
}

/** The rooms the page lists, as "name:count", in order. */
function listedRooms(page: Page): Promise<string[]> {
  return page.$$eval("#rooms li", (items) =>
    items.map((item) => `${item.querySelector("a")!.dataset.room}:${item.querySelector(".count")!.textContent}`));
}

/** Saves `name` to .test-results/screenshots/, and to tests/screenshots/ with UPDATE_SCREENSHOTS=1. */
async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${name}`;
  const partial = path.replace(/\.png$/, ".tmp.png");
  await page.screenshot({ path: partial });
  await rename(partial, path);
  if (process.env.UPDATE_SCREENSHOTS === "1") await copyFile(path, `${README_SCREENSHOT_DIR}${name}`);
}

/** A browser, the pages it opened and the script errors they had. */
class Pages {
  readonly errors: string[] = [];
  /** The WebSocket URLs each page opened, in order. */
  readonly sockets = new Map<Page, string[]>();
  readonly browser: Browser;
  constructor(browser: Browser) {
    this.browser = browser;
  }

  /** One context each, so that one can go offline alone. */
  async open(url: string, viewport = { width: 960, height: 600 }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({ viewport });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => this.errors.push(error.message));
    const sockets: string[] = [];
    this.sockets.set(page, sockets);
    page.on("websocket", (socket) => sockets.push(socket.url()));
    await page.goto(url);
    await connected(page);
    return { context, page };
  }

  /** The URLs of the page's connections to a chat room (not the lobby). */
  chatSockets(page: Page): URL[] {
    return this.sockets.get(page)!.map((url) => new URL(url)).filter((url) => url.pathname.startsWith("/chat"));
  }
}

/** A chat server for one part of the scenario; stopped by the caller. */
function chatServer(options: ChatOptions = {}) {
  // A grace longer than any reconnect here: a page back within it is announced neither as gone
  // nor as back (the default is 5 s; the client's backoff while offline can come close to it).
  return startChat({ port: 0, hostname: "127.0.0.1", presenceGrace: 30_000, ...options });
}

/**
 * The whole scenario: servers, a browser, the checks, the screenshots.
 * Throws on the first failed check; cleans up either way.
 */
async function scenario(): Promise<void> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const pages = new Pages(browser);
    await pageSource();
    await twoPagesInOneRoom(pages);
    await narrowAndRateLimited(pages);
    await floodCutInTheMiddle(pages);
    assert.deepEqual(pages.errors, [], "no script errors on the pages");
  } finally {
    await browser.close();
  }
}

/** The page keeps no connection logic of its own: it imports the client, which the server serves. */
async function pageSource(): Promise<void> {
  const source = await readFile(PAGE_FILE, "utf8");
  assert.match(source, /import \{ connect \} from "\/switchboard-client\.js";/);
  // Code, not words: the page's comments may well say what the client does.
  for (const own of [/new WebSocket\(/, /\.onclose\b|"close"/, /Math\.random\(/, /setTimeout\(connect/, /searchParams\.set\("(since|epoch|resume)"/]) {
    assert.ok(!own.test(source), `no reconnect, backoff or resume code in the page: ${own} matches ${source.match(own)?.[0]}`);
  }
  assert.ok(!/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/.test(source), "no HTML built from strings");
}

/** Two pages chat; one is cut twice; rooms are listed and switched. */
async function twoPagesInOneRoom(pages: Pages): Promise<void> {
  const { server, chat } = await chatServer();
  try {
    const { context: contextA, page: ada } = await pages.open(`${server.url}/?room=${ROOM}`);
    const { page: grace } = await pages.open(`${server.url}/?room=${ROOM}`);
    assert.equal(await ada.textContent("#room"), `#${ROOM}`);

    // The client is switchboard/client, served by the chat server.
    const script = await fetch(`${server.url}/switchboard-client.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.match(await script.text(), /export\s*\{[^}]*\bconnect\b/);
    assert.equal(await ada.evaluate(() => globalThis.__chat.client.state), "open");
    // The favicon: an inline SVG that loads.
    assert.equal(
      await ada.evaluate(async () => {
        const link = document.querySelector<HTMLLinkElement>('link[rel="icon"]')!;
        const image = new Image();
        image.src = link.href;
        await image.decode();
        return `${link.href.slice(0, 19)} ${image.naturalWidth > 0}`;
      }),
      "data:image/svg+xml, true",
    );

    // Names, and each in the other's user list.
    await setName(ada, "Ada");
    await setName(grace, "Grace");
    await inUserList(ada, "Grace").waitFor();
    await inUserList(grace, "Ada").waitFor();
    assert.equal(await ada.textContent("#user-count"), "2");
    const gracesEvents = await shownEvents(grace);

    // Typing, then chatting both ways.
    await ada.fill("#text", "Hello Grace");
    await grace.waitForFunction(() => document.getElementById("typing")!.textContent === "Ada is typing…");
    await ada.press("#text", "Enter");
    await waitForMessage(grace, "Hello Grace");
    await grace.waitForFunction(() => document.getElementById("typing")!.textContent === "", undefined, { timeout: 1_000 });
    await grace.fill("#text", "Hi Ada!");
    await ada.waitForFunction(() => document.getElementById("typing")!.textContent === "Grace is typing…");
    await grace.press("#text", "Enter");
    const reply = await waitForMessage(ada, "Hi Ada!");
    assert.equal(reply.username, "Grace");
    await waitForMessage(grace, "Hi Ada!");
    assert.deepEqual(await shownMessages(ada), await shownMessages(grace), "both pages show the same conversation");

    // Shift+Enter is a new line, Enter sends; a URL is a link, and markup stays text.
    const link = "https://example.org/a?b=1&c=2";
    const attack = `<img src=x onerror="globalThis.__pwned=1"><b>bold?</b>`;
    await grace.fill("#text", "Two lines:");
    await grace.press("#text", "Shift+Enter");
    await grace.locator("#text").pressSequentially(`see ${link}. ${attack}`);
    const multiLine = `Two lines:\nsee ${link}. ${attack}`;
    assert.equal(await grace.inputValue("#text"), multiLine, "Shift+Enter made a new line and sent nothing");
    await grace.press("#text", "Enter");
    await inputEmptied(grace);
    assert.equal((await waitForMessage(ada, multiLine)).text, multiLine);
    const anchors = await ada.$$eval("#messages li[data-id] p a", (items) =>
      items.map((a) => ({ href: a.getAttribute("href"), text: a.textContent, target: a.getAttribute("target"), rel: a.getAttribute("rel") })));
    assert.deepEqual(anchors, [{ href: link, text: link, target: "_blank", rel: "noopener noreferrer" }]);
    assert.equal(await ada.locator("#messages img, #messages b").count(), 0);
    assert.equal(await ada.evaluate(() => globalThis.__pwned), undefined);
    const rendered = await ada.locator("#messages li[data-id] p", { hasText: "Two lines:" }).evaluate((p) => (p as HTMLElement).innerText);
    assert.equal(rendered.split("\n")[0], "Two lines:", "rendered on two lines");

    // The rooms, from the lobby: this one, with both.
    await ada.waitForFunction((room) => document.querySelector(`#rooms a[data-room="${room}"] + .count`)?.textContent === "2", ROOM);
    assert.equal(await ada.getAttribute(`#rooms a[data-room="${ROOM}"]`, "aria-current"), "page");

    // Cut Ada's connection and keep her offline while Grace talks. (Going offline alone
    // does not close an open WebSocket in Chromium, measured; it stops new ones.)
    const firstConnection = await ada.evaluate(() => globalThis.__chat.connectionId);
    const socketsBefore = pages.chatSockets(ada).length;
    await contextA.setOffline(true);
    await ada.evaluate(() => globalThis.__chat.dropConnection());
    await ada.waitForFunction(() => globalThis.__chat.status === "reconnecting");
    await ada.waitForFunction(() => /^(Offline\. )?Reconnecting/.test(document.getElementById("status")!.textContent!));
    const marker = ada.locator("#messages li.event.offline");
    assert.match((await marker.textContent())!, /^Offline since \d\d?:\d\d\b.*, reconnecting…$/);
    const missed: Shown[] = [];
    for (const text of ["Are you there?", "You missed this", "And this"]) {
      await say(grace, text);
      missed.push(await waitForMessage(grace, text));
    }
    // What Ada sends meanwhile is queued, and stays in her input, marked, until the server has it.
    await ada.fill("#text", "Sent while offline");
    await ada.press("#text", "Enter");
    await ada.waitForSelector('#composer[data-pending="queued"]');
    assert.equal(await ada.inputValue("#text"), "Sent while offline");
    assert.equal(await ada.textContent("#send"), "Queued");
    const whileAway = (await shownMessages(ada)).map((m) => m.text);
    assert.ok(missed.every((m) => !whileAway.includes(m.text)), "Ada saw nothing while cut off");
    assert.equal(await ada.evaluate(() => globalThis.__chat.status), "reconnecting");

    // Back online: the client reconnects by itself, with `resume`, and the page shows each missed
    // message once, after the marker, and then the queued one, which leaves the input.
    await contextA.setOffline(false);
    await connected(ada);
    await waitForMessage(ada, "Sent while offline");
    await inputEmptied(ada);
    assert.equal(await ada.locator("#composer[data-pending]").count(), 0);
    assert.match((await marker.textContent())!, /^Offline \d\d?:\d\d\b.*–\d\d?:\d\d\b.* · Back online$/);
    const welcome = (await ada.evaluate(() => globalThis.__chat.lastWelcome))!.rooms[ROOM]!;
    assert.equal(welcome.resumed, true, "resumed from the last message seen");
    assert.deepEqual(welcome.messages.map((m) => m.id), missed.map((m) => m.id), "exactly the missed messages");
    assert.notEqual(await ada.evaluate(() => globalThis.__chat.connectionId), firstConnection);
    const reconnects = pages.chatSockets(ada).slice(socketsBefore);
    assert.ok(reconnects.length >= 1);
    for (const url of reconnects) {
      assert.deepEqual(JSON.parse(url.searchParams.get("resume")!), { [ROOM]: [welcome.epoch, missed[0]!.id - 1] }, "the client resumes from the last message shown");
      assert.equal(url.searchParams.get("username"), "Ada");
      assert.match(url.searchParams.get("session")!, /^[A-Za-z0-9_-]{16,64}$/);
    }
    const lines = await conversation(ada);
    const markerAt = lines.findIndex((line) => line.includes("Back online"));
    assert.deepEqual(lines.slice(markerAt + 1), [...missed.map((m) => m.text), "Sent while offline"], "the gap is marked where it was");
    const shownByAda = await shownMessages(ada);
    assert.equal(new Set(shownByAda.map((m) => m.id)).size, shownByAda.length, "no message shown twice");
    await waitForMessage(grace, "Sent while offline");
    assert.deepEqual(shownByAda, await shownMessages(grace), "Ada's page caught up with Grace's");
    assert.equal(shownByAda.length, 7);
    assert.equal(chat.room(ROOM).size, 2);
    await inUserList(grace, "Ada").waitFor();
    assert.equal(await grace.textContent("#user-count"), "2", "Ada was listed all along, once");
    assert.deepEqual(await shownEvents(grace), gracesEvents, "no 'Ada left', 'joined' or 'is now' on Grace's page");

    // The picture for the README: Grace typing on Ada's page.
    await say(ada, "Back, the page caught up by itself: https://example.org/switchboard");
    await waitForMessage(grace, "Back, the page caught up by itself: https://example.org/switchboard");
    await grace.fill("#text", "Welcome back");
    await ada.waitForFunction(() => document.getElementById("typing")!.textContent === "Grace is typing…");
    await screenshot(ada, "chat.png");
    await grace.fill("#text", "");

    // The room's log starts over while Ada is away, as after a restart or a failover: a new
    // epoch, whose ids start at 1 again and pass the last id she saw. By id alone the server
    // would resume her after it, with the wrong messages; with the epoch the client reports a
    // resync and gets the latest history, and the page shows that instead of what it showed.
    const before = await shownMessages(ada);
    await contextA.setOffline(true);
    await ada.evaluate(() => globalThis.__chat.dropConnection());
    await ada.waitForFunction(() => globalThis.__chat.status === "reconnecting");
    await chat.history.clear(ROOM);
    const restarted: string[] = [];
    for (let i = 1; i <= before.at(-1)!.id + 2; i++) {
      restarted.push(`After the restart ${i}`);
      await say(grace, restarted.at(-1)!);
      // Grace's client, live in the room, is given a message of another epoch: it reconnects to
      // resume, is told of the resync, and her page starts over too.
      await waitForMessage(grace, restarted.at(-1)!);
    }
    await contextA.setOffline(false);
    await connected(ada);
    const fresh = (await ada.evaluate(() => globalThis.__chat.lastWelcome))!.rooms[ROOM]!;
    assert.equal(fresh.resumed, false, "a stale epoch is no resume");
    assert.notEqual(fresh.epoch, welcome.epoch);
    await waitForMessage(ada, restarted.at(-1)!);
    const shownAfter = await shownMessages(ada);
    assert.deepEqual(shownAfter.map((m) => m.text), restarted, "the old view was replaced by the latest history, each message once");
    assert.deepEqual(shownAfter.map((m) => m.id), restarted.map((_, i) => i + 1));
    assert.equal((await conversation(ada))[0], "[Some messages were missed while away: showing the latest]");
    // Two reconnects within the grace, under the same session: Grace's page told of neither.
    const resynced = ["Some messages were missed while away: showing the latest"];
    assert.deepEqual(await shownEvents(grace), resynced, "no 'Ada left', 'joined' or 'is now' on Grace's page");
    assert.deepEqual(await shownMessages(grace), shownAfter);

    // Another room, by name: a new connection, its own conversation, and the lobby lists both.
    await ada.fill("#new-room", "side-room");
    await ada.press("#new-room", "Enter");
    await ada.waitForFunction(() => globalThis.__chat.room === "side-room" && globalThis.__chat.status === "connected");
    assert.equal(new URL(ada.url()).searchParams.get("room"), "side-room");
    assert.equal(await ada.textContent("#room"), "#side-room");
    assert.deepEqual(await shownMessages(ada), [], "nothing of the other room");
    await inUserList(ada, "Ada").waitFor(); // asked for by name: her name goes with her
    await say(ada, "Only in the side room");
    await waitForMessage(ada, "Only in the side room");
    await ada.waitForFunction(() => document.querySelector('#rooms a[data-room="side-room"] + .count')?.textContent === "1");
    assert.equal(await ada.getAttribute('#rooms a[data-room="side-room"]', "aria-current"), "page");
    assert.ok((await listedRooms(ada)).includes(`${ROOM}:2`), "the first room is listed too (Ada is in its grace)");
    await say(grace, "Back in the first room");
    // And back through the list: the first room's latest, without the side room's message.
    await ada.click(`#rooms a[data-room="${ROOM}"]`);
    await ada.waitForFunction((room) => globalThis.__chat.room === room && globalThis.__chat.status === "connected", ROOM);
    await waitForMessage(ada, "Back in the first room");
    assert.deepEqual((await shownMessages(ada)).map((m) => m.text), [...restarted, "Back in the first room"]);
    // The browser's back button returns to the side room.
    await ada.goBack();
    await ada.waitForFunction(() => globalThis.__chat.room === "side-room" && globalThis.__chat.status === "connected");
    await waitForMessage(ada, "Only in the side room");
    assert.deepEqual((await shownMessages(ada)).map((m) => m.text), ["Only in the side room"]);
    assert.deepEqual(await shownEvents(grace), resynced, "switching rooms within the grace is no leave on Grace's page");
  } finally {
    await server.stop();
  }
}

/** At 600 px the user list stays in view; a message past the rate limit stays in the input, with the reason. */
async function narrowAndRateLimited(pages: Pages): Promise<void> {
  const { server } = await chatServer({ limits: { chat: { messages: 2, windowMs: 60_000 } } });
  try {
    const viewport = { width: 600, height: 800 };
    const { page } = await pages.open(`${server.url}/?room=narrow`, viewport);
    await setName(page, "Linus");
    const me = page.locator("#users li.me");
    await me.waitFor();
    assert.ok(await me.isVisible(), "the user list is shown below 640 px");
    const box = (await me.boundingBox())!;
    assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height, `the user list is in view: ${JSON.stringify(box)}`);
    const composer = (await page.locator("#composer").boundingBox())!;
    assert.ok(composer.y + composer.height <= viewport.height, "the composer too");
    assert.ok(box.y < composer.y, "the users above the conversation");

    await say(page, "One");
    await say(page, "Two, on a narrow screen: the user list sits above the conversation");
    await page.fill("#text", "Three is one too many");
    await page.press("#text", "Enter");
    await page.waitForFunction(() => document.getElementById("notice")!.textContent!.startsWith("Not sent"));
    assert.match((await page.textContent("#notice"))!, /^Not sent: Cannot send message as the limit is 2 messages in 60 s/);
    assert.equal(await page.inputValue("#text"), "Three is one too many", "the refused text stays in the input");
    assert.equal(await page.locator("#composer[data-pending]").count(), 0);
    assert.equal(await page.locator("#text").evaluate((text) => (text as HTMLTextAreaElement).readOnly), false, "and can be edited");
    assert.equal(await page.textContent("#send"), "Send");
    assert.deepEqual((await shownMessages(page)).map((m) => m.text), ["One", "Two, on a narrow screen: the user list sits above the conversation"]);
    await screenshot(page, "chat-600.png");
    await page.close();
  } finally {
    await server.stop();
  }
}

/**
 * Acknowledged sends cut in the middle: once by the page (its socket closed with frames in
 * flight), once by the server (the connection terminated). The client re-sends what was not
 * acknowledged, the server records each key once, and the page shows the sent sequence, once each.
 */
async function floodCutInTheMiddle(pages: Pages): Promise<void> {
  const { server, chat } = await chatServer({
    limits: { chat: { messages: 200, windowMs: 10_000 } },
    addressLimits: { chat: { messages: 200, windowMs: 10_000 } },
  });
  try {
    const room = "flood";
    const { page } = await pages.open(`${server.url}/?room=${room}`);
    const sent: string[] = [];
    const flood = (from: number, to: number) => {
      for (let i = from; i <= to; i++) sent.push(`Flood ${i}`);
      return page.evaluate(([from, to]) => {
        globalThis.__flood ??= [];
        for (let i = from!; i <= to!; i++) {
          globalThis.__flood.push(globalThis.__chat.client.send({ type: "chat", text: `Flood ${i}` }, { ack: true }) as Promise<void>);
        }
      }, [from, to]);
    };
    // Cut by the page, between two sends.
    await flood(1, 10);
    await page.evaluate(() => globalThis.__chat.dropConnection());
    await flood(11, 20);
    await connected(page);
    // Cut by the server, while the frames are on their way.
    await flood(21, 30);
    for (const conn of chat.room(room)) conn.terminate();
    await flood(31, 40);
    const outcomes = await page.evaluate(() =>
      Promise.allSettled(globalThis.__flood).then((results) => results.map((r) => r.status === "fulfilled" ? "ok" : String(r.reason))));
    assert.deepEqual(outcomes, sent.map(() => "ok"), "every send acknowledged");
    await connected(page);
    await waitForMessage(page, "Flood 40");
    const shown = await shownMessages(page);
    assert.deepEqual(shown.map((m) => m.text), sent, "the sent sequence, once each");
    assert.deepEqual(shown.map((m) => m.id), sent.map((_, i) => i + 1));
    assert.equal(await chat.history.count(room), sent.length, "recorded once each");
    await page.close();
  } finally {
    await server.stop();
  }
}

/** Whether playwright-core loads here: under `deno test` with per-kind flags it cannot (see below). */
async function playwrightLoads(): Promise<boolean> {
  try {
    await import("playwright-core");
    return true;
  } catch (error) {
    if (error instanceof Error && (error.name === "NotCapable" || error.name === "PermissionDenied")) return false;
    throw error;
  }
}

/** Runs the scenario in `deno run -A`: still Deno for the server and the browser driver. */
async function scenarioInDenoChild(): Promise<void> {
  const child = spawn(process.execPath, ["run", "-A", THIS_FILE, SCENARIO_FLAG], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const code = await within(new Promise<number | null>((resolve) => child.on("exit", resolve)), TEST_TIMEOUT_MS - 5_000, "the scenario")
    .finally(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
  assert.equal(code, 0, `the scenario failed under deno run -A:\n${output}`);
}

if (process.argv.includes(SCENARIO_FLAG)) {
  await scenario().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  describe("chat example in a browser", () => {
    test(
      "the page on switchboard/client: two pages chat, a cut page marks the gap and catches up exactly once (or starts over after a new epoch), rooms switch, the narrow layout keeps the users, a refused message stays, a cut flood shows once each",
      { skip: noChromium, timeout: TEST_TIMEOUT_MS },
      async () => {
        if (runtime === "deno" && !(await playwrightLoads())) {
          // `npm test` runs `deno test` with --allow-read etc. rather than -A, and playwright-core
          // reads /proc/sys/fs/binfmt_misc/WSLInterop as it loads, which Deno only allows with
          // -A (measured on 2.9.6). The same scenario then runs in a `deno run -A` child, so the
          // chat server and the browser driver are still Deno's.
          await scenarioInDenoChild();
        } else {
          await scenario();
        }
      },
    );
  });
}
