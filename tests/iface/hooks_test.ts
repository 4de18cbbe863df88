import assert from "node:assert/strict";
import type { HookName, HookPacket } from "../../src/iface/hooks.ts";
import { IPV4_DESTINATION_OFFSET, setIpv4Address } from "../../src/iface/hooks.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  A_IP,
  B_IP,
  get32,
  icmpEcho,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_IP,
  R0_MAC,
  topology,
  udp,
} from "./_router_helpers.ts";

function recorder(seen: string[]) {
  const hook = (name: HookName) => (p: HookPacket) => {
    seen.push(`${name}:${p.inInterface}>${p.outInterface}`);
    return "accept" as const;
  };
  return {
    prerouting: hook("prerouting"),
    input: hook("input"),
    forward: hook("forward"),
    output: hook("output"),
    postrouting: hook("postrouting"),
  };
}

Deno.test("HookTable runs hooks in netfilter order for forwarded, local and originated datagrams", async () => {
  const seen: string[] = [];
  const t = await topology({ router: { hooks: recorder(seen) } });
  try {
    seen.length = 0;
    t.a.send(
      ipv4Packet({
        src: A_IP,
        dst: B_IP,
        protocol: 17,
        payload: udp(A_IP, B_IP, 1, 2, new Uint8Array(4)),
      }),
      R0_MAC,
    );
    t.settle();
    assert.deepEqual(seen, ["prerouting:0>-1", "forward:0>1", "postrouting:0>1"]);
    seen.length = 0;
    t.a.send(
      ipv4Packet({ src: A_IP, dst: R0_IP, protocol: 1, payload: icmpEcho(8, 1, 1) }),
      R0_MAC,
    );
    t.settle();
    // The echo request comes in; the reply goes out.
    assert.deepEqual(seen, ["prerouting:0>-1", "input:0>-1", "output:-1>0", "postrouting:-1>0"]);
    const h = t.router.stats().router!.hooks;
    assert.equal(h.prerouting.accepted, 2);
    assert.equal(h.forward.accepted, 1);
    assert.equal(h.input.accepted, 1);
    assert.equal(h.output.accepted, 1);
    assert.equal(h.postrouting.accepted, 2);
  } finally {
    await t.close();
  }
});

Deno.test("HookTable drop verdicts stop the datagram and are counted per hook", async () => {
  const t = await topology({
    router: {
      hooks: {
        forward: (p) => (p.destinationPort === 23 ? "drop" : "accept"),
        input: (p) => (p.protocol === 1 ? "drop" : "accept"),
      },
    },
  });
  try {
    for (const port of [23, 22]) {
      t.a.send(
        ipv4Packet({
          src: A_IP,
          dst: B_IP,
          protocol: 17,
          payload: udp(A_IP, B_IP, 1000, port, new Uint8Array(4)),
        }),
        R0_MAC,
      );
    }
    t.a.send(
      ipv4Packet({ src: A_IP, dst: R0_IP, protocol: 1, payload: icmpEcho(8, 1, 1) }),
      R0_MAC,
    );
    t.settle();
    const got = t.b.take();
    assert.equal(got.length, 1);
    assert.equal(t.a.take().length, 0); // the ping was dropped at input: no reply
    const h = t.router.stats().router!.hooks;
    assert.deepEqual(h.forward, { accepted: 1, dropped: 1 });
    assert.deepEqual(h.input, { accepted: 0, dropped: 1 });
    assert.equal(t.router.stats().router!.forward.forwarded, 1);
  } finally {
    await t.close();
  }
});

Deno.test("HookTable lets a hook rewrite the datagram in place (a destination rewrite)", async () => {
  const other = parseIpv4("203.0.113.99")!;
  const t = await topology({
    router: {
      hooks: {
        prerouting: (p) => {
          if (p.destination === other) {
            setIpv4Address(p.bytes, p.offset, p.length, IPV4_DESTINATION_OFFSET, B_IP);
          }
          return "accept";
        },
      },
    },
  });
  try {
    t.a.send(
      ipv4Packet({
        src: A_IP,
        dst: other,
        protocol: 17,
        payload: udp(A_IP, other, 1000, 53, new Uint8Array(4)),
      }),
      R0_MAC,
    );
    t.settle();
    const [p] = t.b.take();
    assert.equal(get32(p, 16), B_IP);
    assert.ok(ipChecksumOk(p) && l4ChecksumOk(p));
  } finally {
    await t.close();
  }
});

Deno.test("HookTable counts a hook that throws as a drop", async () => {
  const t = await topology({
    router: {
      hooks: {
        forward: () => {
          throw new Error("bug in a hook");
        },
      },
    },
  });
  try {
    t.a.send(
      ipv4Packet({
        src: A_IP,
        dst: B_IP,
        protocol: 17,
        payload: udp(A_IP, B_IP, 1, 2, new Uint8Array(1)),
      }),
      R0_MAC,
    );
    t.settle();
    assert.equal(t.b.take().length, 0);
    assert.equal(t.router.stats().router!.hooks.forward.dropped, 1);
  } finally {
    await t.close();
  }
});
