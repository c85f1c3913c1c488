import { expect, test, type Page } from "@playwright/test";
import { browserSignedUp, messageTexts, openRoom, uniqueAccount, uniqueRoom, useName } from "./helpers";

// Presence and typing ride on the room's stream: the header says who is online, a line over
// the composer who is typing. The e2e server keeps a leaver online for 2 s (not 15).

function composer(page: Page) {
  return page.getByRole("textbox", { name: /^Message #/ });
}

function typingLine(page: Page) {
  return page.locator("p.typing[aria-live=polite]");
}

function online(page: Page) {
  return page.locator(".room-header .online-summary");
}

test("typing shows in the other browser at once and ends when the message is sent", async ({ browser }) => {
  const room = uniqueRoom("typing");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);
  try {
    await composer(a.page).pressSequentially("on my w", { delay: 40 });
    await expect(typingLine(b.page)).toHaveText(`${alice} is typing…`, { timeout: 2_000 });
    // Nobody sees themselves typing.
    await expect(typingLine(a.page)).toHaveText("");

    // Both at once.
    await composer(b.page).pressSequentially("me t", { delay: 40 });
    await expect(typingLine(a.page)).toHaveText(`${bob} is typing…`, { timeout: 2_000 });

    await composer(a.page).pressSequentially("ay");
    await composer(a.page).press("Enter");
    await expect(messageTexts(b.page)).toHaveText(["on my way"]);
    await expect(typingLine(b.page)).toHaveText("", { timeout: 2_000 });
    // Bob's typing is untouched by Alice's message.
    await expect(typingLine(a.page)).toHaveText(`${bob} is typing…`);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("typing ends by itself a few seconds after the typist stops", async ({ browser }) => {
  const room = uniqueRoom("typing-stops");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);
  try {
    await composer(a.page).pressSequentially("hmm", { delay: 40 });
    await expect(typingLine(b.page)).toHaveText(`${alice} is typing…`, { timeout: 2_000 });
    // Alice stops with her text still there: 6 s after the last signal it ends.
    await expect(typingLine(b.page)).toHaveText("", { timeout: 9_000 });
    await expect(composer(a.page)).toHaveValue("hmm");
    // Typing again shows again.
    await composer(a.page).pressSequentially("…", { delay: 40 });
    await expect(typingLine(b.page)).toHaveText(`${alice} is typing…`, { timeout: 2_000 });
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("the header shows who has the room open, and a guest as a count", async ({ browser }) => {
  test.setTimeout(45_000);
  const room = uniqueRoom("presence");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  await expect(online(a.page)).toHaveText(`${alice} online`);

  const b = await browserSignedUp(browser, bob, room);
  const names = [alice, bob].sort();
  await expect(online(a.page)).toHaveText(`${names[0]} and ${names[1]} online`, { timeout: 5_000 });
  await expect(online(b.page)).toHaveText(`${names[0]} and ${names[1]} online`);

  const guest = await browser.newContext();
  await useName(guest, "gus");
  await openRoom(await guest.newPage(), room);
  await expect(online(a.page)).toHaveText(`${names[0]}, ${names[1]} and 1 guest online`, { timeout: 5_000 });

  // The list opens from the keyboard, and marks who you are.
  await a.page.locator(".online-menu summary").focus();
  await a.page.keyboard.press("Enter");
  const list = a.page.locator(".online-menu[open] .online-people");
  await expect(list.locator(".online-name")).toHaveText(names);
  await expect(list.locator(".online-person").filter({ hasText: alice }).locator(".tag")).toHaveText("you");
  await expect(a.page.locator(".online-menu[open] .online-guests")).toHaveText("1 guest");

  // Gone once their browsers close (after the 2 s grace).
  await b.context.close();
  await guest.close();
  await expect(online(a.page)).toHaveText(`${alice} online`, { timeout: 8_000 });
  await a.context.close();
});

test("a second tab of the browser shows who is there at once, and typing in both tabs", async ({ browser }) => {
  const room = uniqueRoom("presence-tabs");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);
  try {
    const names = [alice, bob].sort();
    await expect(online(a.page)).toHaveText(`${names[0]} and ${names[1]} online`, { timeout: 5_000 });
    // Nothing changes on the server when Alice's second tab opens the room (her stream follows
    // it already): the tab learns who is there from the tab that holds the stream.
    const second = await a.context.newPage();
    await openRoom(second, room);
    await expect(online(second)).toHaveText(`${names[0]} and ${names[1]} online`, { timeout: 2_000 });

    await composer(b.page).pressSequentially("both tabs", { delay: 40 });
    for (const page of [a.page, second]) {
      await expect(typingLine(page)).toHaveText(`${bob} is typing…`, { timeout: 2_000 });
    }
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
