// Journeys 1, 2 and 7: claim the install, sign out and in; connect the sandbox bank from
// Portfolio › Assets, choosing the items, on SQLite and PostgreSQL; the same by keyboard alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Saldo, Browser, api, claim, signIn } from "../lib/saldo.mjs";

/** "€1,234.50" or "−€3.00" as the API writes it: "1234.50", "-3.00". */
function plain(shown) {
  return shown.replace(/[€$£,\s]|[A-Z]{3}/g, "").replace("−", "-");
}

for (const backend of ["sqlite", "postgres"]) {
  test(`claim, sign out and in, and connect a bank from Portfolio › Assets (${backend})`, async () => {
    const saldo = await Saldo.start({ backend });
    const b = await Browser.launch(saldo, `connect-${backend}`);
    try {
      // 1. The first visitor claims the install with the setup code; a wrong code is refused.
      await b.goto("/");
      await b.page.getByLabel("Setup code").fill("WRONG-CODE");
      await b.page.getByLabel("E-mail").fill("ana@example.org");
      await b.page.getByLabel("Password").fill("correct horse battery staple");
      b.expectRefusal();
      await b.page.getByRole("button", { name: "Create the owner and sign in" }).click();
      await b.page.getByText("wrong setup code").waitFor();
      await b.check("wrong-setup-code");
      const { email, password } = await claim(b);
      await b.page.getByRole("heading", { name: "Dashboard" }).waitFor();
      await b.page.getByRole("button", { name: "Sign out" }).click();
      await b.page.getByRole("heading", { name: "Sign in" }).waitFor();
      await b.page.getByLabel("E-mail").fill(email);
      await b.page.getByLabel("Password").fill("not the password");
      b.expectRefusal();
      await b.page.getByRole("button", { name: "Sign in" }).click();
      await b.page.getByRole("alert").filter({ hasText: /password/i }).waitFor();
      await b.check("wrong-password");
      await signIn(b, email, password);
      await b.page.getByRole("heading", { name: "Dashboard" }).waitFor();

      // 2. Portfolio › Assets → + Add asset → Connect account → search → the bank's page.
      await b.clickAndCheck(b.page.getByRole("link", { name: "Assets", exact: true }));
      await b.clickAndCheck(b.page.getByRole("link", { name: "+ Add asset" }));
      await b.clickAndCheck(b.page.getByRole("link", { name: /Connect account/ }));
      await b.page.getByLabel("Bank, broker or fund").fill("sandbox");
      await b.clickAndCheck(b.page.getByRole("button", { name: "Search" }));
      await b.clickAndCheck(b.page.getByRole("button", { name: /^Sandbox Bank\b/ }));
      assert.match(await b.page.title(), /Sandbox Bank/);
      await b.clickAndCheck(b.page.getByRole("button", { name: "Allow read-only access" }));

      // The items found, all ticked; untick one and save.
      await b.page.getByRole("heading", { name: /Choose what to track/ }).waitFor();
      const boxes = b.page.getByRole("checkbox");
      const count = await boxes.count();
      assert.ok(count >= 2, `items offered: ${count}`);
      for (let i = 0; i < count; i++) assert.ok(await boxes.nth(i).isChecked(), "every item starts ticked");
      const skipped = (await b.page.locator("tbody tr").nth(count - 1).locator("label").innerText()).trim();
      await boxes.nth(count - 1).uncheck();
      await b.clickAndCheck(b.page.getByRole("button", { name: "Save" }));

      // They appear at once with their values; the one left out does not count.
      assert.match(new URL(b.page.url()).pathname, /^\/portfolio\/assets/);
      await b.page.getByText(/Tracking \d+ account/).waitFor();
      await b.page.getByText(/Updated from Sandbox Bank/).waitFor();
      await b.check("first-sync-done");
      const accounts = await api(b, "/accounts");
      const tracked = accounts.filter((a) => a.tracked);
      assert.equal(tracked.length, count - 1, JSON.stringify(accounts));
      assert.ok(!tracked.some((a) => a.name === skipped), `${skipped} is not tracked`);
      for (const account of tracked.filter((a) => a.class === "asset")) {
        const row = b.page.locator("tr", { hasText: account.name });
        await row.first().waitFor();
        assert.ok(account.balance, `${account.name} has a value`);
      }

      // The dashboard's net worth is the API's.
      await b.clickAndCheck(b.page.getByRole("link", { name: "Dashboard" }));
      const shown = await b.page.locator("#networth-total").innerText();
      const networth = await api(b, "/networth");
      assert.equal(plain(shown), networth.total, `dashboard ${shown}, API ${networth.total}`);
      b.assertClean();
    } finally {
      await b.close();
      await saldo.stop();
    }
  });
}

test("a bank is connected with the keyboard alone", async () => {
  const saldo = await Saldo.start();
  const b = await Browser.launch(saldo, "keyboard");
  try {
    await claim(b);
    const keys = b.page.keyboard;
    /** Tabs until the focused element's text or label matches, then presses Enter (or Space). */
    async function tabTo(pattern, key = "Enter", limit = 80) {
      await b.page.waitForLoadState("load");
      for (let i = 0; i < limit; i++) {
        await keys.press("Tab");
        const text = await b.page.evaluate(() => {
          const el = document.activeElement;
          return (el.innerText || el.value || el.getAttribute("aria-label") || el.id || "").trim();
        });
        if (pattern.test(text)) {
          await keys.press(key);
          return;
        }
      }
      throw new Error(`no focusable element matches ${pattern}`);
    }
    await tabTo(/^Assets$/);
    await b.page.waitForURL(/portfolio\/assets/);
    await tabTo(/Add asset/);
    await b.page.waitForURL(/portfolio\/add/);
    await tabTo(/^Connect account/);
    await b.page.waitForURL(/\/connect/);
    // The search field has the focus on arrival.
    await b.page.waitForFunction(() => document.activeElement && document.activeElement.id === "q");
    await keys.type("sandbox bank");
    await keys.press("Enter");
    await b.page.waitForURL(/q=sandbox/);
    await tabTo(/Sandbox Bank/);
    await b.page.waitForURL(/sandbox\/consent/);
    await tabTo(/Allow read-only access/);
    await b.page.getByRole("heading", { name: /Choose what to track/ }).waitFor();
    await tabTo(/^Save$/);
    await b.page.getByText(/Tracking \d+ account/).waitFor();
    await b.check("keyboard-done");
    const accounts = await api(b, "/accounts");
    assert.ok(accounts.length >= 2);
    b.assertClean();
  } finally {
    await b.close();
    await saldo.stop();
  }
});
