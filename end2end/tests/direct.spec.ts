import { expect, test, type Page } from "@playwright/test";
import {
  browserSignedUp,
  fillCredentials,
  messageTexts,
  openRoom,
  PASSWORD,
  signInForm,
  typeAndSend,
  uniqueAccount,
  uniqueRoom,
  watchErrors,
} from "./helpers";

/** The room list's entry of the direct room with these people (as the list names it). */
function directLink(page: Page, people: string) {
  return page.locator(".rooms.direct a").filter({ has: page.locator(".room-name", { hasText: new RegExp(`^${people}$`) }) });
}

/** Sends `text` in a direct room with `people` (the composer names the room by them). */
async function sendTo(page: Page, people: string, text: string): Promise<void> {
  const composer = page.getByRole("textbox", { name: `Message ${people}` });
  await composer.fill(text);
  await composer.press("Enter");
  await expect(composer).toHaveValue("");
}

/** Opens "New message", types `names` and starts the direct room. */
async function startDirect(page: Page, names: string): Promise<void> {
  await page.locator(".new-direct summary").click();
  await page.getByLabel("New message to").fill(names);
  await page.getByRole("button", { name: "Start" }).click();
}

test("a direct message started by picking a person opens, and the other person sees it with its unread badge", async ({ browser }) => {
  // Two people sign up (Argon2 on a shared machine): more than the default time.
  test.setTimeout(60_000);
  const lobby = uniqueRoom("dm-lobby");
  const ann = uniqueAccount("ann");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, ann, lobby);
  const b = await browserSignedUp(browser, bob, lobby);
  const errors = [watchErrors(a.page), watchErrors(b.page)];
  try {
    await startDirect(a.page, bob);
    await expect(a.page).toHaveURL(/\/room\/dm--[0-9a-f]+$/);
    const dm = new URL(a.page.url()).pathname.split("/").pop()!;
    // Named by the other person, never by the room's name.
    await expect(a.page.locator(".room-header h1")).toHaveText(bob);
    await expect(a.page).toHaveTitle(`${bob} · longpoll-chat`);
    await expect(directLink(a.page, bob)).toHaveAttribute("aria-current", "page");
    await expect(a.page.getByText(dm)).toHaveCount(0);
    await expect(a.page.locator(".badge")).toHaveAttribute("data-state", "live");
    await sendTo(a.page, bob, "hi bob, a word in private");
    await expect(messageTexts(a.page)).toHaveText(["hi bob, a word in private"]);

    // Bob's list shows it (as the list refreshes, or on his next page) with the message unread,
    // in the badge of what is for him.
    await b.page.reload();
    await expect(b.page.locator(".badge")).toHaveAttribute("data-state", "live");
    const fromAnn = directLink(b.page, ann);
    await expect(fromAnn.locator(".unread.mention")).toHaveText("1");
    await expect(b.page).toHaveTitle(`(1 · @1) #${lobby} · longpoll-chat`);
    await expect(b.page.getByText(dm)).toHaveCount(0);

    // The next message counts at once.
    await sendTo(a.page, bob, "are you there?");
    await expect(fromAnn.locator(".unread.mention")).toHaveText("2");

    await fromAnn.click();
    await expect(b.page).toHaveURL(new RegExp(`/room/${dm}$`));
    await expect(b.page.locator(".room-header h1")).toHaveText(ann);
    await expect(messageTexts(b.page)).toHaveText(["hi bob, a word in private", "are you there?"]);
    await expect(fromAnn.locator(".unread")).toHaveCount(0);
    await expect(b.page).toHaveTitle(`${ann} · longpoll-chat`);
    // Read, so joined on the server too: his other devices count what comes next.
    await expect
      .poll(async () => {
        const joined = await (await b.context.request.get("/api/me/rooms")).json();
        return joined.rooms.find((room: { room: string }) => room.room === dm)?.direct ?? false;
      })
      .toBe(true);
    await sendTo(b.page, ann, "here!");
    await expect(messageTexts(a.page)).toHaveText(["hi bob, a word in private", "are you there?", "here!"]);
    expect(errors).toEqual([[], []]);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("a direct room takes several people separated by commas, and a name that is no account says so", async ({ browser }) => {
  test.setTimeout(60_000);
  const lobby = uniqueRoom("dm-group");
  const ann = uniqueAccount("ann");
  const bob = uniqueAccount("bob");
  const cy = uniqueAccount("cy");
  const b = await browserSignedUp(browser, bob, lobby);
  const c = await browserSignedUp(browser, cy, lobby);
  const a = await browserSignedUp(browser, ann, lobby);
  try {
    await startDirect(a.page, `${uniqueAccount("nobody")}`);
    await expect(a.page.locator(".new-direct .field-error")).toHaveText("No account of that name");
    await expect(a.page).toHaveURL(new RegExp(`/room/${lobby}$`));

    const names = Array.from({ length: 9 }, (_, n) => `p${n}`).join(", ");
    await a.page.getByLabel("New message to").fill(names);
    await a.page.getByRole("button", { name: "Start" }).click();
    await expect(a.page.locator(".new-direct .field-error")).toHaveText("At most 8 people");

    await a.page.getByLabel("New message to").fill(`@${cy}, ${bob}`);
    await a.page.getByRole("button", { name: "Start" }).click();
    await expect(a.page).toHaveURL(/\/room\/dm--[0-9a-f]+$/);
    const [first, second] = [bob, cy].sort();
    await expect(a.page.locator(".room-header h1")).toHaveText(`${first}, ${second}`);
    // The form closed and emptied.
    await expect(a.page.getByLabel("New message to")).toBeHidden();
    await sendTo(a.page, `${first}, ${second}`, "hello both");

    await c.page.reload();
    await expect(directLink(c.page, [ann, bob].sort().join(", ")).locator(".unread.mention")).toHaveText("1");
  } finally {
    await a.context.close();
    await b.context.close();
    await c.context.close();
  }
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("New message is a plain form that opens the direct room", async ({ page, request }) => {
    const lobby = uniqueRoom("dm-nojs");
    const bob = uniqueAccount("bob");
    const made = await request.post("/api/accounts", { data: { name: bob, password: PASSWORD } });
    expect(made.status()).toBe(201);
    const ann = uniqueAccount("ann");
    await page.goto(`/room/${lobby}`);
    await fillCredentials(page, ann, PASSWORD);
    await signInForm(page).signUp.click();
    await expect(page.locator(".account-name")).toHaveText(ann);

    await page.locator(".new-direct summary").click();
    await page.getByLabel("New message to").fill(bob);
    await page.getByRole("button", { name: "Start" }).click();
    await expect(page).toHaveURL(/\/room\/dm--[0-9a-f]+$/);
    await expect(page.locator(".room-header h1")).toHaveText(bob);
    await expect(page).toHaveTitle("Direct message · longpoll-chat");
    await expect(directLink(page, bob)).toHaveAttribute("aria-current", "page");
    await page.getByRole("textbox", { name: `Message ${bob}` }).fill("no script needed");
    await page.getByRole("button", { name: "Send" }).click();
    await expect(messageTexts(page)).toHaveText(["no script needed"]);

    // A refusal comes back under its form.
    await page.locator(".new-direct summary").click();
    await page.getByLabel("New message to").fill(uniqueAccount("nobody"));
    await page.getByRole("button", { name: "Start" }).click();
    await expect(page.locator(".new-direct .field-error")).toHaveText("No account of that name");
  });

  test("New private room is a plain form that opens the room, or says why not", async ({ page }) => {
    const lobby = uniqueRoom("private-nojs");
    await page.goto(`/room/${lobby}`);
    await fillCredentials(page, uniqueAccount("pat"), PASSWORD);
    await signInForm(page).signUp.click();
    await page.getByLabel("New private room").fill("not a room name!");
    await page.getByRole("button", { name: "Create" }).click();
    await expect(page.locator("form.join .field-error").filter({ hasText: /./ })).toContainText("1-64 characters");
    const room = uniqueRoom("hideout");
    await page.getByLabel("New private room").fill(room);
    await page.getByRole("button", { name: "Create" }).click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}$`));
    await expect(page.locator(".rooms a").filter({ hasText: room })).toHaveAttribute("aria-current", "page");
  });
});

for (const [colorScheme, width] of [
  ["light", 1280],
  ["dark", 1280],
  ["dark", 390],
] as const) {
  test(`screenshot: direct messages in the room list (${colorScheme}, ${width} px)`, async ({ browser }, testInfo) => {
    test.setTimeout(60_000);
    const lobby = uniqueRoom("dm-design");
    const ann = uniqueAccount("ann");
    const bob = uniqueAccount("bob");
    const b = await browserSignedUp(browser, bob, lobby);
    const context = await browser.newContext({ colorScheme, viewport: { width, height: 720 } });
    const page = await context.newPage();
    try {
      await openRoom(page, lobby);
      if (width < 720) await page.getByRole("button", { name: "Rooms" }).click();
      await fillCredentials(page, ann, PASSWORD);
      await signInForm(page).signUp.click();
      await expect(page.locator(".account-name")).toHaveText(ann);
      await startDirect(page, bob);
      await expect(page.locator(".room-header h1")).toHaveText(bob);
      await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");
      await sendTo(page, bob, "Lunch at noon?");
      const dm = page.url();
      await b.page.goto(dm);
      await expect(b.page.locator(".badge")).toHaveAttribute("data-state", "live");
      await sendTo(b.page, ann, "Sure, see you there.");
      await expect(messageTexts(page)).toHaveCount(2);
      await openRoom(page, lobby);
      await sendTo(b.page, ann, "I'll bring the slides");
      await expect(directLink(page, bob).locator(".unread.mention")).toHaveText("1");
      await openRoom(b.page, lobby);
      await typeAndSend(b.page, `@${ann} are you coming to the review?`);
      await typeAndSend(b.page, "(everyone else is welcome too)");
      await expect(messageTexts(page)).toHaveCount(2);
      if (width < 720) await page.getByRole("button", { name: "Rooms" }).click();
      await page.locator(".new-direct summary").click();
      await page.screenshot({ path: testInfo.outputPath(`direct-${colorScheme}-${width}.png`) });
    } finally {
      await context.close();
      await b.context.close();
    }
  });
}
