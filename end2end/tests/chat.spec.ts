import { expect, test } from "@playwright/test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  freePort,
  messageTexts,
  openRoom,
  OwnServer,
  sendViaApi,
  typeAndSend,
  uniqueRoom,
  useName,
} from "./helpers";

test("a message typed in one browser appears in another within a second", async ({ browser }, testInfo) => {
  const room = uniqueRoom("pair");
  const alice = await browser.newContext();
  const bob = await browser.newContext();
  await useName(alice, "alice");
  await useName(bob, "bob");
  const alicePage = await alice.newPage();
  const bobPage = await bob.newPage();
  await openRoom(alicePage, room);
  await openRoom(bobPage, room);

  await typeAndSend(alicePage, "Hi Bob, this is live");
  await expect(messageTexts(bobPage)).toHaveText(["Hi Bob, this is live"], { timeout: 1_000 });
  // Sent messages leave the composer; own messages are marked as such.
  await expect(alicePage.getByRole("textbox", { name: /^Message #/ })).toHaveValue("");
  await expect(alicePage.locator(".message.own")).toHaveCount(1);
  await expect(bobPage.locator(".message.own")).toHaveCount(0);

  await typeAndSend(bobPage, "Hello Alice!\nTwo lines.");
  await expect(messageTexts(alicePage).last()).toHaveText("Hello Alice!\nTwo lines.", { timeout: 1_000 });
  await alicePage.screenshot({ path: testInfo.outputPath("main-view.png") });
  await alice.close();
  await bob.close();
});

test("Shift+Enter makes a new line and an empty message cannot be sent", async ({ page, context }) => {
  const room = uniqueRoom("compose");
  await useName(context, "carol");
  await openRoom(page, room);
  const composer = page.getByRole("textbox", { name: /^Message #/ });
  await expect(page.getByRole("button", { name: "Send" })).toBeDisabled();
  await composer.press("Enter");
  await composer.type("first");
  await composer.press("Shift+Enter");
  await composer.type("second");
  await expect(composer).toHaveValue("first\nsecond");
  await composer.press("Enter");
  await expect(messageTexts(page)).toHaveText(["first\nsecond"]);
});

test("a first-time user picks a name in the composer, sends, and the name is remembered", async ({ page, request }) => {
  const room = uniqueRoom("newcomer");
  await openRoom(page, room);
  await page.getByLabel("Your name").fill("lena");
  await page.getByRole("textbox", { name: /^Message #/ }).fill("hello, I am new");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(messageTexts(page)).toHaveText(["hello, I am new"]);
  await expect(page.locator(".identity strong")).toHaveText("lena");
  const history = await (await request.get(`/api/history?room=${room}`)).json();
  expect(history.messages.map((m: { sender: string }) => m.sender)).toEqual(["lena"]);
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".identity strong")).toHaveText("lena");
});

test("a message in one room never appears in another", async ({ browser, request }) => {
  const roomA = uniqueRoom("iso-a");
  const roomB = uniqueRoom("iso-b");
  const context = await browser.newContext();
  await useName(context, "dana");
  const inA = await context.newPage();
  const inB = await context.newPage();
  await openRoom(inA, roomA);
  await openRoom(inB, roomB);

  await typeAndSend(inA, "only for A");
  await expect(messageTexts(inA)).toHaveText(["only for A"]);
  await sendViaApi(request, roomB, "only for B");
  await expect(messageTexts(inB)).toHaveText(["only for B"]);
  await expect(messageTexts(inA)).toHaveText(["only for A"]);
  await context.close();
});

test("a late joiner gets the history in the server's HTML, then live messages", async ({ page, request }) => {
  const room = uniqueRoom("late");
  await sendViaApi(request, room, "said before you came", "erin");
  const html = await (await request.get(`/room/${room}`)).text();
  expect(html).toContain("said before you came");

  await openRoom(page, room);
  await expect(messageTexts(page)).toHaveText(["said before you came"]);
  await sendViaApi(request, room, "said after you came", "erin");
  await expect(messageTexts(page)).toHaveText(["said before you came", "said after you came"]);
});

test("a message sent with curl-style POST /api/send shows up in the page", async ({ page, request }) => {
  const room = uniqueRoom("curl");
  await openRoom(page, room);
  await sendViaApi(request, room, "from a script", "cron");
  const message = page.locator(".messages .message").filter({ hasText: "from a script" });
  await expect(message.locator(".sender")).toHaveText("cron");
  await expect(message.locator("time")).toHaveText(/^\d\d:\d\d$/);
});

test("HTML and script in a message are shown as text and run nothing", async ({ page, request }) => {
  const room = uniqueRoom("xss");
  const dialogs: string[] = [];
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  const hostile = `<img src=x onerror=alert(1)> <script>alert(2)</script>`;
  await sendViaApi(request, room, hostile, "mallory");
  await openRoom(page, room);
  await sendViaApi(request, room, `${hostile} live`, "mallory");
  await expect(messageTexts(page)).toHaveText([hostile, `${hostile} live`]);
  await expect(page.locator(".messages img, .messages script")).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test("three tabs of one browser stay live together", async ({ context, request }) => {
  const room = uniqueRoom("tabs");
  await useName(context, "frank");
  const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
  for (const tab of tabs) await openRoom(tab, room);
  for (const n of [1, 2, 3]) {
    await sendViaApi(request, room, `round ${n}`);
    for (const tab of tabs) await expect(messageTexts(tab).last()).toHaveText(`round ${n}`);
  }
});

test("switching rooms shows the new room's history and follows it live", async ({ page, context, request }) => {
  const first = uniqueRoom("first");
  const second = uniqueRoom("second");
  await sendViaApi(request, second, "waiting in the second room");
  await useName(context, "gina");
  await openRoom(page, first);
  await page.getByLabel("Join or create a room").fill(second);
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page).toHaveURL(new RegExp(`/room/${second}$`));
  await expect(messageTexts(page)).toHaveText(["waiting in the second room"]);
  await sendViaApi(request, first, "elsewhere");
  await sendViaApi(request, second, "here, live");
  await expect(messageTexts(page)).toHaveText(["waiting in the second room", "here, live"]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the history is readable and the form sends", async ({ page, request }) => {
    const room = uniqueRoom("nojs");
    await sendViaApi(request, room, "readable without JS", "henry");
    await page.goto(`/room/${room}`);
    await expect(messageTexts(page)).toHaveText(["readable without JS"]);
    await page.getByLabel("Your name").fill("ivy");
    await page.getByRole("textbox", { name: /^Message #/ }).fill("sent by a plain form");
    await page.getByRole("button", { name: "Send" }).click();
    // The server function redirects the plain form post back to the room.
    await expect(page).toHaveURL(new RegExp(`/room/${room}\\??$`));
    await expect(messageTexts(page)).toHaveText(["readable without JS", "sent by a plain form"]);
  });
});

test("after a server restart the page reconnects by itself and receives new messages", async ({ browser, request }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "longpoll-e2e-"));
  const server = new OwnServer(await freePort(), `sqlite:${path.join(dir, "chat.db")}`);
  await server.start();
  const room = uniqueRoom("restart");
  const context = await browser.newContext({ baseURL: server.baseURL });
  const page = await context.newPage();
  try {
    await openRoom(page, room);
    await sendViaApi(request, room, "before the restart", "ops", server.baseURL);
    await expect(messageTexts(page)).toHaveText(["before the restart"]);

    expect(await server.stop()).toBe(0);
    await expect(page.locator(".badge")).toHaveAttribute("data-state", "reconnecting");
    await expect(page.locator(".badge")).toContainText("Reconnecting");

    await server.start();
    await expect(page.locator(".badge")).toHaveAttribute("data-state", "live", { timeout: 20_000 });
    await sendViaApi(request, room, "after the restart", "ops", server.baseURL);
    await expect(messageTexts(page)).toHaveText(["before the restart", "after the restart"]);
  } finally {
    await context.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the composer's counter follows the server's text limit", async ({ browser }) => {
  const server = new OwnServer(await freePort(), "memory", ["--max-text-chars", "100"]);
  await server.start();
  const context = await browser.newContext({ baseURL: server.baseURL });
  await useName(context, "kim");
  const page = await context.newPage();
  try {
    await openRoom(page, uniqueRoom("limit"));
    const composer = page.getByRole("textbox", { name: /^Message #/ });
    await composer.fill("x".repeat(80));
    await expect(page.locator(".counter")).toHaveCount(0);
    await composer.fill("x".repeat(95));
    await expect(page.locator(".counter")).toHaveText("95 / 100");
    await composer.fill("x".repeat(101));
    await expect(page.locator(".counter")).toHaveText("101 / 100");
    await expect(page.locator(".counter")).toHaveClass(/over/);
    await expect(page.getByRole("button", { name: "Send" })).toBeDisabled();
  } finally {
    await context.close();
    await server.stop();
  }
});

test("the API documentation renders with no internet access", async ({ page }) => {
  await page.goto("/redoc");
  await expect(page.getByRole("heading", { name: /longpoll-chat/ }).first()).toBeVisible({ timeout: 10_000 });
  await expect(page.getByText("/api/poll").first()).toBeAttached();
  await page.goto("/docs/");
  await expect(page.locator(".swagger-ui .title").first()).toContainText("longpoll-chat", { timeout: 10_000 });
});
