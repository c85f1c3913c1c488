import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import http from "node:http";
import net from "node:net";
import { baseURL } from "../playwright.config";
import {
  browserSignedUp,
  fillCredentials,
  freePort,
  messageTexts,
  openRoom,
  OwnServer,
  PASSWORD,
  signIn,
  signInForm,
  signUp,
  typeAndSend,
  uniqueAccount,
  uniqueRoom,
} from "./helpers";

function roomLink(page: Page, room: string) {
  return page.locator(".rooms a").filter({ hasText: room });
}

function membersButton(page: Page) {
  return page.locator(".members-menu summary");
}

test("two browsers sign up and in, and each sees its own name", async ({ browser }) => {
  const room = uniqueRoom("accounts");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);

  // Signed in, the composer sends as the account: no name to pick.
  await expect(a.page.getByLabel("Your name")).toHaveCount(0);
  await expect(a.page.locator(".composer .identity strong")).toHaveText(alice);
  await expect(b.page.locator(".account-name")).toHaveText(bob);

  // Sign out and in again; the session survives a reload.
  await b.page.getByRole("button", { name: "Sign out" }).click();
  await expect(signInForm(b.page).form).toBeVisible();
  await expect(b.page.getByLabel("Your name")).toBeVisible();
  await signIn(b.page, bob);
  await b.page.reload();
  await expect(b.page.locator(".account-name")).toHaveText(bob);
  await expect(a.page.locator(".account-name")).toHaveText(alice);

  // Each one's message carries their name, without a guest mark.
  await typeAndSend(a.page, "hello from alice");
  await expect(messageTexts(b.page)).toHaveText(["hello from alice"]);
  const message = b.page.locator(".messages .message").filter({ hasText: "hello from alice" });
  await expect(message.locator(".sender")).toHaveText(alice);
  await expect(message.locator(".guest-tag")).toHaveCount(0);
  await a.context.close();
  await b.context.close();
});

test("sign-in mistakes are explained in the form", async ({ page, browser }) => {
  const taken = uniqueAccount("taken");
  const other = await browserSignedUp(browser, taken, uniqueRoom("mistakes"));
  await other.context.close();

  await openRoom(page, uniqueRoom("mistakes"));
  const form = signInForm(page);
  await fillCredentials(page, taken, "not the password");
  await form.signIn.click();
  await expect(form.error).toHaveText("Wrong name or password");

  await fillCredentials(page, taken, PASSWORD);
  await form.signUp.click();
  await expect(form.error).toHaveText("That name is taken");

  await fillCredentials(page, uniqueAccount("short"), "short");
  await form.signUp.click();
  await expect(form.error).toHaveText("Password must be at least 8 characters");
  await expect(page.locator(".account-name")).toHaveCount(0);
});

test("a private room is invisible to others until its owner adds them, then live for both", async ({ browser }) => {
  const room = uniqueRoom("secret");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const lobby = uniqueRoom("lobby");
  const a = await browserSignedUp(browser, alice, lobby);
  const b = await browserSignedUp(browser, bob, lobby);

  // Alice creates the room from the room list and lands in it.
  await a.page.getByLabel("New private room").fill(room);
  await a.page.getByRole("button", { name: "Create" }).click();
  await expect(a.page).toHaveURL(new RegExp(`/room/${room}$`));
  await expect(a.page.locator(".badge")).toHaveAttribute("data-state", "live");
  await expect(roomLink(a.page, room)).toHaveClass(/private/);
  await expect(roomLink(a.page, room).getByRole("img", { name: "private" })).toBeVisible();
  await typeAndSend(a.page, "before bob was in");
  await expect(messageTexts(a.page)).toHaveText(["before bob was in"]);

  // Bob sees neither the room in his list nor anything in it.
  await b.page.reload();
  await expect(b.page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await expect(roomLink(b.page, lobby)).toBeVisible();
  await expect(roomLink(b.page, room)).toHaveCount(0);
  await b.page.goto(`/room/${room}`);
  await expect(b.page.getByText("This room is private or no longer exists")).toBeVisible();
  await expect(messageTexts(b.page)).toHaveCount(0);
  await expect(b.page.locator(".composer")).toHaveCount(0);
  await expect(roomLink(b.page, room)).toHaveCount(0);
  await expect(membersButton(b.page)).toHaveCount(0);

  // Alice adds Bob from the members list (owner first).
  await membersButton(a.page).click();
  await expect(a.page.locator(".member .member-name")).toHaveText([alice.toLowerCase()]);
  await a.page.getByLabel("Add a member").fill(bob);
  await a.page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(a.page.locator(".member .member-name")).toHaveText([alice.toLowerCase(), bob.toLowerCase()]);
  await expect(a.page.getByLabel("Add a member")).toHaveValue("");
  await expect(membersButton(a.page)).toHaveAttribute("aria-label", "Members: 2");

  // Now Bob has it in his list and follows it live, and so does Alice.
  await b.page.reload();
  await expect(b.page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await expect(b.page.locator(".badge")).toHaveAttribute("data-state", "live");
  await expect(roomLink(b.page, room)).toHaveClass(/private/);
  await expect(messageTexts(b.page)).toHaveText(["before bob was in"]);
  await typeAndSend(a.page, "welcome, bob");
  await expect(messageTexts(b.page)).toHaveText(["before bob was in", "welcome, bob"]);
  await typeAndSend(b.page, "thanks, alice");
  await expect(messageTexts(a.page).last()).toHaveText("thanks, alice");
  // Bob may see the members but not change them.
  await membersButton(b.page).click();
  await expect(b.page.getByLabel("Add a member")).toHaveCount(0);
  await expect(b.page.getByRole("button", { name: `Remove ${alice.toLowerCase()}` })).toHaveCount(0);

  // Removed, Bob's open page says so at once instead of waiting forever.
  await a.page.getByRole("button", { name: `Remove ${bob.toLowerCase()}` }).click();
  await expect(a.page.locator(".member .member-name")).toHaveText([alice.toLowerCase()]);
  await expect(b.page.getByText("This room is private or no longer exists")).toBeVisible();
  await expect(b.page.locator(".badge")).toHaveAttribute("data-state", "unavailable");
  await expect(messageTexts(b.page)).toHaveCount(0);
  await a.context.close();
  await b.context.close();
});

test("nobody can send under a signed-in user's name", async ({ browser, request }) => {
  const room = uniqueRoom("imposter");
  const alice = uniqueAccount("alice");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, alice, room);
  const b = await browserSignedUp(browser, bob, room);

  // Bob, signed in, names Alice as the sender: refused.
  const asAlice = await b.page.request.post("/api/send", { data: { sender: alice, text: "I am alice", room } });
  expect(asAlice.status()).toBe(403);
  // A guest using Alice's name, in any letter case: refused.
  for (const sender of [alice, alice.toUpperCase()]) {
    const guest = await request.post("/api/send", { data: { sender, text: "I am alice too", room } });
    expect(guest.status()).toBe(403);
  }
  // A guest's look-alike name goes through, but is marked as a guest's.
  const lookalike = await request.post("/api/send", { data: { sender: `${alice} smith`, text: "trust me", room } });
  expect(lookalike.status()).toBe(200);
  const honest = await b.page.request.post("/api/send", { data: { text: "it is bob", room } });
  expect(honest.status()).toBe(200);

  await expect(messageTexts(a.page)).toHaveText(["trust me", "it is bob"]);
  const fake = a.page.locator(".messages .message").filter({ hasText: "trust me" });
  await expect(fake.locator(".sender")).toHaveText(`${alice} smith`);
  await expect(fake.locator(".guest-tag")).toHaveText("guest");
  const real = a.page.locator(".messages .message").filter({ hasText: "it is bob" });
  await expect(real.locator(".sender")).toHaveText(bob);
  await expect(real.locator(".guest-tag")).toHaveCount(0);
  const history = await (await request.get(`/api/history?room=${room}`)).json();
  expect(history.messages.map((m: { text: string; verified: boolean }) => [m.text, m.verified])).toEqual([
    ["trust me", false],
    ["it is bob", true],
  ]);
  await a.context.close();
  await b.context.close();
});

/** Serves pages of another origin (same site, another port: the browser still sends the
 * `SameSite=Lax` session cookie with its cross-origin form posts). */
async function attackerSite(pages: Record<string, string>): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const page = pages[req.url ?? ""];
    res.writeHead(page ? 200 : 404, { "content-type": "text/html" });
    res.end(page ?? "");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function autoSubmittingForm(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join("");
  return `<!doctype html><form method="post" action="${action}">${inputs}</form>
    <script>document.forms[0].submit()</script>`;
}

test("another site's form post with the user's cookie changes nothing", async ({ browser, request }) => {
  const room = uniqueRoom("csrf");
  const alice = uniqueAccount("alice");
  const a = await browserSignedUp(browser, alice, room);
  const evil = await attackerSite({
    "/send": autoSubmittingForm(`${baseURL}/sfn/send`, { room, text: "forged" }),
    "/sign-out": autoSubmittingForm(`${baseURL}/sfn/sign-out`, {}),
    "/create-room": autoSubmittingForm(`${baseURL}/sfn/create-room`, { name: `${room}-evil` }),
  });
  try {
    const victim = await a.context.newPage();
    for (const path of ["/send", "/sign-out", "/create-room"]) {
      const posted = victim.waitForRequest((req) => req.method() === "POST" && req.url().startsWith(`${baseURL}/sfn/`));
      await victim.goto(`${evil.url}${path}`);
      const post = await posted;
      // The browser really sent the session cookie, from the other origin.
      const headers = await post.allHeaders();
      expect(headers["cookie"] ?? "").toContain("lpc_session=");
      expect(headers["origin"]).toBe(evil.url);
      expect((await post.response())?.status()).toBe(403);
    }
  } finally {
    await evil.close();
  }

  // Nothing happened: no message, no room, and Alice is still signed in.
  const history = await (await request.get(`/api/history?room=${room}`)).json();
  expect(history.messages.map((m: { text: string }) => m.text)).not.toContain("forged");
  expect(history.messages).toEqual([]);
  const me = await a.page.request.get("/api/me");
  expect(me.status()).toBe(200);
  expect((await me.json()).name).toBe(alice);
  const rooms = await (await a.page.request.get("/api/rooms")).json();
  expect(rooms.rooms.map((r: { name: string }) => r.name)).not.toContain(`${room}-evil`);
  await a.page.reload();
  await expect(a.page.locator(".account-name")).toHaveText(alice);
  await expect(messageTexts(a.page)).toHaveCount(0);
  await a.context.close();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("signs up, out and in with plain forms, and sends as the account", async ({ page, request }) => {
    const room = uniqueRoom("nojs-account");
    const name = uniqueAccount("nojs");
    await page.goto(`/room/${room}`);
    await fillCredentials(page, name, PASSWORD);
    await signInForm(page).signUp.click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}\\??$`));
    await expect(page.locator(".account-name")).toHaveText(name);
    await expect(page.getByLabel("Your name")).toHaveCount(0);

    await page.getByRole("textbox", { name: /^Message #/ }).fill("sent as an account, no JS");
    await page.getByRole("button", { name: "Send" }).click();
    await expect(messageTexts(page)).toHaveText(["sent as an account, no JS"]);
    const message = page.locator(".messages .message").first();
    await expect(message.locator(".sender")).toHaveText(name);
    await expect(message.locator(".guest-tag")).toHaveCount(0);

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(signInForm(page).form).toBeVisible();
    // A mistake comes back in the page, not as a bare error.
    await fillCredentials(page, name, "wrong password");
    await signInForm(page).signIn.click();
    await expect(signInForm(page).error).toHaveText("Wrong name or password");
    await fillCredentials(page, name, PASSWORD);
    await signInForm(page).signIn.click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}\\??$`));
    await expect(page.locator(".account-name")).toHaveText(name);
    await page.getByRole("textbox", { name: /^Message #/ }).fill("and again");
    await page.getByRole("button", { name: "Send" }).click();
    await expect(messageTexts(page)).toHaveText(["sent as an account, no JS", "and again"]);

    const history = await (await request.get(`/api/history?room=${room}`)).json();
    expect(history.messages.map((m: { sender: string; verified: boolean }) => [m.sender, m.verified])).toEqual([
      [name, true],
      [name, true],
    ]);
  });
});

for (const javaScriptEnabled of [true, false]) {
  test(`without guests a room sends a visitor to sign in and back (${javaScriptEnabled ? "with" : "without"} JavaScript)`, async ({ browser }) => {
    const server = new OwnServer(await freePort(), "memory", ["--guests", "off"]);
    await server.start();
    const context = await browser.newContext({ baseURL: server.baseURL, javaScriptEnabled });
    const page = await context.newPage();
    const room = uniqueRoom("staff");
    const signInPage = `${server.baseURL}/sign-in?next=/room/${room}`;
    try {
      await page.goto(`/room/${room}`);
      await expect(page).toHaveURL(signInPage);
      await expect(page.getByRole("heading", { name: "Sign in to chat" })).toBeVisible();
      await expect(page.locator(".sidebar")).toHaveCount(0);
      if (javaScriptEnabled) {
        await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
      }

      const name = uniqueAccount("staff");
      await fillCredentials(page, name, PASSWORD);
      await signInForm(page).signUp.click();
      await expect(page).toHaveURL(new RegExp(`/room/${room}$`));
      await expect(page.locator(".account-name")).toHaveText(name);
      if (javaScriptEnabled) {
        await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");
      }
      await page.getByRole("textbox", { name: /^Message #/ }).fill("members only");
      await page.getByRole("button", { name: "Send" }).click();
      await expect(messageTexts(page)).toHaveText(["members only"]);

      await page.getByRole("button", { name: "Sign out" }).click();
      await expect(page).toHaveURL(signInPage);
      await expect(page.getByText("members only")).toHaveCount(0);
      // Signed out, the API refuses this browser too.
      expect((await context.request.get(`/api/history?room=${room}`)).status()).toBe(401);
    } finally {
      await context.close();
      await server.stop();
    }
  });
}

for (const colorScheme of ["light", "dark"] as const) {
  test(`screenshot: a private room and its members (${colorScheme})`, async ({ browser }, testInfo) => {
    const room = uniqueRoom("design");
    const lobby = uniqueRoom("lobby");
    const owner = uniqueAccount("maria");
    const friend = uniqueAccount("jon");
    const f = await browserSignedUp(browser, friend, lobby);
    const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await openRoom(page, lobby);
    await page.getByLabel("Your name").fill("visitor");
    await page.getByRole("textbox", { name: /^Message #/ }).fill("a guest was here");
    await page.getByRole("button", { name: "Send" }).click();
    await signUp(page, owner);
    await page.getByLabel("New private room").fill(room);
    await page.getByRole("button", { name: "Create" }).click();
    await expect(page).toHaveURL(new RegExp(`/room/${room}\\??$`));
    await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");
    await membersButton(page).click();
    await page.getByLabel("Add a member").fill(friend);
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await expect(page.locator(".member")).toHaveCount(2);
    await typeAndSend(page, "Welcome to the planning room.");
    await typeAndSend(page, "Agenda is in the doc.");
    await f.page.goto(`/room/${room}`);
    await expect(f.page.locator(".badge")).toHaveAttribute("data-state", "live");
    await typeAndSend(f.page, "Thanks! Reading it now.");
    await expect(messageTexts(page)).toHaveCount(3);
    await page.screenshot({ path: testInfo.outputPath(`private-room-${colorScheme}.png`) });
    await page.goto(`/room/${lobby}`);
    await expect(messageTexts(page)).toHaveText(["a guest was here"]);
    await page.screenshot({ path: testInfo.outputPath(`public-room-${colorScheme}.png`) });
    await context.close();
    await f.context.close();
  });
}
