import assert from "node:assert/strict";
import {
  CONNECTION_ATTEMPT_DELAY_MS,
  type EyeballsConn,
  happyEyeballs,
  RESOLUTION_DELAY_MS,
} from "../../src/socket/happy_eyeballs.ts";

/** A scripted host: DNS answers and timers fire when the test says so. */
function fakeHost() {
  const answers = new Map<string, { resolve: (v: string[]) => void }>();
  const timers: { at: number; fire: () => void; cancelled: boolean }[] = [];
  const attempts: string[] = [];
  const conns = new Map<string, { ok: () => void; fail: (e: Error) => void; closed: boolean }>();
  const host = {
    resolve: (_name: string, type: "A" | "AAAA") =>
      new Promise<string[]>((resolve) => answers.set(type, { resolve })),
    nowMs: () => 0,
    sleep: (at: number) => {
      let fire = () => {};
      const t = { at, fire: () => fire(), cancelled: false };
      timers.push(t);
      return {
        promise: new Promise<void>((r) => (fire = r)),
        cancel: () => (t.cancelled = true),
      };
    },
    attempt: (address: string): EyeballsConn => {
      attempts.push(address);
      let ok = () => {};
      let fail = (_e: Error) => {};
      const established = new Promise<void>((res, rej) => {
        ok = res;
        fail = rej;
      });
      const c = { ok: () => ok(), fail: (e: Error) => fail(e), closed: false };
      conns.set(address, c);
      return { established: () => established, close: () => (c.closed = true) };
    },
  };
  return { host, answers, timers, attempts, conns };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("happyEyeballs behaviour: an A answer first waits the 50 ms resolution delay for AAAA (RFC 8305 §3)", async () => {
  const f = fakeHost();
  const p = happyEyeballs(f.host, "h.test", { ipv4: true, ipv6: true });
  await tick();
  f.answers.get("A")!.resolve(["192.0.2.1"]);
  await tick();
  assert.deepEqual(f.attempts, [], "no attempt before the resolution delay");
  assert.deepEqual(f.timers.map((t) => t.at), [RESOLUTION_DELAY_MS]);
  // AAAA arrives within the delay: IPv6 goes first.
  f.answers.get("AAAA")!.resolve(["2001:db8::1"]);
  await tick();
  assert.deepEqual(f.attempts, ["2001:db8::1"]);
  // IPv6 does not answer: after the connection attempt delay IPv4 is tried; it wins.
  const attemptTimer = f.timers.find((t) => t.at === CONNECTION_ATTEMPT_DELAY_MS)!;
  attemptTimer.fire();
  await tick();
  assert.deepEqual(f.attempts, ["2001:db8::1", "192.0.2.1"]);
  f.conns.get("192.0.2.1")!.ok();
  await p;
  assert.equal(f.conns.get("2001:db8::1")!.closed, true, "the losing attempt is closed");
});

Deno.test("happyEyeballs behaviour: a failed attempt starts the next at once; all failing rejects with the last error", async () => {
  const f = fakeHost();
  const p = happyEyeballs(f.host, "h.test", { ipv4: true, ipv6: true });
  await tick();
  f.answers.get("AAAA")!.resolve(["2001:db8::1", "2001:db8::2"]);
  f.answers.get("A")!.resolve(["192.0.2.1"]);
  await tick();
  assert.deepEqual(f.attempts, ["2001:db8::1"]);
  f.conns.get("2001:db8::1")!.fail(new Error("refused 1"));
  await tick();
  assert.deepEqual(f.attempts, ["2001:db8::1", "192.0.2.1"], "families alternate (§4)");
  f.conns.get("192.0.2.1")!.fail(new Error("refused 2"));
  await tick();
  assert.deepEqual(f.attempts, ["2001:db8::1", "192.0.2.1", "2001:db8::2"]);
  f.conns.get("2001:db8::2")!.fail(new Error("refused 3"));
  await assert.rejects(p, /refused 3/);
});
