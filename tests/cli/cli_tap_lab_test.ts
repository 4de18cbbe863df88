import assert from "node:assert/strict";
import { labTest, run } from "../../src/testing/lab.ts";
import { denoAsUser } from "../phy/_tun_lab_helpers.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const USER = "nobody";

labTest(
  "cli lab up --tap: the one root step, then ping --tap as an unprivileged user",
  async () => {
    const ns = `rsct-${Deno.pid}`;
    const denoDir = await Deno.makeTempDir({ prefix: "rsct-deno-" });
    await Deno.chmod(denoDir, 0o777);
    await run(["ip", "netns", "del", ns], { check: false });
    await run(["ip", "netns", "add", ns]);
    try {
      const inNs = ["ip", "netns", "exec", ns, Deno.execPath(), "run", "-A", CLI];
      const up = await run([...inNs, "lab", "up", "--tap", USER]);
      assert.match(up.stdout, /ip tuntap add dev rstap0 mode tap user nobody/);
      const link = await run(["ip", "-n", ns, "-d", "link", "show", "rstap0"]);
      assert.match(link.stdout, /persist on user nobody/);
      const ping = await run([
        "ip",
        "netns",
        "exec",
        ns,
        ...await denoAsUser(USER, denoDir),
        CLI,
        "ping",
        "--tap",
        "rstap0",
        "-c",
        "2",
        "-i",
        "50",
        "192.0.2.1",
      ], { check: false });
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /2 received/);
      const down = await run([...inNs, "lab", "down"]);
      assert.match(down.stdout, /removed TAP device rstap0/);
      const gone = await run(["ip", "-n", ns, "link", "show", "rstap0"], { check: false });
      assert.notEqual(gone.code, 0);
    } finally {
      await run(["ip", "netns", "del", ns], { check: false });
      await Deno.remove(denoDir, { recursive: true });
    }
  },
  { lab: false, commands: ["ip", "sysctl", "setpriv"] },
);
