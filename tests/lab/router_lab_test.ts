import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import {
  ROUTER_LAB_A_ADDRESS,
  ROUTER_LAB_B_ADDRESS,
  ROUTER_LAB_RA_ADDRESS,
  ROUTER_LAB_RB_ADDRESS,
  type RouterLab,
  type RouterLabOptions,
} from "../../src/testing/router_lab.ts";
import { Stack } from "../../src/stack.ts";
import { wordBytesOf } from "../seeded_random.ts";
import { downloadFromB, inRouterLab, uploadToB, waitListeningInB } from "./_router_helpers.ts";

const HTTP_PORT = 8000;
const UPLOAD_PORT = 9000;

/** A RouterLab with a rawstack router on it; `fn` runs with both. */
async function withRouter(
  prefix: string,
  labOpts: Omit<RouterLabOptions, "prefix">,
  masquerade: boolean,
  fn: (lab: RouterLab, router: Stack, dir: string) => Promise<void>,
): Promise<void> {
  await inRouterLab({ prefix, ...labOpts }, "rawstack-router-", async (lab, dir, own) => {
    const [da, db] = await lab.openDevices();
    const router = own(
      new Stack({
        interfaces: [
          { device: da, ipv4: `${ROUTER_LAB_RA_ADDRESS}/24` },
          { device: db, ipv4: `${ROUTER_LAB_RB_ADDRESS}/24`, masquerade },
        ],
        forwarding: true,
      }),
    );
    await router.start();
    await fn(lab, router, dir);
  });
}

labTest(
  "Router lab: A pings B through rawstack, TTL 1 gets time exceeded, curl downloads byte-exact, traceroute lists the router",
  async () => {
    await withRouter("rsrt", {}, false, async (lab, router, dir) => {
      const ping = await lab.runInA([
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        ROUTER_LAB_B_ADDRESS,
      ]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /ttl=63/);

      const ttl1 = await lab.runInA([
        "ping",
        "-c",
        "1",
        "-t",
        "1",
        "-W",
        "2",
        ROUTER_LAB_B_ADDRESS,
      ]);
      assert.match(ttl1.stdout, new RegExp(`From ${ROUTER_LAB_RA_ADDRESS}.*Time to live exceeded`));
      assert.ok(router.stats().router!.forward.ttlExceeded >= 1);

      const file = wordBytesOf(3 * 1024 * 1024 + 17, 31);
      await downloadFromB(lab, dir, file, HTTP_PORT, ROUTER_LAB_B_ADDRESS, ROUTER_LAB_B_ADDRESS);

      const tr = await lab.runInA([
        "traceroute",
        "-n",
        "-q",
        "1",
        "-w",
        "2",
        "-m",
        "4",
        ROUTER_LAB_B_ADDRESS,
      ]);
      assert.equal(tr.code, 0, tr.stdout + tr.stderr);
      const hops = tr.stdout.split("\n").filter((l) => /^\s*\d+\s/.test(l));
      assert.match(
        hops[0],
        new RegExp(`^\\s*1\\s+${ROUTER_LAB_RA_ADDRESS.replaceAll(".", "\\.")}\\s`),
      );
      assert.match(
        hops[1],
        new RegExp(`^\\s*2\\s+${ROUTER_LAB_B_ADDRESS.replaceAll(".", "\\.")}\\s`),
      );
      const f = router.stats().router!.forward;
      // Zero-copy forwarding of the download: 1514-byte frames, or, with the interface's GRO
      // on (AfPacketDevice kernelGro, the default), the kernel's super-frames forwarded whole.
      assert.ok(
        f.zeroCopy > 1000 || (f.superFrames > 0 && f.zeroCopy >= f.superFrames),
        JSON.stringify(f),
      );
    });
  },
  { commands: ["ping", "curl", "python3", "traceroute", "ss"] },
);

labTest(
  "Router lab: with B's link at MTU 1280 an upload from A completes after our frag-needed and A caches the path MTU",
  async () => {
    await withRouter("rsrm", { mtuB: 1280 }, false, async (lab, router, dir) => {
      const file = wordBytesOf(2 * 1024 * 1024 + 5, 32);
      await uploadToB(lab, dir, file, UPLOAD_PORT, ROUTER_LAB_B_ADDRESS);
      assert.ok(router.stats().router!.forward.fragNeeded >= 1);
      const route = await lab.runInA(["ip", "route", "get", ROUTER_LAB_B_ADDRESS]);
      assert.match(route.stdout, /mtu 1280/, route.stdout);
    });
  },
  { commands: ["socat", "ss"] },
);

labTest(
  "Router lab: masquerade lets A reach B, which has no route back and sees the router's address",
  async () => {
    await withRouter("rsrn", { noRouteBackOnB: true }, true, async (lab, router, dir) => {
      const ping = await lab.runInA([
        "ping",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        ROUTER_LAB_B_ADDRESS,
      ]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      await Deno.writeTextFile(`${dir}/hello.txt`, "hello through NAT\n");
      const server = lab.spawnIn(lab.netnsB, [
        "python3",
        "-u",
        "-m",
        "http.server",
        String(HTTP_PORT),
        "--bind",
        ROUTER_LAB_B_ADDRESS,
        "--directory",
        dir,
      ]);
      await waitListeningInB(lab, HTTP_PORT);
      const curl = await lab.runInA([
        "curl",
        "-sS",
        "--max-time",
        "10",
        `http://${ROUTER_LAB_B_ADDRESS}:${HTTP_PORT}/hello.txt`,
      ]);
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.stdout, "hello through NAT\n");
      const log = await server.kill();
      assert.match(
        log.stderr,
        new RegExp(`^${ROUTER_LAB_RB_ADDRESS.replaceAll(".", "\\.")} `, "m"),
      );
      assert.doesNotMatch(log.stderr, new RegExp(ROUTER_LAB_A_ADDRESS.replaceAll(".", "\\.")));
      const nat = router.stats().router!.nat;
      assert.ok(nat.translatedOut >= 4 && nat.translatedIn >= 4, JSON.stringify(nat));
      // The pings went through a tracked ICMP echo mapping.
      const icmp = router.router!.natTable().filter((e) => e.protocol === "icmp");
      assert.equal(icmp.length, 1, JSON.stringify(router.router!.natTable()));
    });
  },
  { commands: ["ping", "curl", "python3", "ss"] },
);
