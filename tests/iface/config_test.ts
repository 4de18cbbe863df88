import assert from "node:assert/strict";
import { resolveInterfaceConfig } from "../../src/iface/config.ts";
import { parseIpv4 } from "../../src/wire/address.ts";

const ip = (s: string) => parseIpv4(s)!;
const MAC = "02:00:00:00:00:02";

Deno.test("resolveInterfaceConfig fills defaults and the connected and default routes", () => {
  const c = resolveInterfaceConfig({ mac: MAC, ipv4: "192.0.2.2/24", gateway: "192.0.2.1" });
  assert.equal(c.mac, 0x020000000002);
  assert.equal(c.address, ip("192.0.2.2"));
  assert.equal(c.network, ip("192.0.2.0"));
  assert.equal(c.mask, ip("255.255.255.0"));
  assert.equal(c.directedBroadcast, ip("192.0.2.255"));
  assert.equal(c.mtu, 1500);
  assert.equal(c.ttl, 64);
  assert.equal(c.vlanId, 0);
  assert.equal(c.gateway, ip("192.0.2.1"));
  assert.equal(c.routes.nextHop(ip("192.0.2.50")), ip("192.0.2.50"));
  assert.equal(c.routes.nextHop(ip("203.0.113.1")), ip("192.0.2.1"));
});

Deno.test("resolveInterfaceConfig adds static routes through on-link gateways", () => {
  const c = resolveInterfaceConfig({
    mac: MAC,
    ipv4: "192.0.2.2/24",
    routes: [{ destination: "198.51.100.0/24", gateway: "192.0.2.254" }],
  });
  assert.equal(c.routes.nextHop(ip("198.51.100.3")), ip("192.0.2.254"));
  assert.equal(c.routes.lookup(ip("203.0.113.1")), -1);
});

Deno.test("resolveInterfaceConfig rejects bad configuration with TypeError", () => {
  const bad: Record<string, unknown>[] = [
    { mac: "01:00:5e:00:00:01", ipv4: "192.0.2.2/24" }, // multicast MAC
    { mac: "zz", ipv4: "192.0.2.2/24" },
    { mac: MAC, ipv4: "192.0.2.0/24" }, // network address
    { mac: MAC, ipv4: "192.0.2.255/24" }, // broadcast address
    { mac: MAC, ipv4: "224.0.0.5/24" },
    { mac: MAC, ipv4: "192.0.2.2/40" },
    { mac: MAC, ipv4: 42 },
    { mac: MAC, ipv4: "192.0.2.2/24", gateway: "198.51.100.1" }, // off-link gateway
    { mac: MAC, ipv4: "192.0.2.2/24", gateway: "192.0.2.2" }, // ourselves
    { mac: MAC, ipv4: "192.0.2.2/24", mtu: 67 },
    { mac: MAC, ipv4: "192.0.2.2/24", mtu: 1500.5 },
    { mac: MAC, ipv4: "192.0.2.2/24", ttl: 0 },
    { mac: MAC, ipv4: "192.0.2.2/24", vlanId: 4095 },
    {
      mac: MAC,
      ipv4: "192.0.2.2/24",
      routes: [{ destination: "198.51.100.0/24", gateway: "203.0.113.1" }],
    },
    { mac: MAC, ipv4: "192.0.2.2/24", routes: "nope" },
  ];
  for (const options of bad) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => resolveInterfaceConfig(options as any),
      TypeError,
      JSON.stringify(options),
    );
  }
});

Deno.test("resolveInterfaceConfig accepts /31 and /32 without a directed broadcast", () => {
  assert.equal(resolveInterfaceConfig({ mac: MAC, ipv4: "192.0.2.0/31" }).directedBroadcast, 0);
  assert.equal(resolveInterfaceConfig({ mac: MAC, ipv4: "192.0.2.7/32" }).directedBroadcast, 0);
});
