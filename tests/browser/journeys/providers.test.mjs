// Journeys 3 and 4: a maintenance window turns a connection orange and clears by itself; an
// expired consent turns it red, with a banner and a primary notification, and Reconnect keeps the
// history. The server's time is moved through SALDO_CLOCK_FILE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Saldo, Browser, api, claim, connectBank, signIn, until } from "../lib/saldo.mjs";

/** A card's status on Providers & Integrations. */
async function status(page, institution) {
  const card = page.locator("section", { has: page.getByRole("heading", { name: institution }) });
  return (await card.getByTestId("status").innerText()).trim();
}

test("a maintenance window is orange with its message, then clears by itself", async () => {
  const saldo = await Saldo.start();
  saldo.setClock("2026-03-02T05:00:00Z");
  const b = await Browser.launch(saldo, "maintenance");
  try {
    await claim(b);
    await connectBank(b, "maintenance", "Sandbox Maintenance Bank");
    await b.goto("/settings/providers");
    assert.equal(await status(b.page, "Sandbox Maintenance Bank"), "Up to date");

    // The nightly maintenance: Sync now meets it.
    saldo.setClock("2026-03-03T01:30:00Z");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Sync now" }));
    assert.match(await status(b.page, "Sandbox Maintenance Bank"), /Temporary problem/);
    const message = await b.page.getByTestId("message").innerText();
    assert.match(message, /maintenance/i, message);
    await b.check("orange");

    // Later, saldo's own retry finds the bank back: green again, nobody pressed anything.
    saldo.setClock("2026-03-03T04:30:00Z");
    await until(b, "/settings/providers", async (page) => (await status(page, "Sandbox Maintenance Bank")) === "Up to date");
    await b.check("cleared");
    b.assertClean();
  } finally {
    await b.close();
    await saldo.stop();
  }
});

test("an expired consent is red, with a banner and a notification, and Reconnect keeps the history", async () => {
  const saldo = await Saldo.start();
  saldo.setClock("2026-03-02T05:00:00Z");
  const b = await Browser.launch(saldo, "expired");
  try {
    await claim(b);
    await connectBank(b, "short consent", "Sandbox Short Consent Bank");
    const before = await api(b, "/accounts");
    const account = before.find((a) => a.tracked);
    const older = await api(b, `/accounts/${account.id}/transactions?limit=500`);
    assert.ok(older.transactions.length > 0, "the first sync brought history");

    // Eight days later the 7-day consent has ended: the scheduled sync finds it, red.
    saldo.setClock("2026-03-10T06:00:00Z");
    await until(b, "/settings/providers", async (page) => (await status(page, "Sandbox Short Consent Bank")) === "Needs you");
    await b.check("red");
    await b.goto("/");
    await b.page.getByRole("alert").filter({ hasText: "Sandbox Short Consent Bank needs you" }).waitFor();
    await b.goto("/notifications");
    await b.page.locator("li.unread").first().waitFor();

    // Reconnect: the bank's page again, then a fresh sync into the same accounts.
    await b.goto("/settings/providers");
    await b.clickAndCheck(b.page.getByRole("button", { name: /Reconnect|Renew/ }).first());
    await b.clickAndCheck(b.page.getByRole("button", { name: "Allow read-only access" }));
    await b.page.getByRole("heading", { name: /Reconnected Sandbox Short Consent Bank/ }).waitFor();
    await b.goto("/settings/providers");
    assert.equal(await status(b.page, "Sandbox Short Consent Bank"), "Up to date");
    const after = await api(b, "/accounts");
    assert.deepEqual(after.map((a) => a.id).sort(), before.map((a) => a.id).sort(), "the same accounts");
    await b.goto(`/accounts/${account.id}`);
    const kept = await api(b, `/accounts/${account.id}/transactions?limit=500`);
    const keptIds = new Set(kept.transactions.map((t) => t.id));
    // Bookings from before the connect stay as they were (pending ones may have been booked since).
    const booked = older.transactions.filter((t) => t.status === "booked" && t.booking_date < "2026-02-25");
    assert.ok(booked.length > 0);
    const lost = booked.filter((t) => !keptIds.has(t.id));
    assert.deepEqual(lost, [], "every older booking is still there");
    // The dashboard no longer asks for anything.
    await b.goto("/");
    assert.equal(await b.page.getByRole("alert").count(), 0);
    b.assertClean();
  } finally {
    await b.close();
    await saldo.stop();
  }
});

test("Reconnect offers an account the bank opened since, and keeps the one it had", async () => {
  const saldo = await Saldo.start();
  saldo.setClock("2026-03-02T05:00:00Z");
  const b = await Browser.launch(saldo, "new-account");
  try {
    await claim(b);
    // This bank's second account comes and goes every ten days, from a day of its own for each
    // connection: connect until the bank shows only the first.
    let found = 0;
    for (let attempt = 0; attempt < 12 && found !== 1; attempt++) {
      await b.goto("/connect?q=changing");
      await b.clickAndCheck(b.page.getByRole("button", { name: /^Sandbox Changing Accounts Bank\b/ }));
      await b.clickAndCheck(b.page.getByRole("button", { name: "Allow read-only access" }));
      await b.page.getByRole("heading", { name: /Choose what to track/ }).waitFor();
      found = await b.page.getByRole("checkbox").count();
      if (found === 1) break;
      const connection = new URL(b.page.url()).pathname.split("/")[2];
      await b.goto("/settings/providers");
      const card = b.page.locator(`#connection-${connection}`);
      await card.getByText("Disconnect", { exact: true }).click();
      await card.getByLabel(/Delete the accounts/).check();
      await b.clickAndCheck(card.getByRole("button", { name: /^Disconnect / }));
    }
    assert.equal(found, 1, "the bank showed one account on some connect");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Save" }));
    const [first] = await api(b, "/accounts");

    // Ten days later the bank has opened the second account; Reconnect offers it.
    saldo.setClock("2026-03-12T05:00:00Z");
    await b.goto("/settings/providers");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Reconnect" }));
    await b.clickAndCheck(b.page.getByRole("button", { name: "Allow read-only access" }));
    await b.page.getByRole("heading", { name: /Reconnected/ }).waitFor();
    await b.clickAndCheck(b.page.getByRole("link", { name: "Choose accounts" }));
    const pot = b.page.locator("tr", { hasText: "Holiday pot" });
    await pot.getByText("new").waitFor();
    assert.ok(await pot.getByRole("checkbox").isChecked(), "a new account comes ticked");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Save" }));
    const accounts = await api(b, "/accounts");
    assert.equal(accounts.filter((a) => a.tracked).length, 2, JSON.stringify(accounts));
    assert.ok(accounts.some((a) => a.id === first.id && a.tracked), "the first account is the same one");
    b.assertClean();
  } finally {
    await b.close();
    await saldo.stop();
  }
});

test("an outage of a bank is recognised across its users and said on each one's page", async () => {
  const saldo = await Saldo.start();
  saldo.setClock("2026-03-02T05:00:00Z");
  const ana = await Browser.launch(saldo, "outage-ana");
  const ben = await Browser.launch(saldo, "outage-ben");
  try {
    await claim(ana);
    saldo.cli(["user", "add", "ben@example.org", "--password-stdin"], "another long passphrase\n");
    await signIn(ben, "ben@example.org", "another long passphrase");
    await connectBank(ana, "maintenance", "Sandbox Maintenance Bank");
    await connectBank(ana, "maintenance", "Sandbox Maintenance Bank");
    await connectBank(ben, "maintenance", "Sandbox Maintenance Bank");

    // The bank's nightly maintenance meets all three connections of its two users when their
    // scheduled syncs come due (20 hours after the last).
    saldo.setClock("2026-03-03T01:30:00Z");
    for (const b of [ana, ben]) {
      await until(b, "/settings/providers", async (page) => (await page.getByText("Outage at the bank: saldo retries").count()) > 0);
    }
    for (const b of [ana, ben]) {
      await b.goto("/settings/providers");
      await b.page.getByText("Outage at the bank: saldo retries").first().waitFor();
      assert.match(await b.page.getByTestId("message").first().innerText(), /outage that affects many of its customers/);
      b.assertClean();
    }
  } finally {
    await ana.close();
    await ben.close();
    await saldo.stop();
  }
});
