// Journeys 5 and 6: a statement imported from the Transactions page reports what
// `saldo import --dry-run` said it would; a second member of the household sees nothing of the first's.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Saldo, Browser, api, claim, connectBank, signIn, repo } from "../lib/saldo.mjs";

const statement = path.join(repo, "crates/saldo-import/tests/corpus/files/ofx/ofxparse/bank_medium.ofx");

test("a statement imported on the Transactions page reports what the dry run said", async () => {
  const saldo = await Saldo.start();
  const b = await Browser.launch(saldo, "import");
  try {
    await claim(b);
    // An account added by hand, for the statement to go into.
    await b.goto("/portfolio/assets");
    await b.clickAndCheck(b.page.getByRole("link", { name: "+ Add asset" }));
    await b.clickAndCheck(b.page.getByRole("link", { name: /Add manually/ }));
    await b.page.getByLabel("Name").fill("Chequing CAD");
    await b.page.getByLabel("Kind").selectOption("cash");
    await b.page.getByLabel("Currency").fill("CAD");
    await b.page.getByLabel("Value").fill("1,250.50");
    await b.clickAndCheck(b.page.getByRole("button", { name: "Add" }));
    await b.page.getByRole("link", { name: "Chequing CAD" }).waitFor();
    assert.ok(await b.page.getByText("CAD 1,250.50").first().isVisible());
    const account = (await api(b, "/accounts")).find((a) => a.name === "Chequing CAD");

    const dry = JSON.parse(saldo.cli(["import", "--dry-run", "--json", "--account", account.id, statement])).files[0];
    const expected = dry.statements.reduce(
      (sum, s) => ({ new: sum.new + s.new, duplicate: sum.duplicate + s.duplicate, replaced: sum.replaced + s.pending_replaced }),
      { new: 0, duplicate: 0, replaced: 0 },
    );
    assert.ok(expected.new > 0, JSON.stringify(dry));

    await b.clickAndCheck(b.page.getByRole("link", { name: "Transactions" }));
    await b.page.getByLabel("Into").selectOption(account.id);
    await b.page.getByLabel(/Statement file/).setInputFiles(statement);
    await b.clickAndCheck(b.page.getByRole("button", { name: "Import" }));
    const report = b.page.getByTestId("import-report");
    await report.waitFor();
    const shown = {
      new: Number(await report.getByTestId("new").innerText()),
      duplicate: Number(await report.getByTestId("duplicates").innerText()),
      replaced: Number(await report.getByTestId("replaced").innerText()),
    };
    assert.deepEqual(shown, expected);
    // The transactions are listed, and the same file again adds nothing.
    const listed = await api(b, `/accounts/${account.id}/transactions?limit=500`);
    assert.equal(listed.transactions.length, expected.new);
    await b.page.getByLabel("Into").selectOption(account.id);
    await b.page.getByLabel(/Statement file/).setInputFiles(statement);
    await b.clickAndCheck(b.page.getByRole("button", { name: "Import" }));
    assert.equal(Number(await b.page.getByTestId("new").innerText()), 0);
    assert.equal(Number(await b.page.getByTestId("duplicates").innerText()), expected.new);
    b.assertClean();
  } finally {
    await b.close();
    await saldo.stop();
  }
});

test("a second member of the household sees none of the first's data", async () => {
  const saldo = await Saldo.start();
  const ana = await Browser.launch(saldo, "household-ana");
  const ben = await Browser.launch(saldo, "household-ben");
  try {
    await claim(ana);
    await connectBank(ana, "sandbox", "Sandbox Bank");
    const anas = await api(ana, "/accounts");
    assert.ok(anas.length > 0);
    saldo.cli(["user", "add", "ben@example.org", "--password-stdin"], "another long passphrase\n");

    await signIn(ben, "ben@example.org", "another long passphrase");
    await ben.page.getByRole("heading", { name: "Dashboard" }).waitFor();
    assert.equal(await ben.page.locator("#networth-total").innerText(), "€0.00");
    await ben.goto("/portfolio/assets");
    await ben.page.getByText("No asset yet").waitFor();
    for (const a of anas) assert.equal(await ben.page.getByText(a.name).count(), 0, a.name);
    await ben.goto("/settings/providers");
    await ben.page.getByText("No connections yet").waitFor();
    await ben.goto("/notifications");
    await ben.page.getByText("Nothing to report").waitFor();
    ben.expectRefusal();
    const response = await ben.goto(`/accounts/${anas[0].id}`);
    assert.equal(response.status(), 404);
    assert.equal(await ben.page.getByText(anas[0].name).count(), 0);
    ben.assertClean();
    ana.assertClean();
  } finally {
    await ana.close();
    await ben.close();
    await saldo.stop();
  }
});
