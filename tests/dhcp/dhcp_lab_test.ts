/**
 * DHCP against dnsmasq in the lab (issue 21): a 2-minute lease is obtained,
 * its renewal (T1 shortened with option 58) is seen in a capture, the lease
 * is released on close; and an address the kernel already holds triggers
 * DHCPDECLINE and a new offer.
 */
import assert from "node:assert/strict";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { Stack } from "../../src/stack.ts";
import { assertCaptureClean, until } from "../lab/_helpers.ts";
import { tsharkDecodeFile } from "../wire/_tshark.ts";
import { DHCPACK, DHCPDECLINE, DHCPOFFER, DHCPRELEASE, DHCPREQUEST } from "../../src/wire/dhcp.ts";

const SERVER = "192.0.2.1";

function dnsmasq(lab: Lab, dir: string, extra: string[]): ReturnType<Lab["spawnInPeer"]> {
  return lab.spawnInPeer([
    "dnsmasq",
    "--no-daemon",
    "--conf-file=/dev/null",
    "--port=0",
    `--interface=${lab.peerIf}`,
    "--bind-interfaces",
    "--no-ping",
    "--log-dhcp",
    `--dhcp-leasefile=${dir}/leases`,
    `--pid-file=${dir}/pid`,
    `--dhcp-option=option:dns-server,${SERVER}`,
    ...extra,
  ]);
}

async function waitForDnsmasq(lab: Lab): Promise<void> {
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    const r = await lab.runInPeer(["ss", "-uln", "sport = :67"]);
    if (r.stdout.includes(":67")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("dnsmasq did not listen on port 67");
}

labTest(
  "Stack behaviour: ipv4 dhcp leases from dnsmasq, renews at T1, releases on close",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rsdh-" });
    await Deno.chmod(dir, 0o777);
    const lab = await Lab.create({ prefix: "rsdh" });
    const pcap = `${dir}/dhcp.pcap`;
    try {
      const capture = await lab.capture(pcap);
      const server = dnsmasq(lab, dir, [
        "--dhcp-range=192.0.2.60,192.0.2.60,255.255.255.0,2m",
        "--dhcp-option=option:T1,4",
      ]);
      await waitForDnsmasq(lab);
      const stack = new Stack({ device: await lab.openDevice(), ipv4: "dhcp" });
      let closed = false;
      try {
        await stack.start();
        assert.equal(stack.address, "192.0.2.60");
        const [a] = stack.addresses();
        assert.equal(a.prefixLength, 24);
        assert.equal(a.state, "preferred");
        assert.equal(a.dhcp!.server, SERVER);
        assert.equal(a.dhcp!.router, SERVER);
        assert.deepEqual(a.dhcp!.dns, [SERVER]);
        assert.equal(a.dhcp!.leaseTimeS, 120);
        // The lease times are on the stack clock (fractional milliseconds): T1 = 4 s after it.
        assert.ok(
          Math.abs(a.dhcp!.renewAtMs - a.dhcp!.obtainedMs - 4000) < 1e-6,
          JSON.stringify(a.dhcp),
        );
        // The kernel reaches the leased address.
        const ping = await lab.runInPeer(["ping", "-c", "1", "-W", "2", "192.0.2.60"]);
        assert.equal(ping.code, 0, ping.stdout);
        await until(() => (stack.stats().dhcp?.renewals ?? 0) >= 1, "a renewal", 15_000);
        assert.equal(stack.dhcp!.state, "bound");
        await stack.close();
        closed = true;
      } finally {
        if (!closed) await stack.close();
      }
      await new Promise((r) => setTimeout(r, 200));
      await capture.stop();
      await server.kill();
      const frames = await tsharkDecodeFile(pcap, { what: "DHCP lab capture" });
      if (frames === null) return;
      const dhcp = frames.filter((f) => f.field("dhcp.option.dhcp") !== undefined);
      const type = (f: typeof dhcp[number]) => f.num("dhcp.option.dhcp");
      // The first REQUEST (selecting) is broadcast from 0.0.0.0; the renewal is unicast from
      // the leased address with ciaddr set (RFC 2131 §4.3.2, §4.4.5).
      const requests = dhcp.filter((f) => type(f) === DHCPREQUEST);
      assert.ok(requests.length >= 2, `requests: ${requests.length}`);
      assert.equal(requests[0].field("ip.src"), "0.0.0.0");
      const renewal = requests.find((f) => f.field("dhcp.ip.client") === "192.0.2.60");
      assert.ok(renewal !== undefined, "a renewal REQUEST in the capture");
      assert.equal(renewal.field("ip.src"), "192.0.2.60");
      assert.equal(renewal.field("ip.dst"), SERVER);
      assert.ok(dhcp.filter((f) => type(f) === DHCPACK).length >= 2);
      const release = dhcp.find((f) => type(f) === DHCPRELEASE);
      assert.ok(release !== undefined, "DHCPRELEASE on close");
      assert.equal(release.field("dhcp.ip.client"), "192.0.2.60");
      await assertCaptureClean(pcap, 8);
    } finally {
      await lab.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
  { commands: ["dnsmasq", "tcpdump", "tshark", "ping"] },
);

labTest(
  "Stack behaviour: ipv4 dhcp declines an address the kernel holds and takes the next offer",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rsdh-" });
    await Deno.chmod(dir, 0o777);
    const lab = await Lab.create({ prefix: "rsdd" });
    const pcap = `${dir}/decline.pcap`;
    try {
      // The kernel on the link already holds 192.0.2.50 (on its loopback: Linux answers ARP
      // for any of its addresses on any interface, arp_ignore=0, RFC 1122's weak host model).
      await lab.runIn(lab.peerNetns, ["ip", "addr", "add", "192.0.2.50/32", "dev", "lo"]);
      const device = await lab.openDevice();
      const mac = formatMac(device.capabilities.mac);
      const capture = await lab.capture(pcap);
      // dnsmasq offers our MAC 192.0.2.50 first (a reservation), then, once declined, the range.
      const server = dnsmasq(lab, dir, [
        "--dhcp-range=192.0.2.51,192.0.2.51,255.255.255.0,2m",
        `--dhcp-host=${mac},192.0.2.50`,
      ]);
      await waitForDnsmasq(lab);
      const stack = new Stack({
        device,
        ipv4: "dhcp",
        // RFC 2131 §3.1.5 asks for ≥ 10 s before starting over; 1 s keeps the test short.
        dhcp: { declineWaitMs: 1000, timeoutMs: 30_000 },
      });
      try {
        await stack.start();
        assert.equal(stack.address, "192.0.2.51");
        const st = stack.stats().dhcp!;
        assert.ok(st.conflicts >= 1 && st.txDecline >= 1, JSON.stringify(st));
      } finally {
        await stack.close();
      }
      await new Promise((r) => setTimeout(r, 200));
      await capture.stop();
      await server.kill();
      const frames = await tsharkDecodeFile(pcap, { what: "DHCP decline capture" });
      if (frames === null) return;
      const dhcp = frames.filter((f) => f.field("dhcp.option.dhcp") !== undefined);
      const type = (f: typeof dhcp[number]) => f.num("dhcp.option.dhcp");
      const offers = dhcp.filter((f) => type(f) === DHCPOFFER).map((f) => f.field("dhcp.ip.your"));
      assert.deepEqual(offers.slice(0, 2), ["192.0.2.50", "192.0.2.51"]);
      const decline = dhcp.find((f) => type(f) === DHCPDECLINE);
      assert.ok(decline !== undefined, "DHCPDECLINE in the capture");
      assert.equal(decline.field("dhcp.option.requested_ip_address"), "192.0.2.50");
      // Our probe (sender 0.0.0.0) and the kernel's answer for .50 are in the capture too.
      const probe = frames.find((f) =>
        f.field("arp.src.proto_ipv4") === "0.0.0.0" &&
        f.field("arp.dst.proto_ipv4") === "192.0.2.50"
      );
      assert.ok(probe !== undefined, "an RFC 5227 probe for 192.0.2.50");
    } finally {
      await lab.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
  { commands: ["dnsmasq", "tcpdump", "tshark"] },
);

function formatMac(mac: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) {
    parts.push((Math.floor(mac / 2 ** (8 * i)) % 256).toString(16).padStart(2, "0"));
  }
  return parts.join(":");
}
