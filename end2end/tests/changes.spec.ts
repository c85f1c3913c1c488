import { expect, test, type Locator, type Page } from "@playwright/test";
import { browserSignedUp, messageTexts, openRoom, typeAndSend, uniqueAccount, uniqueRoom, useName } from "./helpers";

// Edits, deletions and reactions travel on the room's stream: what one browser does shows in
// every other one at once, and a browser that missed them while offline catches up.

/** The message rows of the conversation, oldest first. */
function rows(page: Page): Locator {
  return page.locator(".messages .message");
}

function row(page: Page, text: string): Locator {
  return rows(page).filter({ has: page.locator(".text", { hasText: text }) });
}

function chip(message: Locator, emoji: string): Locator {
  return message.locator(".reaction").filter({ hasText: emoji });
}

/** Sends `text` from the page's composer and waits until the page shows it (the composer
 * takes one send at a time). */
async function say(page: Page, text: string): Promise<void> {
  await typeAndSend(page, text);
  await expect(messageTexts(page).last()).toHaveText(text);
}

/** Edits `text`'s message in place with the mouse, saving with Enter. */
async function edit(page: Page, text: string, replacement: string): Promise<void> {
  const message = row(page, text);
  await message.hover();
  await message.getByRole("button", { name: "Edit" }).click();
  // While editing, the message's text is in the editor.
  const editor = page.locator(".message.editing").getByRole("textbox", { name: "Edit message" });
  await expect(editor).toBeFocused();
  await expect(editor).toHaveValue(text);
  await editor.fill(replacement);
  await editor.press("Enter");
  await expect(row(page, replacement).locator(".text")).toHaveText(replacement);
}

/** Deletes `text`'s message with the mouse, confirming inline. */
async function remove(page: Page, text: string): Promise<void> {
  const message = row(page, text);
  await message.hover();
  await message.getByRole("button", { name: "Delete" }).click();
  await message.getByRole("group", { name: "Delete this message?" }).getByRole("button", { name: "Delete" }).click();
  await expect(row(page, text)).toHaveCount(0);
}

/** Adds a reaction to `text`'s message from the picker. */
async function react(page: Page, text: string, name: string): Promise<void> {
  const message = row(page, text);
  await message.hover();
  await message.getByRole("button", { name: "Add reaction" }).click();
  await message.getByRole("button", { name: `React with ${name}` }).click();
}

test("an edit, a deletion and reactions show in the other browser at once", async ({ browser }) => {
  const room = uniqueRoom("changes");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);
  const guest = await browser.newContext();
  await useName(guest, "gus");
  const onGuest = await guest.newPage();
  try {
    await openRoom(onGuest, room);
    await say(a.page, "first draft");
    await say(a.page, "regrettable");
    await say(a.page, "react to me");
    for (const page of [b.page, onGuest]) {
      await expect(messageTexts(page)).toHaveText(["first draft", "regrettable", "react to me"]);
    }
    // Someone else's message has no Edit or Delete; a guest has no toolbar at all.
    await row(b.page, "first draft").hover();
    await expect(row(b.page, "first draft").getByRole("button", { name: "Add reaction" })).toBeVisible();
    await expect(row(b.page, "first draft").getByRole("button", { name: "Edit" })).toHaveCount(0);
    await expect(onGuest.locator(".message-actions")).toHaveCount(0);

    await edit(a.page, "first draft", "final words");
    for (const page of [b.page, onGuest]) {
      await expect(messageTexts(page)).toHaveText(["final words", "regrettable", "react to me"], { timeout: 1_000 });
      await expect(row(page, "final words").locator(".edited")).toHaveText("(edited)");
      await expect(row(page, "final words").locator(".edited")).toHaveAttribute("title", /^Edited \d{4}-\d\d-\d\d \d\d:\d\d$/);
    }

    await remove(a.page, "regrettable");
    for (const page of [b.page, onGuest]) {
      await expect(rows(page).nth(1)).toHaveClass(/deleted/, { timeout: 1_000 });
      await expect(rows(page).nth(1).locator(".tombstone")).toHaveText("message deleted");
      await expect(messageTexts(page)).toHaveText(["final words", "react to me"]);
    }

    // A second tab of Bob's opens now: its history shows the changes, and its position (the
    // last message, before them) rewinds the browser's one stream; neither tab applies
    // anything twice, and both follow what comes next through the leader.
    const bobsTab = await b.context.newPage();
    await openRoom(bobsTab, room);
    await expect(messageTexts(bobsTab)).toHaveText(["final words", "react to me"]);
    await expect(rows(bobsTab).nth(1)).toHaveClass(/deleted/);

    await react(b.page, "react to me", "party");
    const bobsChip = chip(row(b.page, "react to me"), "🎉");
    await expect(bobsChip).toHaveAttribute("aria-pressed", "true");
    const alicesChip = chip(row(a.page, "react to me"), "🎉");
    await expect(alicesChip.locator(".count")).toHaveText("1", { timeout: 1_000 });
    await expect(alicesChip).toHaveAttribute("aria-pressed", "false");
    await expect(alicesChip).toHaveAttribute("title", `${bob} reacted with 🎉`);
    // Alice's click adds hers to the same chip.
    await alicesChip.click();
    await expect(alicesChip).toHaveAttribute("aria-pressed", "true");
    await expect(bobsChip.locator(".count")).toHaveText("2", { timeout: 1_000 });
    await expect(bobsChip).toHaveAttribute("title", `${bob} and ${alice} reacted with 🎉`);
    await expect(chip(row(bobsTab, "react to me"), "🎉").locator(".count")).toHaveText("2", { timeout: 1_000 });
    await expect(chip(row(bobsTab, "react to me"), "🎉")).toHaveAttribute("aria-pressed", "true");
    const guestsChip = chip(row(onGuest, "react to me"), "🎉");
    await expect(guestsChip.locator(".count")).toHaveText("2", { timeout: 1_000 });
    await expect(guestsChip).toBeDisabled();
    // Bob takes his back.
    await bobsChip.click();
    await expect(alicesChip.locator(".count")).toHaveText("1", { timeout: 1_000 });
    await expect(alicesChip).toHaveAttribute("title", `${alice} reacted with 🎉`);

    // The stream goes on from the changes' position: new messages still come, once each.
    await typeAndSend(b.page, "still live");
    for (const page of [a.page, b.page, bobsTab, onGuest]) {
      await expect(messageTexts(page)).toHaveText(["final words", "react to me", "still live"], { timeout: 1_000 });
      await expect(page.locator(".reaction")).toHaveCount(1);
    }
    // And a reload shows the same, from the history.
    await onGuest.reload();
    await expect(messageTexts(onGuest)).toHaveText(["final words", "react to me", "still live"]);
    await expect(rows(onGuest).nth(1).locator(".tombstone")).toHaveText("message deleted");
    await expect(chip(row(onGuest, "react to me"), "🎉").locator(".count")).toHaveText("1");
  } finally {
    await a.context.close();
    await b.context.close();
    await guest.close();
  }
});

test("a browser that was offline shows the edit, deletion and reaction it missed", async ({ browser }) => {
  const room = uniqueRoom("offline");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);
  try {
    await say(a.page, "edit me");
    await say(a.page, "delete me");
    await say(a.page, "react to me");
    await expect(messageTexts(b.page)).toHaveText(["edit me", "delete me", "react to me"]);

    await b.context.setOffline(true);
    await expect(b.page.locator(".badge")).toHaveAttribute("data-state", "offline");
    await edit(a.page, "edit me", "edited offline");
    await remove(a.page, "delete me");
    await react(a.page, "react to me", "eyes");
    await expect(chip(row(a.page, "react to me"), "👀").locator(".count")).toHaveText("1");
    // Bob's page has none of it yet.
    await expect(messageTexts(b.page)).toHaveText(["edit me", "delete me", "react to me"]);

    await b.context.setOffline(false);
    await expect(b.page.locator(".badge")).toHaveAttribute("data-state", "live");
    await expect(messageTexts(b.page)).toHaveText(["edited offline", "react to me"]);
    await expect(rows(b.page)).toHaveCount(3);
    await expect(rows(b.page).nth(1).locator(".tombstone")).toHaveText("message deleted");
    await expect(chip(row(b.page, "react to me"), "👀").locator(".count")).toHaveText("1");
    await expect(row(b.page, "edited offline").locator(".edited")).toHaveText("(edited)");

    // Live again, from where it left off: nothing repeated.
    await typeAndSend(a.page, "back");
    await expect(messageTexts(b.page)).toHaveText(["edited offline", "react to me", "back"], { timeout: 1_000 });
    await expect(b.page.locator(".reaction")).toHaveCount(1);
    await expect(chip(row(b.page, "react to me"), "👀").locator(".count")).toHaveText("1");
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("the keyboard reaches every action: react, edit, delete, and Escape backs out", async ({ browser }) => {
  const room = uniqueRoom("keys");
  const { context, page } = await browserSignedUp(browser, uniqueAccount("kim"), room);
  try {
    await say(page, "keyboard only");
    await say(page, "below it");
    await expect(messageTexts(page)).toHaveText(["keyboard only", "below it"]);
    const message = rows(page).first();
    const below = await row(page, "below it").boundingBox();

    // From the message list, Tab reaches the first message's toolbar, which shows itself
    // without moving the message under it.
    await page.locator(".messages").focus();
    await page.keyboard.press("Tab");
    const addReaction = message.getByRole("button", { name: "Add reaction" });
    await expect(addReaction).toBeFocused();
    await expect(message.locator(".message-actions")).toHaveCSS("opacity", "1");
    expect(await row(page, "below it").boundingBox()).toEqual(below);

    // Enter opens the picker on its first emoji; Escape closes it and returns the focus.
    await page.keyboard.press("Enter");
    const thumbsUp = message.getByRole("button", { name: "React with thumbs up" });
    await expect(thumbsUp).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(thumbsUp).toHaveCount(0);
    await expect(addReaction).toBeFocused();

    // Enter, Enter: a 👍.
    await page.keyboard.press("Enter");
    await expect(thumbsUp).toBeFocused();
    await page.keyboard.press("Enter");
    const thumbsChip = chip(message, "👍");
    await expect(thumbsChip.locator(".count")).toHaveText("1");
    await expect(thumbsChip).toHaveAttribute("aria-pressed", "true");
    await expect(addReaction).toBeFocused();

    // The chip is before the toolbar: Shift+Tab, Enter takes it back.
    await page.keyboard.press("Shift+Tab");
    await expect(thumbsChip).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(thumbsChip).toHaveCount(0);

    // Tab to Edit; Escape leaves the text as it was, Enter saves.
    await addReaction.focus();
    await page.keyboard.press("Tab");
    const editButton = message.getByRole("button", { name: "Edit" });
    await expect(editButton).toBeFocused();
    await page.keyboard.press("Enter");
    const editor = message.getByRole("textbox", { name: "Edit message" });
    await expect(editor).toBeFocused();
    await page.keyboard.type(" (not kept)");
    await page.keyboard.press("Escape");
    await expect(editor).toHaveCount(0);
    await expect(message.locator(".text")).toHaveText("keyboard only");
    await expect(editButton).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(editor).toBeFocused();
    await page.keyboard.type(", edited");
    await page.keyboard.press("Enter");
    await expect(message.locator(".text")).toHaveText("keyboard only, edited");
    await expect(message.locator(".edited")).toHaveText("(edited)");
    await expect(message.getByRole("button", { name: "Edit" })).toBeFocused();

    // Tab to Delete; Escape cancels the confirmation, Enter twice deletes.
    await page.keyboard.press("Tab");
    const deleteButton = message.getByRole("button", { name: "Delete" });
    await expect(deleteButton).toBeFocused();
    await page.keyboard.press("Enter");
    const confirm = message.getByRole("group", { name: "Delete this message?" });
    await expect(confirm.getByRole("button", { name: "Delete" })).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(confirm).toHaveCount(0);
    await expect(deleteButton).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(confirm.getByRole("button", { name: "Delete" })).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(rows(page).first()).toHaveClass(/deleted/);
    await expect(messageTexts(page)).toHaveText(["below it"]);
  } finally {
    await context.close();
  }
});
