import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import {
  ROUTER_LAB_A_ADDRESS6,
  ROUTER_LAB_B_ADDRESS6,
  ROUTER_LAB_PREFIX6,
  ROUTER_LAB_RA_ADDRESS,
  ROUTER_LAB_RA_ADDRESS6,
  ROUTER_LAB_RB_ADDRESS,
  ROUTER_LAB_RB_ADDRESS6,
  type RouterLab,
  type RouterLabOptions,
} from "../../src/testing/router_lab.ts";
import { Stack } from "../../src/stack.ts";
import { wordBytesOf } from "../seeded_random.ts";
import { downloadFromB, inRouterLab, uploadToB } from "./_router_helpers.ts";

const HTTP_PORT = 8000;
const UPLOAD_PORT = 9000;
/** How long the router's duplicate address detection may take (RFC 4862: about 1 s). */
const DAD_WAIT_MS = 5000;

/** A dual-stack RouterLab with a rawstack router whose IPv6 addresses passed DAD. */
async function withRouter6(
  prefix: string,
  labOpts: Omit<RouterLabOptions, "prefix" | "ipv6">,
  fn: (lab: RouterLab, router: Stack, dir: string) => Promise<void>,
): Promise<void> {
  await inRouterLab(
    { prefix, ipv6: true, ...labOpts },
    "rawstack-router6-",
    async (lab, dir, own) => {
      // Default devices: the kernel's GRO on the router's links hands it TCP super-frames,
      // which Router6 cuts into segments that fit the next link (a Packet Too Big would stall a
      // sender already at that MTU).
      const [da, db] = await lab.openDevices();
      const router = own(
        new Stack({
          interfaces: [
            {
              device: da,
              ipv4: `${ROUTER_LAB_RA_ADDRESS}/24`,
              ipv6: `${ROUTER_LAB_RA_ADDRESS6}/${ROUTER_LAB_PREFIX6}`,
            },
            {
              device: db,
              ipv4: `${ROUTER_LAB_RB_ADDRESS}/24`,
              ipv6: `${ROUTER_LAB_RB_ADDRESS6}/${ROUTER_LAB_PREFIX6}`,
            },
          ],
          forwarding: true,
          ipv6Options: { ndp: { routerSolicitations: 0 } },
        }),
      );
      await router.start();
      const end = performance.now() + DAD_WAIT_MS;
      const ready = () =>
        router.addresses().filter((a) => a.family === "ipv6" && a.origin === "static")
          .every((a) => a.state === "preferred");
      while (!ready()) {
        if (performance.now() > end) throw new Error("the router's IPv6 addresses stay tentative");
        await new Promise((r) => setTimeout(r, 50));
      }
      await fn(lab, router, dir);
    },
  );
}

labTest(
  "Router lab: over IPv6 A pings B through rawstack, hop limit 1 gets Time Exceeded, curl -6 downloads byte-exact",
  async () => {
    await withRouter6("rsr6", {}, async (lab, router, dir) => {
      const ping = await lab.runInA([
        "ping",
        "-6",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        ROUTER_LAB_B_ADDRESS6,
      ]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /ttl=63/); // B's 64, less our hop

      const hop1 = await lab.runInA([
        "ping",
        "-6",
        "-c",
        "1",
        "-t",
        "1",
        "-W",
        "2",
        ROUTER_LAB_B_ADDRESS6,
      ]);
      assert.match(
        hop1.stdout,
        new RegExp(`From ${ROUTER_LAB_RA_ADDRESS6}.*Time exceeded`, "i"),
        hop1.stdout + hop1.stderr,
      );
      assert.ok(router.stats().router!.forward6!.hopLimitExceeded >= 1);

      const file = wordBytesOf(3 * 1024 * 1024 + 17, 61);
      await downloadFromB(lab, dir, file, HTTP_PORT, "::", ROUTER_LAB_B_ADDRESS6);
      const f = router.stats().router!.forward6!;
      assert.ok(f.zeroCopy + f.copied > 1000, JSON.stringify(f));
      // B's 1448-byte segments arrive coalesced by the kernel's GRO and leave cut again.
      assert.ok(f.superFramesSegmented > 0, JSON.stringify(f));
      assert.equal(f.linkLocal + f.badSource + f.badDestination + f.noRoute, 0, JSON.stringify(f));
    });
  },
  { commands: ["ping", "curl", "python3", "ss"] },
);

labTest(
  "Router lab: over IPv6 with B's link at MTU 1280 an upload from A completes after our Packet Too Big and A caches the path MTU",
  async () => {
    await withRouter6("rsr6m", { mtuB: 1280 }, async (lab, router, dir) => {
      const file = wordBytesOf(2 * 1024 * 1024 + 5, 62);
      await uploadToB(lab, dir, file, UPLOAD_PORT, ROUTER_LAB_B_ADDRESS6);
      assert.ok(router.stats().router!.forward6!.tooBig >= 1);
      const route = await lab.runInA(["ip", "-6", "route", "get", ROUTER_LAB_B_ADDRESS6]);
      assert.match(route.stdout, /mtu 1280/, route.stdout);
      assert.match(route.stdout, new RegExp(`src ${ROUTER_LAB_A_ADDRESS6}`), route.stdout);
    });
  },
  { commands: ["socat", "ss"] },
);
