// Regression tests for issue #16 (hostile input) in the TCP layer: SYN cookies only after a
// recent overflow, no answers to broadcast/multicast, bounded connections and TIME-WAIT.
import assert from "node:assert/strict";
import { TcpState } from "../../src/tcp/connection.ts";
import { makeSynCookie, SYN_COOKIE_VALID_MS } from "../../src/tcp/syn_cookies.ts";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../src/wire/tcp.ts";
import { bytesOf, Host, LOCAL, REMOTE } from "./harness.ts";

/** The secret every {@link Host} is made with. */
const HOST_SECRET = new Uint8Array(16).fill(7);
/** Index of MSS 1460 in the cookie table. */
const MSS_1460_INDEX = 3;

Deno.test("TcpLayer checks SYN cookies only within the window after it sent one", () => {
  const h = new Host({}, 1_000_000);
  const l = h.tcp.listen(80, 1);
  // A blind attacker's lucky guess of the 24-bit MAC: the cookie a SYN from this forged
  // 4-tuple would have got. No SYN queue ever overflowed, so it must not be checked.
  const cookieFor = (port: number, irs: number) =>
    makeSynCookie(HOST_SECRET, h.clock.now(), LOCAL, 80, REMOTE, port, irs, MSS_1460_INDEX);
  h.feed({
    flags: TCP_ACK,
    seq: 501,
    ack: cookieFor(6001, 500) + 1,
    srcPort: 6001,
    data: bytesOf(5),
  });
  assert.equal(l.accept(), null, "no connection from a guessed cookie");
  assert.equal(h.tcp.connectionCount, 0);
  let [rst] = h.take();
  assert.equal(rst.flags, TCP_RST, "a stray ACK to a listener: RST (RFC 9293 §3.10.7.2)");
  assert.equal(h.tcp.stats.synCookiesAccepted, 0);
  assert.equal(h.tcp.stats.synCookiesUnexpected, 1);

  // Under SYN pressure cookies work: the queue of one fills, the next SYN gets a cookie.
  h.feed({ flags: TCP_SYN, seq: 7000, srcPort: 6000 });
  h.take();
  h.feed({ flags: TCP_SYN, seq: 9000, srcPort: 6002, mss: 1460 });
  const [cookie] = h.take();
  assert.equal(cookie.flags, TCP_SYN | TCP_ACK);
  assert.equal(h.tcp.stats.synCookiesSent, 1);
  h.advance(1000);
  h.feed({ flags: TCP_ACK, seq: 9001, ack: cookie.seq + 1, srcPort: 6002, data: bytesOf(3) });
  const c = l.accept();
  assert.ok(c !== null && c.remotePort === 6002 && c.readableLength === 3);
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);

  // Once no cookie was sent for a cookie's lifetime, a valid one is refused again.
  h.advance(SYN_COOKIE_VALID_MS);
  h.take(); // SYN-ACK retransmissions of the embryonic connection from port 6000
  h.feed({ flags: TCP_ACK, seq: 901, ack: cookieFor(6003, 900) + 1, srcPort: 6003 });
  [rst] = h.take();
  assert.equal(rst.flags, TCP_RST);
  assert.equal(l.accept(), null);
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
  assert.equal(h.tcp.stats.synCookiesUnexpected, 2);
  assert.equal(c.state, TcpState.ESTABLISHED, "the cookie connection is unharmed");
});
