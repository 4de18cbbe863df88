import assert from "node:assert/strict";
import {
  checkPartialHead,
  ChunkedDecoder,
  findHeadEnd,
  H1_MAX_CHUNK_EXTENSION_BYTES,
  HeadError,
  type HeadLimits,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "../../src/http/h1_parse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LIMITS: HeadLimits = { maxHeadBytes: 4096, maxRequestLineBytes: 256, maxHeaderCount: 10 };

/** Parses a whole head given as text (the head end must be found). */
function parse(text: string, limits = LIMITS): RequestHead | HeadError {
  const buf = enc.encode(text);
  const end = findHeadEnd(buf, 0, 0, buf.length);
  if (end instanceof HeadError) return end;
  assert.ok(end > 0, "the head end is found");
  return parseRequestHead(buf, 0, end, limits);
}

function refused(text: string, status: number, limits = LIMITS): void {
  const r = parse(text, limits);
  assert.ok(r instanceof HeadError, `refused: ${JSON.stringify(text)}`);
  assert.equal(r.status, status, `${JSON.stringify(text)}: ${r.reason}`);
}

Deno.test("parseRequestHead behaviour: a request line, fields, framing and keep-alive", () => {
  const text = "\r\nPOST /a?b=c HTTP/1.1\r\nHost: example.test:8080\r\nX-A:  one \r\n" +
    "Content-Length: 5\r\nConnection: keep-alive\r\n\r\nhello";
  const h = parse(text);
  assert.ok(!(h instanceof HeadError));
  assert.equal(h.method, "POST");
  assert.equal(h.target, "/a?b=c");
  assert.equal(h.minor, 1);
  assert.equal(h.host, "example.test:8080");
  assert.deepEqual(h.headers[1], ["X-A", "one"]);
  assert.equal(h.contentLength, 5);
  assert.equal(h.chunked, false);
  assert.equal(h.keepAlive, true);
  assert.equal(h.headBytes, text.length - "hello".length, "the leading empty line counts");
  // HTTP/1.0: no Host needed, closes unless keep-alive is asked for; "5, 5" is one length.
  const old = parse("GET / HTTP/1.0\r\nContent-Length: 5, 5\r\n\r\n");
  assert.ok(!(old instanceof HeadError));
  assert.equal(old.keepAlive, false);
  assert.equal(old.contentLength, 5);
  const kept = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  assert.ok(!(kept instanceof HeadError) && kept.keepAlive);
  const closing = parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert.ok(!(closing instanceof HeadError) && !closing.keepAlive);
  const chunked = parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n");
  assert.ok(!(chunked instanceof HeadError) && chunked.chunked && chunked.contentLength === -1);
  const cont = parse("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
  assert.ok(!(cont instanceof HeadError) && cont.expectContinue);
});

Deno.test("parseRequestHead behaviour: refuses smuggling framings (RFC 9112 §6.3)", () => {
  refused(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
  );
  refused(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    400,
  );
  refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
  refused(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
  );
  refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
  refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
  refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
  refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n\r\n", 400);
  // A space before the colon would let "Transfer-Encoding : chunked" mean two things.
  refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
});

Deno.test("parseRequestHead behaviour: refuses obs-fold, bad characters, bad lines and Host", () => {
  refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", 400); // obs-fold (§5.2)
  refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400); // bare CR
  refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400);
  refused("GET / HTTP/1.1\nHost: x\n\n", 400); // bare LF (found by findHeadEnd)
  refused("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400); // two spaces
  refused("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400);
  refused("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400);
  refused("GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
  refused("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
  refused("GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400);
  refused("GET / http/1.1\r\nHost: x\r\n\r\n", 400);
  refused("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
  refused("GET / HTTP/1.1\r\n\r\n", 400); // no Host (§3.2)
  refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: evil.test/x?\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400);
  refused("GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417);
  refused(`${"\r\n".repeat(20)}GET / HTTP/1.1\r\nHost: x\r\n\r\n`, 400);
});

Deno.test("parseRequestHead behaviour: limits on the request line, field count and head size", () => {
  const long = `GET /${"a".repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`;
  refused(long, 414);
  const many = `GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 1\r\n".repeat(10)}\r\n`;
  refused(many, 431);
  const nine = `GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 1\r\n".repeat(9)}\r\n`;
  assert.ok(!(parse(nine) instanceof HeadError), "exactly maxHeaderCount fields pass");
  refused(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(5000)}\r\n\r\n`, 431);

  // Before the head is complete: a request line already too long, or a head that cannot fit.
  const partialLine = enc.encode(`GET /${"a".repeat(300)}`);
  assert.equal(checkPartialHead(partialLine, 0, partialLine.length, LIMITS)?.status, 414);
  const partialHead = enc.encode(`GET / HTTP/1.1\r\nX: ${"b".repeat(4100)}`);
  assert.equal(checkPartialHead(partialHead, 0, partialHead.length, LIMITS)?.status, 431);
  const fine = enc.encode("GET / HTTP/1.1\r\nHost: x\r\n");
  assert.equal(checkPartialHead(fine, 0, fine.length, LIMITS), null);
  assert.equal(findHeadEnd(fine, 0, 0, fine.length), -1, "incomplete");
});

Deno.test("findHeadEnd behaviour: found across reads, from where the last scan stopped", () => {
  const text = enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT");
  const whole = 27;
  for (let cut = 1; cut < whole; cut++) {
    const first = findHeadEnd(text, 0, 0, cut);
    assert.equal(first, -1, `incomplete at ${cut}`);
    assert.equal(findHeadEnd(text, 0, cut, text.length), whole, `complete after a cut at ${cut}`);
  }
});

/** Decodes `body` fed `step` bytes at a time; returns the data or the error. */
function decodeChunked(body: string, step: number): { data: string; error: string | null } {
  const bytes = enc.encode(body);
  const d = new ChunkedDecoder(1024);
  let data = "";
  let pending = new Uint8Array(0);
  for (let at = 0; at < bytes.length && !d.done; at += step) {
    const merged = new Uint8Array(pending.length + Math.min(step, bytes.length - at));
    merged.set(pending);
    merged.set(bytes.subarray(at, at + step), pending.length);
    let i = 0;
    while (i < merged.length && !d.done) {
      const next = d.decode(merged, i, merged.length);
      if (next < 0) return { data, error: d.error };
      data += dec.decode(merged.subarray(d.dataStart, d.dataEnd));
      if (next === i) break;
      i = next;
    }
    pending = merged.slice(i);
  }
  return { data, error: d.done ? null : "incomplete" };
}

Deno.test("ChunkedDecoder behaviour: chunks, extensions and trailers, in any split", () => {
  const body = "5\r\nhello\r\n6;name=val\r\n world\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
  for (const step of [1, 2, 3, 7, body.length]) {
    assert.deepEqual(decodeChunked(body, step), { data: "hello world0123456789", error: null });
  }
});

Deno.test("ChunkedDecoder behaviour: refuses bad sizes, terminators, huge extensions and trailers", () => {
  const bad = (body: string, why: RegExp) => {
    const r = decodeChunked(body, body.length);
    assert.ok(r.error !== null && why.test(r.error), `${JSON.stringify(body)}: ${r.error}`);
  };
  bad("x\r\n", /bad chunk size/);
  bad("\r\n", /bad chunk size/);
  bad("-5\r\nhello\r\n", /bad chunk size/);
  bad("fffffffffffffff\r\n", /chunk size too long/);
  bad("5\nhello\r\n0\r\n\r\n", /bad chunk size|line end/); // bare LF
  bad("5\r\nhello!\r\n0\r\n\r\n", /longer than its size/);
  bad("5\r\nhello\rx", /bad chunk data end/);
  bad(`5;${"e".repeat(H1_MAX_CHUNK_EXTENSION_BYTES + 1)}\r\n`, /extension too long/);
  bad("5;a\x00b\r\nhello\r\n", /bad chunk extension/);
  bad(`0\r\n${"X-T: 1\r\n".repeat(200)}\r\n`, /trailer section too large/);
  bad("0\r\nX-T: 1\n\r\n", /bad trailer/);
});

/** Parses a whole response head given as text. */
function parseResponse(text: string, maxHeaderCount = 10): ResponseHead | HeadError {
  const buf = enc.encode(text);
  const end = findHeadEnd(buf, 0, 0, buf.length);
  if (end instanceof HeadError) return end;
  assert.ok(end > 0, "the head end is found");
  return parseResponseHead(buf, 0, end, maxHeaderCount);
}

Deno.test("parseResponseHead behaviour: status line, fields and framing (RFC 9112 §4, §6.3)", () => {
  const ok = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello");
  assert.ok(!(ok instanceof HeadError));
  assert.equal(ok.status, 200);
  assert.equal(ok.reason, "OK");
  assert.equal(ok.minor, 1);
  assert.deepEqual(ok.headers, [["Content-Length", "5"], ["X-A", "b"]]);
  assert.equal(ok.contentLength, 5);
  assert.equal(ok.close, false);
  assert.equal(ok.headBytes, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\n".length);

  const bare = parseResponse("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n");
  assert.ok(!(bare instanceof HeadError));
  assert.equal(bare.status, 404);
  assert.equal(bare.reason, "", "a missing reason phrase is empty");

  const chunked = parseResponse(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n",
  );
  assert.ok(!(chunked instanceof HeadError));
  assert.equal(chunked.chunked, true, "Transfer-Encoding wins over Content-Length (item 3)");
  assert.equal(chunked.contentLength, -1);
  assert.equal(chunked.close, true, "and the connection is not reused");

  const gzipOnly = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  assert.ok(!(gzipOnly instanceof HeadError));
  assert.equal(gzipOnly.untilClose, true, "chunked not final: read until close (item 4)");

  const unframed = parseResponse("HTTP/1.1 200 OK\r\n\r\n");
  assert.ok(!(unframed instanceof HeadError));
  assert.equal(unframed.untilClose, true, "no framing: read until close (item 8)");

  const old = parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
  assert.ok(!(old instanceof HeadError));
  assert.equal(old.close, true, "HTTP/1.0 is not kept alive");
  const closing = parseResponse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n");
  assert.ok(!(closing instanceof HeadError));
  assert.equal(closing.close, true);

  const twice = parseResponse("HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n\r\n");
  assert.ok(!(twice instanceof HeadError));
  assert.equal(twice.location, null, "two Locations are no location (Fetch §4.4 step 3)");
  const one = parseResponse("HTTP/1.1 302 Found\r\nlocation: /a\r\n\r\n");
  assert.ok(!(one instanceof HeadError));
  assert.equal(one.location, "/a");
  const same = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n");
  assert.ok(!(same instanceof HeadError));
  assert.equal(same.contentLength, 3, "a list of one length (RFC 9110 §8.6)");
});

Deno.test("parseResponseHead behaviour: malformed heads are refused", () => {
  for (
    const text of [
      "HTZP/1.1 200 OK\r\n\r\n",
      "HTTP/2.0 200 OK\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 200 O\x01K\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
    ]
  ) {
    const r = parseResponse(text, 2);
    assert.ok(r instanceof HeadError, `refused: ${JSON.stringify(text)}`);
    assert.equal(r.status, 502);
  }
});
