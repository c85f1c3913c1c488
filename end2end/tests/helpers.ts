import { expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { repo, serverBin, siteRoot } from "../server";

/** A room name no other test uses, so tests can run in parallel. */
export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Makes every page of the context start with this display name (as if picked earlier). */
export async function useName(context: BrowserContext, name: string): Promise<void> {
  await context.addInitScript((chosen) => {
    window.localStorage.setItem("longpoll-chat.name", chosen);
  }, name);
}

/** Opens a room and waits until the page is hydrated and its poll loop is live. */
export async function openRoom(page: Page, room: string, timeout?: number): Promise<void> {
  await page.goto(`/room/${room}`);
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout });
  await expect(page.locator(".badge")).toHaveAttribute("data-state", "live", { timeout });
}

export async function sendViaApi(
  request: APIRequestContext,
  room: string,
  text: string,
  sender = "curl",
  baseURL?: string,
): Promise<string> {
  const response = await request.post(`${baseURL ?? ""}/api/send`, {
    data: { sender, text, room },
  });
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.status).toBe("sent");
  return body.message_id;
}

export function messageTexts(page: Page) {
  return page.locator(".messages .message .text");
}

/** Types a message in the composer, presses Enter, and waits until the server took it (the
 * composer empties): it takes one send at a time, so an Enter pressed sooner is ignored. */
export async function typeAndSend(page: Page, text: string): Promise<void> {
  const composer = page.getByRole("textbox", { name: /^Message #/ });
  await composer.fill(text);
  await composer.press("Enter");
  await expect(composer).toHaveValue("");
}

export const PASSWORD = "correct horse battery";

/** An account name no other test uses (at most 32 characters). */
export function uniqueAccount(prefix: string): string {
  return `${prefix}${Date.now().toString(36).slice(-5)}${Math.random().toString(36).slice(2, 7)}`;
}

/** The sign-in form of the room list. */
export function signInForm(page: Page) {
  const form = page.locator("form.sign-in");
  return {
    form,
    name: form.getByLabel("Name", { exact: true }),
    password: form.getByLabel("Password", { exact: true }),
    signIn: form.getByRole("button", { name: "Sign in" }),
    signUp: form.getByRole("button", { name: "Create account" }),
    error: form.locator(".field-error"),
  };
}

export async function fillCredentials(page: Page, name: string, password: string): Promise<void> {
  const form = signInForm(page);
  await form.name.fill(name);
  await form.password.fill(password);
}

/** Creates an account in the page (which signs it in) and waits until the page says so. */
export async function signUp(page: Page, name: string, password = PASSWORD): Promise<void> {
  await fillCredentials(page, name, password);
  await signInForm(page).signUp.click();
  await expect(page.locator(".account-name")).toHaveText(name);
}

export async function signIn(page: Page, name: string, password = PASSWORD): Promise<void> {
  await fillCredentials(page, name, password);
  await signInForm(page).signIn.click();
  await expect(page.locator(".account-name")).toHaveText(name);
}

/** A new browser (its own cookies) with an account signed in, on a live room. */
export async function browserSignedUp(
  browser: Browser,
  name: string,
  room: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openRoom(page, room);
  await signUp(page, name);
  await expect(page.locator(".badge")).toHaveAttribute("data-state", "live");
  return { context, page };
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A server process of our own (for tests that stop and restart it). */
export class OwnServer {
  private process?: ChildProcess;

  constructor(
    readonly port: number,
    private readonly store: string,
    private readonly options: string[] = [],
  ) {}

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ["--addr", `127.0.0.1:${this.port}`, "--store", this.store, ...this.options];
    this.process = spawn(serverBin, args, {
      cwd: repo,
      env: { ...process.env, LEPTOS_SITE_ROOT: siteRoot, RUST_LOG: "warn" },
      stdio: "inherit",
    });
    // Ready when /health answers; the loop ends with the test's own timeout at worst.
    for (;;) {
      try {
        if ((await fetch(`${this.baseURL}/health`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server with SIGTERM (graceful shutdown) and waits for it to exit. */
  async stop(): Promise<number | null> {
    const child = this.process;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    return exited;
  }
}

/** Console errors and uncaught exceptions, as a list of their texts. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${message.text()} ${message.location().url}`);
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}
