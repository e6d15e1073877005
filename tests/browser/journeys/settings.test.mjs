// Settings › Profile and Portfolio › Liabilities: a token is shown once and works, then is
// revoked; a new name shows at once; a password change ends the other sessions; a liability added
// by hand shows as owed and lowers net worth.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Saldo, Browser, api, claim, signIn } from "../lib/saldo.mjs";

test("profile, tokens, sessions, and a liability added by hand", async () => {
  const saldo = await Saldo.start();
  const b = await Browser.launch(saldo, "settings");
  const other = await Browser.launch(saldo, "settings-other");
  try {
    const { email, password } = await claim(b);
    await signIn(other, email, password);

    await b.clickAndCheck(b.page.getByRole("link", { name: "Profile" }));
    await b.page.getByLabel("Name", { exact: true }).first().fill("Ana María");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Save" }));
    assert.ok(await b.page.getByText("Ana María").first().isVisible());

    // A token, shown once, works as a bearer token; revoked, it does not.
    await b.page.getByLabel("Name", { exact: true }).last().fill("spreadsheet");
    await b.page.getByLabel("Scope").selectOption("read");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Create token" }));
    const token = (await b.page.getByTestId("new-token").innerText()).trim();
    const me = await fetch(`${saldo.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    await b.goto("/settings/profile");
    assert.equal(await b.page.getByTestId("new-token").count(), 0, "shown only once");
    await b.clickAndCheck(b.page.getByRole("row", { name: /spreadsheet/ }).getByRole("button", { name: "Revoke" }));
    const after = await fetch(`${saldo.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401);

    // Two sessions are listed; a new password signs the other one out.
    assert.equal(await b.page.getByRole("cell", { name: "this browser" }).count(), 1);
    assert.ok((await b.page.getByRole("button", { name: "Sign out", exact: true }).count()) >= 2, "the other session can be ended");
    await b.page.getByLabel("Current password").fill(password);
    await b.page.getByLabel("New password").fill("an even longer passphrase");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Change password" }));
    await b.page.getByText(/signed out everywhere else/).waitFor();
    await other.goto("/settings/profile");
    await other.page.getByRole("heading", { name: "Sign in" }).waitFor();

    // A mortgage added by hand: owed, and net worth falls by it.
    await b.clickAndCheck(b.page.getByRole("link", { name: "Liabilities" }));
    await b.clickAndCheck(b.page.getByRole("link", { name: "+ Add liability" }));
    await b.clickAndCheck(b.page.getByRole("link", { name: /Add manually/ }));
    await b.page.getByLabel("Name").fill("Mortgage");
    await b.page.getByLabel("Kind").selectOption("mortgage");
    await b.page.getByLabel("Amount owed").fill("200000");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Add" }));
    await b.page.getByRole("link", { name: "Mortgage" }).waitFor();
    assert.ok(await b.page.getByRole("cell", { name: "€200,000.00" }).isVisible());
    const networth = await api(b, "/networth");
    assert.equal(networth.total, "-200000.00");
    await b.clickAndCheck(b.page.getByRole("link", { name: "Mortgage" }));
    assert.equal((await b.page.getByTestId("balance").innerText()).trim(), "€200,000.00");
    b.assertClean();
    other.assertClean();
  } finally {
    await b.close();
    await other.close();
    await saldo.stop();
  }
});
