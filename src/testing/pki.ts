/**
 * A throw-away PKI for TLS tests and examples, made with `openssl`: a CA, a
 * server certificate it signs (for `server.test` and 192.0.2.1, or the names
 * given), and a second CA nobody trusts. Needs `openssl` on PATH (Debian
 * package `openssl`); without it {@link makeTestPki} rejects with
 * `Deno.errors.NotFound`.
 *
 * ```ts ignore
 * import { makeTestPki, MemoryLink, Stack } from "./mod.ts";
 * const pki = await makeTestPki("DNS:server.test");
 * try {
 *   // stack.serve({ cert: pki.cert, key: pki.key, ... }) and
 *   // stack.createHttpClient({ caCerts: [pki.ca] })
 * } finally {
 *   await pki.remove();
 * }
 * ```
 *
 * @module
 */

/** PEM texts of one test PKI (made by {@link makeTestPki}). */
export interface TestPki {
  /** The CA's certificate: give it to clients as `caCerts`. */
  ca: string;
  /** The server's certificate (signed by {@link ca}). */
  cert: string;
  /** The server's private key. */
  key: string;
  /** A certificate of another CA, which signed nothing here. */
  otherCa: string;
  /** Directory holding the files (ca.pem, srv.pem, srv.key); removed by {@link TestPki.remove}. */
  dir: string;
  /** Deletes {@link dir}. */
  remove(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Makes a CA and a server certificate with openssl (P-256 keys, valid 2 days).
 * The files stay in {@link TestPki.dir} until {@link TestPki.remove}; if
 * openssl fails the directory is removed before the error is thrown.
 *
 * @param altNames the server certificate's subjectAltName entries
 * @returns the PEM texts and their directory
 * @throws {Deno.errors.NotFound} when `openssl` is not on PATH
 */
export async function makeTestPki(
  altNames = "DNS:server.test,IP:192.0.2.1",
): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "rawstack-pki-" });
  try {
    return await writePki(dir, altNames);
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

/** Writes the CA, the untrusted CA and the server certificate into `dir`. */
async function writePki(dir: string, altNames: string): Promise<TestPki> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=rawstack test CA",
  ]);
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "other.key",
    "-out",
    "other.pem",
    "-days",
    "2",
    "-subj",
    "/CN=rawstack untrusted CA",
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "srv.key",
    "-out",
    "srv.csr",
    "-subj",
    "/CN=server.test",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    `subjectAltName=${altNames}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "srv.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  return {
    ca: await read("ca.pem"),
    cert: await read("srv.pem"),
    key: await read("srv.key"),
    otherCa: await read("other.pem"),
    dir,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
