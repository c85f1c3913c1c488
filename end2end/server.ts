import path from "node:path";

// Where the server the tests start comes from. `make test-e2e` passes SERVER_BIN (the tests'
// build) and LEPTOS_SITE_ROOT (the site it serves, relative to the repo unless absolute).
export const repo = path.resolve(__dirname, "..");
export const serverBin = process.env.SERVER_BIN ?? path.join(repo, "target/debug/longpoll-chat");
export const siteRoot = path.resolve(repo, process.env.LEPTOS_SITE_ROOT ?? "target/site");
