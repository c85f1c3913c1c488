import { expect, test, type Page } from "@playwright/test";
import { browserSignedUp, messageTexts, openRoom, typeAndSend, uniqueAccount, uniqueRoom, watchErrors } from "./helpers";

function composer(page: Page) {
  return page.getByRole("textbox", { name: /^Message #/ });
}

function roomLink(page: Page, room: string) {
  return page.locator(".rooms a").filter({ hasText: room });
}

test("@ suggests the room's people, and the keyboard picks one without sending", async ({ browser }) => {
  // Three people sign up (Argon2 on a shared machine): more than the default time.
  test.setTimeout(60_000);
  const room = uniqueRoom("complete");
  const ann = uniqueAccount("ann");
  const bob = uniqueAccount("bob");
  const bea = uniqueAccount("bea");
  const b = await browserSignedUp(browser, bob, room);
  const e = await browserSignedUp(browser, bea, room);
  const a = await browserSignedUp(browser, ann, room);
  const errors = watchErrors(a.page);
  try {
    // Bea spoke and left: a recent sender. Bob is online.
    await typeAndSend(e.page, "morning all");
    await e.context.close();
    await expect(a.page.locator(".online-summary")).toContainText(bob);

    const field = composer(a.page);
    const list = a.page.getByRole("listbox", { name: "People" });
    await field.pressSequentially("hi @b");
    await expect(list).toBeVisible();
    const options = list.getByRole("option");
    const names = options.locator(".person-name");
    // Who is online, then who spoke (the order of each as the server gives it).
    await expect.poll(async () => (await names.allTextContents()).sort()).toEqual([bob, bea].sort());
    await expect(field).toHaveAttribute("aria-controls", "mention-suggestions");
    await expect(field).toHaveAttribute("aria-autocomplete", "list");
    const first = options.first();
    await expect(first).toHaveAttribute("aria-selected", "true");
    await expect(field).toHaveAttribute("aria-activedescendant", (await first.getAttribute("id"))!);

    // Down, then Enter: the second one goes into the text; nothing is sent.
    await field.press("ArrowDown");
    await expect(options.nth(1)).toHaveAttribute("aria-selected", "true");
    await expect(first).toHaveAttribute("aria-selected", "false");
    const second = (await names.nth(1).textContent())!;
    await field.press("Enter");
    await expect(field).toHaveValue(`hi @${second} `);
    await expect(list).toBeHidden();
    await expect(messageTexts(a.page)).toHaveText(["morning all"]);

    // More of a name narrows the list; Tab picks; Escape closes it and keeps what is typed.
    await field.pressSequentially(`and @${bob.slice(0, 4)}`);
    await expect(names).toHaveText([bob]);
    await field.press("Tab");
    await expect(field).toHaveValue(`hi @${second} and @${bob} `);
    await expect(field).toBeFocused();
    await field.pressSequentially("@");
    await expect(list).toBeVisible();
    await field.press("Escape");
    await expect(list).toBeHidden();
    await expect(field).toHaveValue(`hi @${second} and @${bob} @`);
    await field.press("Backspace");
    await field.press("Enter");
    await expect(messageTexts(a.page)).toHaveText(["morning all", `hi @${second} and @${bob}`]);
    // The mention reached bob.
    await expect(b.page.locator(".message.mentions-me .text")).toHaveText(`hi @${second} and @${bob}`);
    expect(errors).toEqual([]);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("a mention of me is highlighted and badged in the list and the title, and the badge clears once read", async ({ browser }) => {
  const lobby = uniqueRoom("lobby");
  const talk = uniqueRoom("talk");
  const ann = uniqueAccount("ann");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, ann, talk);
  const b = await browserSignedUp(browser, bob, talk);
  try {
    // Bob has read the room, then opens another.
    await typeAndSend(a.page, "first, for everyone");
    await expect(messageTexts(b.page)).toHaveText(["first, for everyone"]);
    await openRoom(b.page, lobby);

    await typeAndSend(a.page, "plain news");
    await typeAndSend(a.page, `@${bob} can you look?`);
    const link = roomLink(b.page, talk);
    await expect(link.locator(".unread.mention")).toHaveText("@1");
    await expect(link.locator(".unread")).toHaveAttribute("aria-label", "1 mentioning you, 2 unread");
    await expect(b.page).toHaveTitle(`(2 · @1) #${lobby} · longpoll-chat`);

    await link.click();
    await expect(messageTexts(b.page)).toHaveText(["first, for everyone", "plain news", `@${bob} can you look?`]);
    await expect(b.page.locator(".message.mentions-me")).toHaveCount(1);
    await expect(b.page.locator(".message.mentions-me .text")).toHaveText(`@${bob} can you look?`);
    await expect(link.locator(".unread")).toHaveCount(0);
    await expect(b.page).toHaveTitle(`#${talk} · longpoll-chat`);
    // Read on the server too: the mention no longer counts on another device.
    await expect
      .poll(async () => {
        const joined = await (await b.context.request.get("/api/me/rooms")).json();
        return joined.rooms.find((room: { room: string }) => room.room === talk)?.mentions;
      })
      .toBe(0);
    // Ann's own view does not mark her mention of bob.
    await expect(a.page.locator(".message.mentions-me")).toHaveCount(0);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
