import { expect, test, type Page } from "@playwright/test";
import {
  browserSignedUp,
  freePort,
  messageTexts,
  openRoom,
  OwnServer,
  sendViaApi,
  typeAndSend,
  uniqueAccount,
  uniqueRoom,
  watchErrors,
} from "./helpers";

// Search: the box over the room list, its results as you type, a result opening its room at
// the message; and the form and results page without JavaScript.

/** A word no other test's message has, so each test finds only its own messages. */
function uniqueWord(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

function searchBox(page: Page) {
  return page.getByRole("combobox", { name: "Search messages" });
}

/** Types `text` in the search box key by key, as a person does (the box loads its controller
 * on the first key; later edits may just fill it). */
async function typeQuery(page: Page, text: string): Promise<void> {
  await searchBox(page).click();
  await searchBox(page).pressSequentially(text);
}

function hits(page: Page) {
  return page.getByRole("listbox", { name: "Messages found" }).getByRole("option");
}

test("typing finds a sent message with the word marked, grouped by room; the keys move and open", async ({ page }) => {
  const room = uniqueRoom("search");
  const word = uniqueWord("zephyr");
  const errors = watchErrors(page);
  await openRoom(page, room);
  await sendViaApi(page.request, room, "nothing to see here");
  await sendViaApi(page.request, room, `the ${word} blows from the west`);
  await sendViaApi(page.request, room, "still nothing");

  // `/` anywhere but in a field focuses the box.
  await page.locator(".messages").click();
  await page.keyboard.press("/");
  await expect(searchBox(page)).toBeFocused();
  await page.keyboard.type(word);
  await expect(hits(page)).toHaveCount(1);
  const hit = hits(page).first();
  await expect(hit.locator("mark")).toHaveText(word);
  await expect(hit).toContainText("blows from the west");
  await expect(hit).toContainText("curl");
  await expect(page.getByRole("group", { name: `#${room}` })).toBeVisible();
  await expect(page.locator(".search-status")).toHaveText("1 message");
  await expect(searchBox(page)).toHaveAttribute("aria-expanded", "true");

  // The arrow keys move through the hits while the focus stays in the box.
  await searchBox(page).press("ArrowDown");
  await expect(searchBox(page)).toHaveAttribute("aria-activedescendant", "search-hit-0");
  await expect(hit).toHaveAttribute("aria-selected", "true");
  await expect(searchBox(page)).toBeFocused();
  // Escape closes the panel, then clears the box.
  await searchBox(page).press("Escape");
  await expect(hits(page)).toHaveCount(0);
  await expect(searchBox(page)).toHaveAttribute("aria-expanded", "false");
  await expect(searchBox(page)).toHaveValue(word);
  await searchBox(page).press("ArrowDown");
  await expect(hits(page)).toHaveCount(1);
  await searchBox(page).press("Escape");
  await searchBox(page).press("Escape");
  await expect(searchBox(page)).toHaveValue("");

  // Enter opens the hit the arrow keys are on: the room, at the message.
  await searchBox(page).fill(word);
  await expect(hits(page)).toHaveCount(1);
  await searchBox(page).press("ArrowDown");
  await searchBox(page).press("Enter");
  await expect(page).toHaveURL(new RegExp(`/room/${room}\\?at=`));
  await expect(hits(page)).toHaveCount(0);
  const highlighted = page.locator(".messages .message.highlight");
  await expect(highlighted.locator(".text")).toHaveText(`the ${word} blows from the west`);
  await expect(highlighted).toBeFocused();
  await expect(messageTexts(page)).toHaveText(["nothing to see here", `the ${word} blows from the west`, "still nothing"]);
  // The room's end is shown: it goes on live.
  await sendViaApi(page.request, room, "after the search");
  await expect(messageTexts(page).last()).toHaveText("after the search");
  await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");
  expect(errors).toEqual([]);
});

test("a hit opens its room at the message, highlighted, with messages before and after; Jump to latest goes back live", async ({ browser }) => {
  // A server of its own, without the send limit, for a room of 60 messages.
  const server = new OwnServer(await freePort(), "memory", ["--send-rate", "0"]);
  await server.start();
  const context = await browser.newContext({ baseURL: server.baseURL });
  try {
    const page = await context.newPage();
    const errors = watchErrors(page);
    const room = uniqueRoom("context");
    const other = uniqueRoom("elsewhere");
    const word = uniqueWord("quasar");
    for (let n = 0; n < 60; n++) {
      const text = n === 20 ? `message ${n} mentions the ${word}` : `message ${n}`;
      await sendViaApi(page.request, room, text, "curl", server.baseURL);
    }
    await sendViaApi(page.request, other, `the ${word} elsewhere`, "curl", server.baseURL);
    await openRoom(page, other);

    await typeQuery(page, word);
    await expect(hits(page)).toHaveCount(2);
    await expect(page.getByRole("group", { name: `#${room}` }).getByRole("option")).toHaveCount(1);
    await expect(page.getByRole("group", { name: `#${other}` }).getByRole("option")).toHaveCount(1);
    // "Only this room" narrows to the room shown.
    await page.getByLabel("Only this room").check();
    await expect(hits(page)).toHaveCount(1);
    await expect(hits(page).first()).toContainText("elsewhere");
    await page.getByLabel("Only this room").uncheck();
    await expect(hits(page)).toHaveCount(2);

    await page.getByRole("group", { name: `#${room}` }).getByRole("option").click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}\\?at=`));
    const highlighted = page.locator(".messages .message.highlight");
    await expect(highlighted.locator(".text")).toHaveText(`message 20 mentions the ${word}`);
    await expect(highlighted).toBeInViewport();
    // Neighbours both ways, and not the room's end.
    const texts = await messageTexts(page).allTextContents();
    expect(texts).toContain("message 19");
    expect(texts).toContain("message 21");
    expect(texts).toContain("message 0");
    expect(texts).toContain("message 40");
    expect(texts).not.toContain("message 59");
    await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");

    // Jump to latest: the room's end, followed live.
    await page.getByRole("link", { name: "Jump to latest" }).click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}$`));
    await expect(messageTexts(page).last()).toHaveText("message 59");
    await expect(page.locator(".messages .message.highlight")).toHaveCount(0);
    await sendViaApi(page.request, room, "live again", "curl", server.baseURL);
    await expect(messageTexts(page).last()).toHaveText("live again");
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await server.stop();
  }
});

test("Load more adds the next page of hits", async ({ browser }) => {
  const server = new OwnServer(await freePort(), "memory", ["--send-rate", "0"]);
  await server.start();
  const context = await browser.newContext({ baseURL: server.baseURL });
  try {
    const page = await context.newPage();
    const room = uniqueRoom("pages");
    const word = uniqueWord("nebula");
    for (let n = 0; n < 25; n++) {
      await sendViaApi(page.request, room, `${word} number ${n}`, "curl", server.baseURL);
    }
    await openRoom(page, room);
    await typeQuery(page, word);
    await expect(hits(page)).toHaveCount(20);
    await expect(page.locator(".search-status")).toHaveText("20+ messages");
    await page.getByRole("button", { name: "Load more" }).click();
    await expect(hits(page)).toHaveCount(25);
    await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
    await expect(page.locator(".search-status")).toHaveText("25 messages");
  } finally {
    await context.close();
    await server.stop();
  }
});

test("a deleted message is no longer found", async ({ browser }) => {
  const room = uniqueRoom("forget");
  const word = uniqueWord("ephemeral");
  const { context, page } = await browserSignedUp(browser, uniqueAccount("del"), room);
  try {
    await typeAndSend(page, `an ${word} thought`);
    await typeAndSend(page, `a lasting ${word} thought`);
    await typeQuery(page, word);
    await expect(hits(page)).toHaveCount(2);

    // Closed by a press outside; the message deleted in the room.
    const message = page.locator(".messages .message").filter({ hasText: `an ${word} thought` });
    await message.hover();
    await expect(hits(page)).toHaveCount(2);
    await message.getByRole("button", { name: "Delete" }).click();
    await expect(hits(page)).toHaveCount(0);
    await message.getByRole("group", { name: "Delete this message?" }).getByRole("button", { name: "Delete" }).click();
    await expect(messageTexts(page)).toHaveText([`a lasting ${word} thought`]);

    await searchBox(page).fill(`an ${word}`);
    await searchBox(page).fill(word);
    await expect(hits(page)).toHaveCount(1);
    await expect(hits(page).first()).toContainText(`a lasting ${word} thought`);
    // The server agrees.
    const answer = await page.request.get(`/api/search?q=${word}`);
    expect((await answer.json()).results).toHaveLength(1);
  } finally {
    await context.close();
  }
});

test("a bad query says why", async ({ page }) => {
  await openRoom(page, uniqueRoom("bad"));
  await typeQuery(page, '"unclosed phrase');
  await expect(page.locator(".search-problem")).toContainText(/quote/i);
  await expect(hits(page)).toHaveCount(0);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the box is a form: its results page links to the room at the message, highlighted", async ({ page }) => {
    const room = uniqueRoom("nojs-search");
    const other = uniqueRoom("nojs-other");
    const word = uniqueWord("aurora");
    await sendViaApi(page.request, room, "before it");
    await sendViaApi(page.request, room, `an ${word} tonight`);
    await sendViaApi(page.request, room, "after it");
    await sendViaApi(page.request, other, `another ${word} elsewhere`);
    await page.goto(`/room/${room}`);
    await expect(page.locator(".messages .message")).toHaveCount(3);

    await searchBox(page).fill(word);
    await page.getByLabel("Only this room").check();
    await searchBox(page).press("Enter");
    await expect(page).toHaveURL(new RegExp(`/search\\?q=${word}&room=${room}`));
    await expect(page.locator(".search-summary")).toHaveText(`1 message found for “${word}” in #${room}`);
    const results = page.locator(".search-page-results .search-hit");
    await expect(results).toHaveCount(1);
    await expect(results.locator("mark")).toHaveText(word);

    // All rooms, from the results page's own form.
    await page.locator(".search-page-form input[name=room]").fill("");
    await page.locator(".search-page-form").getByRole("button", { name: "Search" }).click();
    await expect(results).toHaveCount(2);

    await results.filter({ hasText: "tonight" }).click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}\\?at=`));
    const highlighted = page.locator(".messages .message.highlight");
    await expect(highlighted.locator(".text")).toHaveText(`an ${word} tonight`);
    await expect(messageTexts(page)).toHaveText(["before it", `an ${word} tonight`, "after it"]);
  });

  test("a bad query's results page says why, with a 400", async ({ page }) => {
    const response = await page.goto(`/search?q=${encodeURIComponent('"open')}`);
    expect(response?.status()).toBe(400);
    await expect(page.locator(".search-problem")).toContainText(/quote/i);
  });
});
