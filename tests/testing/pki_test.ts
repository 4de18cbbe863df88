import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { makeTestPki } from "../../src/testing/pki.ts";
import { missingCommandsReason, testWhen } from "../../src/testing/lab.ts";

testWhen(
  "makeTestPki signs a server certificate for the names given, by its CA only",
  missingCommandsReason(["openssl"]),
  async () => {
    const pki = await makeTestPki("DNS:server.test,IP:192.0.2.1");
    try {
      const ca = new X509Certificate(pki.ca);
      const other = new X509Certificate(pki.otherCa);
      const cert = new X509Certificate(pki.cert);
      assert.ok(cert.verify(ca.publicKey), "signed by the CA");
      assert.ok(!cert.verify(other.publicKey), "not by the other CA");
      assert.equal(cert.checkHost("server.test"), "server.test");
      assert.equal(cert.checkIP("192.0.2.1"), "192.0.2.1");
      assert.equal(cert.checkHost("other.test"), undefined);
      assert.ok(pki.key.includes("PRIVATE KEY"));
      assert.ok((await Deno.stat(pki.dir)).isDirectory);
    } finally {
      await pki.remove();
    }
    await assert.rejects(Deno.stat(pki.dir), Deno.errors.NotFound);
  },
);

testWhen(
  "makeTestPki removes its directory when openssl refuses the names",
  missingCommandsReason(["openssl"]),
  async () => {
    // A private TMPDIR, so that other processes' PKIs cannot be mistaken for ours.
    const tmp = await Deno.makeTempDir({ prefix: "rawstack-pki-test-" });
    const saved = Deno.env.get("TMPDIR");
    Deno.env.set("TMPDIR", tmp);
    try {
      await assert.rejects(makeTestPki("NOT-A-TYPE:x"), /openssl x509 failed/);
      assert.deepEqual([...Deno.readDirSync(tmp)], []);
    } finally {
      if (saved === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", saved);
      await Deno.remove(tmp, { recursive: true });
    }
  },
);
