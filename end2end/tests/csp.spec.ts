import { expect, test, type Page } from "@playwright/test";
import { openRoom, uniqueRoom } from "./helpers";

/** Collects every Content-Security-Policy violation the page reports, from the DOM event and
 * from the console (Chromium logs blocked resources there too). */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  await page.exposeFunction("reportViolation", (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      // @ts-expect-error: exposed above
      window.reportViolation(`${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  return violations;
}

test("the chat hydrates and polls under its Content-Security-Policy", async ({ page }) => {
  const violations = await watchViolations(page);
  const response = await page.goto("/");
  expect(response?.headers()["content-security-policy"]).toContain("'nonce-");
  await openRoom(page, uniqueRoom("csp"));
  expect(violations).toEqual([]);
});

test("Swagger UI and ReDoc work under the docs policy", async ({ page }) => {
  const violations = await watchViolations(page);
  await page.goto("/docs/");
  await expect(page.locator(".swagger-ui .info .title")).toBeVisible();
  await page.goto("/redoc");
  await expect(page.locator(".api-info h1, h1").first()).toBeVisible();
  await page.waitForLoadState("networkidle");
  // ReDoc's "API docs by Redocly" logo comes from its CDN: blocked on purpose, the docs load
  // nothing from other sites.
  expect(violations.filter((text) => !text.includes("https://cdn.redoc.ly/"))).toEqual([]);
});
