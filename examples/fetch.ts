// deno run examples/fetch.ts                 (two in-process stacks over a MemoryLink)
/**
 * `fetch` and `serve` over rawstack, as one writes them with Deno's own:
 * one stack serves HTTP and HTTPS (`stack.serve`, shaped like `Deno.serve`),
 * the other fetches from it (`stack.fetch`, WHATWG fetch) — a page, a JSON
 * POST, a redirect, a streamed body, and the same over TLS with a client
 * that trusts the server's CA (`stack.createHttpClient({ caCerts })`).
 *
 * HTTPS needs a certificate: pass `--cert FILE --key FILE --ca FILE` (PEM;
 * for 192.0.2.1), or run with `openssl` on PATH and the example makes a
 * throw-away CA and certificate itself.
 *
 * @module
 */

import { makeTestPki, MemoryLink, Stack } from "../mod.ts";

const [da, db] = MemoryLink.pair();
const client = new Stack({ device: da, ipv4: "192.0.2.2/24" });
const server = new Stack({ device: db, ipv4: "192.0.2.1/24" });
await client.start();
await server.start();

/** The handler: like one for Deno.serve. */
async function handler(req: Request): Promise<Response> {
  const url = new URL(req.url);
  switch (url.pathname) {
    case "/":
      return new Response("hello from a rawstack server\n");
    case "/echo":
      return Response.json({ method: req.method, received: await req.json() });
    case "/old":
      return Response.redirect(new URL("/", url), 301);
    case "/count": {
      let i = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (i === 5) return c.close();
            c.enqueue(new TextEncoder().encode(`line ${i++}\n`));
          },
        }),
      );
    }
  }
  return new Response("not found\n", { status: 404 });
}

const http = server.serve({ port: 80 }, handler);
try {
  let r = await client.fetch("http://192.0.2.1/");
  console.log(`GET /        ${r.status} ${JSON.stringify(await r.text())}`);
  r = await client.fetch("http://192.0.2.1/echo", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ n: 42 }),
  });
  console.log(`POST /echo   ${r.status} ${JSON.stringify(await r.json())}`);
  r = await client.fetch("http://192.0.2.1/old");
  await r.text();
  console.log(`GET /old     ${r.status} redirected=${r.redirected} to ${r.url}`);
  r = await client.fetch("http://192.0.2.1/count");
  console.log(`GET /count   ${r.status} ${r.headers.get("transfer-encoding")}:`);
  for await (const chunk of r.body!) Deno.stdout.writeSync(chunk);
  console.log(`connections the server accepted: ${http.stats().accepted} (kept alive)`);

  const pki = await certificates();
  if (pki === null) {
    console.log("(no --cert/--key/--ca and no openssl on PATH: HTTPS skipped)");
  } else {
    const https = server.serve({ port: 443, cert: pki.cert, key: pki.key }, handler);
    const trusting = client.createHttpClient({ caCerts: [pki.ca] });
    try {
      r = await client.fetch("https://192.0.2.1/", { client: trusting });
      console.log(`HTTPS GET /  ${r.status} ${JSON.stringify(await r.text())}`);
      const refused = await client.fetch("https://192.0.2.1/").catch((e) => e);
      console.log(`without the CA: ${refused.name}: ${refused.message}`);
    } finally {
      trusting.close();
      await https.shutdown();
    }
  }
} finally {
  await http.shutdown();
  await client.close();
  await server.close();
}

/** `--cert/--key/--ca` files, or a CA and certificate made with openssl, or null. */
async function certificates(): Promise<{ cert: string; key: string; ca: string } | null> {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const [cert, key, ca] = [arg("cert"), arg("key"), arg("ca")];
  if (cert !== undefined && key !== undefined && ca !== undefined) {
    return {
      cert: await Deno.readTextFile(cert),
      key: await Deno.readTextFile(key),
      ca: await Deno.readTextFile(ca),
    };
  }
  try {
    const pki = await makeTestPki("IP:192.0.2.1");
    await pki.remove();
    return { cert: pki.cert, key: pki.key, ca: pki.ca };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
