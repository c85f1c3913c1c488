import { expect, test, type BrowserContext, type Page } from "@playwright/test";
import { browserSignedUp, messageTexts, openRoom, typeAndSend, uniqueAccount, uniqueRoom, watchErrors } from "./helpers";

/** A VAPID public key as a server would publish it (the web-push codelab's example). */
const PUSH_KEY = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";

function bell(page: Page) {
  return page.getByRole("button", { name: "Notifications", exact: true });
}

function panel(page: Page) {
  return page.getByRole("region", { name: "Notifications" });
}

/** The server's half of Web Push, answered here: the key, and the subscriptions posted and
 * deleted (recorded). Headless Chromium has no push service, so this is the page's half. */
async function answerPush(page: Page): Promise<{ method: string; body: unknown }[]> {
  const calls: { method: string; body: unknown }[] = [];
  await page.route("**/api/push/key", (route) => route.fulfill({ json: { key: PUSH_KEY } }));
  await page.route("**/api/me/push-subscriptions", async (route) => {
    const request = route.request();
    calls.push({ method: request.method(), body: request.postDataJSON() });
    await route.fulfill({ status: request.method() === "POST" ? 201 : 204 });
  });
  return calls;
}

/** Every page of `context` records the notifications it makes and the permission prompts it
 * asks for, has the permission `granted` (or not yet asked), and can be made hidden. */
async function recordNotifications(context: BrowserContext, permission: "granted" | "default"): Promise<void> {
  await context.addInitScript((permission) => {
    const w = window as unknown as Record<string, unknown> & { __hidden: boolean };
    const made: unknown[] = [];
    w.__notifications = made;
    w.__permissionAsked = 0;
    w.__hidden = false;
    Object.defineProperty(document, "hidden", { configurable: true, get: () => w.__hidden });
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => (w.__hidden ? "hidden" : "visible"),
    });
    class Recorded {
      onclick: null | (() => void) = null;
      closed = false;
      constructor(
        readonly title: string,
        readonly options: NotificationOptions,
      ) {
        made.push(this);
      }
      static get permission() {
        return permission;
      }
      static requestPermission() {
        (w.__permissionAsked as number)++;
        return Promise.resolve(permission);
      }
      close() {
        this.closed = true;
      }
    }
    w.Notification = Recorded;
  }, permission);
}

async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hidden) => {
    (window as unknown as { __hidden: boolean }).__hidden = hidden;
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

function notificationsOf(page: Page): Promise<{ title: string; body?: string; tag?: string }[]> {
  return page.evaluate(() =>
    ((window as unknown as { __notifications: { title: string; options: NotificationOptions }[] }).__notifications).map(
      (made) => ({ title: made.title, body: made.options.body, tag: made.options.tag }),
    ),
  );
}

async function notifyLevel(context: BrowserContext, room: string): Promise<string | undefined> {
  const joined = await (await context.request.get("/api/me/rooms")).json();
  return joined.rooms.find((r: { room: string }) => r.room === room)?.notify;
}

test("the manifest, its icons and the service worker are served, and every page links the manifest", async ({ page, request }) => {
  const manifest = await request.get("/manifest.webmanifest");
  expect(manifest.status()).toBe(200);
  expect(manifest.headers()["content-type"]).toMatch(/^application\/manifest\+json/);
  const app = await manifest.json();
  expect(app).toMatchObject({ name: "longpoll-chat", start_url: "/", display: "standalone" });
  expect(app.short_name).toBeTruthy();
  const sizes = app.icons.map((icon: { sizes: string }) => icon.sizes);
  expect(sizes).toEqual(expect.arrayContaining(["192x192", "512x512"]));
  for (const icon of app.icons) {
    const image = await request.get(icon.src);
    expect(image.status()).toBe(200);
    expect(image.headers()["content-type"]).toBe("image/png");
  }
  const worker = await request.get("/sw.js");
  expect(worker.status()).toBe(200);
  expect(worker.headers()["content-type"]).toMatch(/javascript/);
  expect(await worker.text()).toContain("showNotification");

  for (const path of [`/room/${uniqueRoom("manifest")}`, "/sign-in", "/search?q=x"]) {
    await page.goto(path);
    await expect(page.locator('head link[rel="manifest"]')).toHaveAttribute("href", "/manifest.webmanifest");
  }
});

test("the bell sets the room's level, and asks for the permission only when told to", async ({ browser }) => {
  const room = uniqueRoom("bell");
  const context = await browser.newContext();
  await recordNotifications(context, "default");
  const page = await context.newPage();
  try {
    await openRoom(page, room);
    // A guest has no bell: levels and notifications are an account's.
    await expect(bell(page)).toHaveCount(0);
    await page.getByLabel("Name", { exact: true }).fill(uniqueAccount("nell"));
    await page.getByLabel("Password", { exact: true }).fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(bell(page)).toBeVisible();
    const errors = watchErrors(page);
    await page.reload();
    await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");
    expect(await page.evaluate(() => (window as unknown as { __permissionAsked: number }).__permissionAsked)).toBe(0);
    expect(await page.evaluate(() => navigator.serviceWorker.getRegistrations().then((all) => all.length))).toBe(0);

    await bell(page).click();
    await expect(bell(page)).toHaveAttribute("aria-expanded", "true");
    const levels = panel(page).getByRole("group", { name: "In this room, tell me of" });
    await expect(levels.getByRole("radio", { name: "Mentions of me" })).toBeChecked();
    await levels.getByRole("radio", { name: "Every message" }).check();
    await expect.poll(() => notifyLevel(context, room)).toBe("all");
    await levels.getByRole("radio", { name: "Nothing" }).check();
    await expect.poll(() => notifyLevel(context, room)).toBe("none");
    // Opening the panel asked nothing of the browser.
    await expect(panel(page).getByRole("status")).toHaveText("Off: nothing shows while the chat is in the background.");
    expect(await page.evaluate(() => (window as unknown as { __permissionAsked: number }).__permissionAsked)).toBe(0);

    // The level is kept: the panel shows it after a reload.
    await page.keyboard.press("Escape");
    await expect(panel(page)).toHaveCount(0);
    await expect(bell(page)).toBeFocused();
    await page.reload();
    await bell(page).click();
    await expect(levels.getByRole("radio", { name: "Nothing" })).toBeChecked();

    // The click asks (here the person says no).
    await panel(page).getByRole("button", { name: "Enable notifications on this browser" }).click();
    await expect(panel(page).getByRole("alert")).toHaveText("The browser did not allow notifications.");
    expect(await page.evaluate(() => (window as unknown as { __permissionAsked: number }).__permissionAsked)).toBe(1);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
});

test("enabling subscribes this browser with the server's key and gives the server the subscription; turning off ends it", async ({ browser }) => {
  const room = uniqueRoom("push");
  const { context, page } = await browserSignedUp(browser, uniqueAccount("pia"), room);
  try {
    await context.grantPermissions(["notifications"]);
    // The browser's push service, stood in for: it hands out one subscription.
    await context.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      const made = {
        endpoint: "https://push.example/send/abc123",
        toJSON() {
          return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: "BNcR-key", auth: "tBHI-auth" } };
        },
        unsubscribe() {
          w.__unsubscribed = true;
          return Promise.resolve(true);
        },
      };
      let current: unknown = null;
      PushManager.prototype.subscribe = function (options?: PushSubscriptionOptionsInit) {
        w.__keyBytes = (options?.applicationServerKey as ArrayBufferView | undefined)?.byteLength;
        w.__visibleOnly = options?.userVisibleOnly;
        current = made;
        return Promise.resolve(made as unknown as PushSubscription);
      };
      PushManager.prototype.getSubscription = () => Promise.resolve(current as PushSubscription | null);
    });
    await page.reload();
    const calls = await answerPush(page);
    const errors = watchErrors(page);
    await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");

    await bell(page).click();
    await expect(panel(page).getByRole("status")).toHaveText("On while the chat is open in a tab.");
    await panel(page).getByRole("button", { name: "Enable notifications on this browser" }).click();
    await expect(panel(page).getByRole("status")).toHaveText("On, even while the chat is closed.");
    expect(calls).toEqual([
      {
        method: "POST",
        body: {
          endpoint: "https://push.example/send/abc123",
          expirationTime: null,
          keys: { p256dh: "BNcR-key", auth: "tBHI-auth" },
        },
      },
    ]);
    // The key went to the push service as its 65 bytes (an uncompressed P-256 point).
    expect(await page.evaluate(() => (window as unknown as { __keyBytes: number }).__keyBytes)).toBe(65);
    expect(await page.evaluate(() => (window as unknown as { __visibleOnly: boolean }).__visibleOnly)).toBe(true);
    const registrations = await page.evaluate(() =>
      navigator.serviceWorker.getRegistrations().then((all) => all.map((one) => one.active?.scriptURL ?? "")),
    );
    expect(registrations).toEqual([expect.stringMatching(/\/sw\.js$/)]);

    await panel(page).getByRole("button", { name: "Turn off" }).click();
    await expect(panel(page).getByRole("status")).toHaveText("Off: nothing shows while the chat is in the background.");
    expect(calls[1]).toEqual({ method: "DELETE", body: { endpoint: "https://push.example/send/abc123" } });
    expect(await page.evaluate(() => (window as unknown as { __unsubscribed: boolean }).__unsubscribed)).toBe(true);
    // Off stays off on this browser, although the permission is still granted.
    await page.keyboard.press("Escape");
    await bell(page).click();
    await expect(panel(page).getByRole("status")).toHaveText("Off: nothing shows while the chat is in the background.");
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
});

test("a push subscription the browser refuses is explained, and the open chat still notifies", async ({ browser }) => {
  const room = uniqueRoom("no-push");
  const { context, page } = await browserSignedUp(browser, uniqueAccount("ned"), room);
  try {
    await context.grantPermissions(["notifications"]);
    const calls = await answerPush(page);
    // What Chromium itself logs when a page of a private window (every Playwright context)
    // subscribes: a fact of the test browser, not the page's.
    const errors = watchErrors(page);
    await bell(page).click();
    await panel(page).getByRole("button", { name: "Enable notifications on this browser" }).click();
    // Headless Chromium has no push service: the real subscribe fails.
    await expect(panel(page).getByRole("alert")).toContainText("Only while the chat is open: the push service refused", {
      timeout: 15_000,
    });
    await expect(panel(page).getByRole("status")).toHaveText("On while the chat is open in a tab.");
    expect(calls).toEqual([]);
    expect(errors.filter((error) => !error.includes("does not support the Push API in incognito"))).toEqual([]);
  } finally {
    await context.close();
  }
});

test("a hidden tab notifies of a mention (one tab of the browser only), and a click opens the room at it", async ({ browser }) => {
  test.setTimeout(60_000);
  const lobby = uniqueRoom("lobby");
  const talk = uniqueRoom("talk");
  const ann = uniqueAccount("ann");
  const bob = uniqueAccount("bob");
  const a = await browserSignedUp(browser, ann, talk);
  const context = await browser.newContext();
  await recordNotifications(context, "granted");
  const first = await context.newPage();
  try {
    await openRoom(first, talk);
    await first.getByLabel("Name", { exact: true }).fill(bob);
    await first.getByLabel("Password", { exact: true }).fill("correct horse battery");
    await first.getByRole("button", { name: "Create account" }).click();
    await expect(first.locator(".account-name")).toHaveText(bob);
    await typeAndSend(a.page, "before bob left");
    await expect(messageTexts(first)).toHaveText(["before bob left"]);
    await openRoom(first, lobby);
    const second = await context.newPage();
    await openRoom(second, lobby);
    const tabs = [first, second];
    const all = async () => (await Promise.all(tabs.map(notificationsOf))).flat();

    // Visible: the page shows what comes, nothing pops up.
    await typeAndSend(a.page, `@${bob} while you look`);
    await expect(first.locator(".rooms a").filter({ hasText: talk }).locator(".unread.mention")).toHaveText("@1");

    for (const tab of tabs) await setHidden(tab, true);
    await typeAndSend(a.page, "plain news");
    await typeAndSend(a.page, `@${bob} ping`);
    await expect.poll(all).toEqual([{ title: `${ann} in #${talk}`, body: `@${bob} ping`, tag: talk }]);

    // Every message, once the room asks for them all (set with the bell of the tab that does
    // not notify: the one that does reads the levels again).
    const leader = (await first.locator("html").getAttribute("data-stream-leader")) ? first : second;
    const follower = leader === first ? second : first;
    await setHidden(follower, false);
    await openRoom(follower, talk);
    await bell(follower).click();
    await panel(follower).getByRole("radio", { name: "Every message" }).check();
    await expect.poll(() => notifyLevel(context, talk)).toBe("all");
    await openRoom(follower, lobby);
    await setHidden(follower, true);
    await typeAndSend(a.page, "anything at all");
    await expect.poll(async () => (await all()).length).toBe(2);
    expect(await notificationsOf(follower)).toEqual([]);
    expect((await notificationsOf(leader))[1]).toEqual({ title: `${ann} in #${talk}`, body: "anything at all", tag: talk });

    // Bob's own message, from elsewhere, is never a notification.
    await context.request.post("/api/send", { data: { room: talk, text: "sent from my phone" } });
    await typeAndSend(a.page, "after bob's");
    await expect.poll(async () => (await all()).map((made) => made.body)).toEqual([`@${bob} ping`, "anything at all", "after bob's"]);

    // A click opens the room at the message.
    await setHidden(leader, false);
    await leader.evaluate(() => {
      const made = (window as unknown as { __notifications: { onclick: () => void }[] }).__notifications;
      made[1].onclick();
    });
    await expect(leader).toHaveURL(new RegExp(`/room/${talk}\\?at=`));
    await expect(leader.locator(".message.highlight .text")).toHaveText("anything at all");
  } finally {
    await context.close();
    await a.context.close();
  }
});

for (const [colorScheme, width] of [
  ["light", 1280],
  ["dark", 1280],
  ["light", 390],
] as const) {
  test(`screenshot: the notifications panel (${colorScheme}, ${width} px)`, async ({ browser }, testInfo) => {
    const room = uniqueRoom("bell-design");
    const context = await browser.newContext({ colorScheme, viewport: { width, height: 720 } });
    const page = await context.newPage();
    try {
      await openRoom(page, room);
      if (width < 720) await page.getByRole("button", { name: "Rooms" }).click();
      await page.getByLabel("Name", { exact: true }).fill(uniqueAccount("nell"));
      await page.getByLabel("Password", { exact: true }).fill("correct horse battery");
      await page.getByRole("button", { name: "Create account" }).click();
      await expect(page.locator(".account-name")).toBeVisible();
      await openRoom(page, room);
      await expect(bell(page)).toBeVisible();
      await typeAndSend(page, "Notifications live behind the bell.");
      await bell(page).click();
      await expect(panel(page).getByRole("radio", { name: "Mentions of me" })).toBeChecked();
      await page.screenshot({ path: testInfo.outputPath(`notifications-${colorScheme}-${width}.png`) });
    } finally {
      await context.close();
    }
  });
}
