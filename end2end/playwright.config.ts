import { defineConfig, devices } from "@playwright/test";
import { repo, serverBin, siteRoot } from "./server";

// The server is started by Playwright itself and awaited on /health, so no test races the
// server's start.
const port = Number(process.env.E2E_PORT ?? 3917);
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          // Debian's Chromium; Playwright's own browser download does not work here.
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: {
    // A leaver stays online for 2 s, not 15, so the presence test need not wait long.
    command: `"${serverBin}" --addr 127.0.0.1:${port} --store memory --sign-in-per-address 1000 --sign-up-per-address 1000 --presence-grace-secs 2`,
    cwd: repo,
    env: { LEPTOS_SITE_ROOT: siteRoot, RUST_LOG: "warn" },
    url: `${baseURL}/health`,
    reuseExistingServer: false,
    timeout: 30_000,
  },
});
