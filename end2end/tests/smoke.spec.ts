import { expect, test } from "@playwright/test";

test("the page is served and hydrates", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
});

test("the REST API answers curl-style calls", async ({ request }) => {
  const room = `smoke-${Date.now()}`;
  const sent = await request.post("/api/send", { data: { sender: "e2e", text: "hello", room } });
  expect(sent.ok()).toBeTruthy();
  const history = await request.get(`/api/history?room=${room}`);
  const body = await history.json();
  expect(body.messages.map((m: { text: string }) => m.text)).toEqual(["hello"]);
});
