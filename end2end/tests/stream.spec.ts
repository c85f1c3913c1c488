import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import {
  freePort,
  messageTexts,
  openRoom,
  OwnServer,
  sendViaApi,
  signIn,
  signUp,
  typeAndSend,
  uniqueAccount,
  uniqueRoom,
  useName,
} from "./helpers";

// Each test runs its own server, so `held_polls` counts this browser's polls only.

async function heldPolls(request: APIRequestContext, baseURL: string): Promise<number> {
  const stats = await (await request.get(`${baseURL}/api/stats`)).json();
  return stats.held_polls;
}

function unreadOf(page: Page, room: string) {
  return page.locator(".rooms a").filter({ hasText: room }).locator(".unread");
}

test("ten tabs of one browser share one held poll and are all live", async ({ browser, request }) => {
  const server = new OwnServer(await freePort(), "memory");
  await server.start();
  const context = await browser.newContext({ baseURL: server.baseURL });
  try {
    await useName(context, "tess");
    const rooms = [uniqueRoom("ten-a"), uniqueRoom("ten-b"), uniqueRoom("ten-c")];
    const tabs = await Promise.all(Array.from({ length: 10 }, () => context.newPage()));
    const roomOf = (i: number) => rooms[i % rooms.length];
    // All at once: none waits behind another's held poll. Ten pages compiling and hydrating
    // the WASM together share the machine's cores with the server, hence the longer wait.
    await Promise.all(tabs.map((tab, i) => openRoom(tab, roomOf(i), 15_000)));
    await expect.poll(() => heldPolls(request, server.baseURL)).toBe(1);
    await expect.poll(async () => {
      const leaders = await Promise.all(tabs.map((tab) => tab.locator("html[data-stream-leader]").count()));
      return leaders.reduce((a, b) => a + b, 0);
    }).toBe(1);

    // The tenth tab sends; every tab on its room shows it within a second.
    const tenth = tabs[9];
    await typeAndSend(tenth, "from the tenth tab");
    for (const [i, tab] of tabs.entries()) {
      if (roomOf(i) === roomOf(9)) {
        await expect(messageTexts(tab)).toHaveText(["from the tenth tab"], { timeout: 1_000 });
      }
    }
    // And every room is live in every tab that shows it.
    for (const room of rooms) await sendViaApi(request, room, `to ${room}`, "curl", server.baseURL);
    for (const [i, tab] of tabs.entries()) {
      await expect(messageTexts(tab).last()).toHaveText(`to ${roomOf(i)}`, { timeout: 1_000 });
    }
    expect(await heldPolls(request, server.baseURL)).toBe(1);
  } finally {
    await context.close();
    await server.stop();
  }
});

test("closing the leader tab hands the stream over with nothing lost", async ({ browser, request }) => {
  const server = new OwnServer(await freePort(), "memory");
  await server.start();
  const context = await browser.newContext({ baseURL: server.baseURL });
  try {
    const room = uniqueRoom("handover");
    const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
    for (const tab of tabs) await openRoom(tab, room);
    await expect.poll(() => heldPolls(request, server.baseURL)).toBe(1);
    await sendViaApi(request, room, "before", "curl", server.baseURL);
    for (const tab of tabs) await expect(messageTexts(tab)).toHaveText(["before"]);

    const leaders: Page[] = [];
    for (const tab of tabs) if (await tab.locator("html[data-stream-leader]").count()) leaders.push(tab);
    expect(leaders).toHaveLength(1);
    const rest = tabs.filter((tab) => tab !== leaders[0]);
    await leaders[0].close();
    // Sent while nobody may be holding the stream: the next leader resumes from the cursor.
    await sendViaApi(request, room, "during the handover", "curl", server.baseURL);
    for (const tab of rest) {
      await expect(messageTexts(tab)).toHaveText(["before", "during the handover"], { timeout: 2_000 });
    }
    await expect.poll(async () => {
      const counts = await Promise.all(rest.map((tab) => tab.locator("html[data-stream-leader]").count()));
      return counts.reduce((a, b) => a + b, 0);
    }).toBe(1);
    await expect.poll(() => heldPolls(request, server.baseURL)).toBe(1);
    await sendViaApi(request, room, "after", "curl", server.baseURL);
    for (const tab of rest) {
      await expect(messageTexts(tab)).toHaveText(["before", "during the handover", "after"], { timeout: 1_000 });
    }
  } finally {
    await context.close();
    await server.stop();
  }
});

test("without Web Locks each tab holds a stream of its own and stays live", async ({ browser, request }) => {
  const server = new OwnServer(await freePort(), "memory");
  await server.start();
  const context = await browser.newContext({ baseURL: server.baseURL });
  // As in a browser without the Web Locks API.
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined });
  });
  try {
    await useName(context, "nora");
    const room = uniqueRoom("no-locks");
    const tabs = [await context.newPage(), await context.newPage()];
    for (const tab of tabs) await openRoom(tab, room);
    await expect.poll(() => heldPolls(request, server.baseURL)).toBe(2);
    // An empty room at first: the streams read it from its start, so nothing is missed.
    await sendViaApi(request, room, "to both", "curl", server.baseURL);
    for (const tab of tabs) await expect(messageTexts(tab)).toHaveText(["to both"], { timeout: 1_000 });
    await typeAndSend(tabs[1], "from the second tab");
    await expect(messageTexts(tabs[0])).toHaveText(["to both", "from the second tab"], { timeout: 1_000 });
  } finally {
    await context.close();
    await server.stop();
  }
});

test("unread counts rise in the room list and title, and clear with a divider when the room opens", async ({ page, context, request }) => {
  await useName(context, "uma");
  const here = uniqueRoom("unread-here");
  const away = uniqueRoom("unread-away");
  await sendViaApi(request, away, "already read");
  // Opening a room joins it (a guest keeps it in the browser).
  await openRoom(page, away);
  await expect(messageTexts(page)).toHaveText(["already read"]);
  await expect
    .poll(() => page.evaluate(() => window.localStorage.getItem("longpoll-chat.reads") ?? ""))
    .toContain(away);
  await openRoom(page, here);
  await expect(unreadOf(page, away)).toHaveCount(0);

  await sendViaApi(request, away, "first unread");
  await sendViaApi(request, away, "second unread");
  await expect(unreadOf(page, away)).toHaveText("2");
  await expect(page).toHaveTitle(`(2) #${here} · longpoll-chat`);

  await page.locator(".rooms a").filter({ hasText: away }).click();
  await expect(page).toHaveURL(new RegExp(`/room/${away}$`));
  await expect(messageTexts(page)).toHaveText(["already read", "first unread", "second unread"]);
  await expect(page.locator(".messages .new-divider + .message .text")).toHaveText("first unread");
  await expect(unreadOf(page, away)).toHaveCount(0);
  await expect(page).toHaveTitle(`#${away} · longpoll-chat`);
});

test("a signed-in person's read positions follow them to another device", async ({ browser, request }) => {
  const name = uniqueAccount("una");
  const lobby = uniqueRoom("reads-lobby");
  const room = uniqueRoom("reads-room");
  await sendViaApi(request, room, "read on the laptop");

  // The laptop signs up, opens the room (joins it and reads it), and leaves it.
  const laptop = await browser.newContext();
  const onLaptop = await laptop.newPage();
  await openRoom(onLaptop, lobby);
  await signUp(onLaptop, name);
  await onLaptop.goto(`/room/${room}`);
  await expect(messageTexts(onLaptop)).toHaveText(["read on the laptop"]);
  await expect
    .poll(async () => {
      const joined = await (await laptop.request.get("/api/me/rooms")).json();
      return joined.rooms.find((r: { room: string }) => r.room === room)?.last_read_id ?? null;
    })
    .not.toBeNull();
  await laptop.close();

  // The phone signs in: the room is joined there too, with the laptop's read position.
  const phone = await browser.newContext();
  const onPhone = await phone.newPage();
  await openRoom(onPhone, lobby);
  await signIn(onPhone, name);
  await sendViaApi(request, room, "new since the laptop");
  await expect(unreadOf(onPhone, room)).toHaveText("1");
  await onPhone.locator(".rooms a").filter({ hasText: room }).click();
  await expect(messageTexts(onPhone)).toHaveText(["read on the laptop", "new since the laptop"]);
  await expect(onPhone.locator(".messages .new-divider + .message .text")).toHaveText("new since the laptop");
  await expect(unreadOf(onPhone, room)).toHaveCount(0);
  await phone.close();
});
