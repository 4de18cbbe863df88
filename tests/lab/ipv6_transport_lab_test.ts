/**
 * Issue 18, transports over IPv6 against the Linux kernel: TCP both ways (curl -6, socat TCP6,
 * bulk by SHA-256), UDP6 with socat, AAAA from dnsmasq reached over IPv6, and Happy Eyeballs
 * against a kernel that answers TCP only on IPv4.
 */
import assert from "node:assert/strict";
import {
  Lab,
  LAB_PEER_ADDRESS,
  LAB_PEER_ADDRESS6,
  LAB_STACK_ADDRESS6,
  labTest,
} from "../../src/testing/lab.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import { captureLab, type LabCapture, until } from "./_helpers.ts";
import {
  bulkData,
  readToEnd,
  sha256Hex,
  socatTransfer,
  waitPeerTcpPort,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rsv6tp";
/** Bulk size each way: enough for loss recovery and window growth, quick on two cores. */
const BULK_BYTES = 8 << 20;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface V6Lab {
  lab: Lab;
  stack: Stack;
  capture: LabCapture;
  dir: string;
}

/** A dual-stack lab (kernel 192.0.2.1 and 2001:db8:1::1), our stack dual stack too. */
async function withDualLab(
  stackOptions: Partial<StackOptions>,
  fn: (l: V6Lab) => Promise<void>,
  beforeStack?: (lab: Lab, dir: string) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX, ipv6: true });
  const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
  let stack: Stack | null = null;
  let capture: LabCapture | null = null;
  try {
    capture = await captureLab(lab, PREFIX, { count: 2000, check: { tcpPayloadAsData: true } });
    await beforeStack?.(lab, dir);
    stack = new Stack({
      device: await lab.openDevice(),
      ipv4: "192.0.2.2/24",
      ipv6: `${LAB_STACK_ADDRESS6}/64`,
      ...stackOptions,
    });
    await stack.start();
    const s = stack;
    await until(
      () => s.addresses().every((a) => a.state !== "tentative"),
      "addresses out of DAD",
      8000,
    );
    await fn({ lab, stack, capture, dir });
    if (!capture.checked) throw new Error("lab test did not check its capture");
  } finally {
    if (stack !== null) await stack.close();
    if (capture !== null) await capture.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

labTest(
  "TCP over IPv6 with the kernel: curl -6 to our listener, socat TCP6 bulk both ways by SHA-256",
  async () => {
    await withDualLab({}, async ({ lab, stack, capture, dir }) => {
      // ---- curl -6 fetches from a rawstack listener on [::].
      const web = stack.listen({ port: 8080, hostname: "::" });
      assert.equal(web.addr.hostname, "::");
      const page = enc.encode("served over IPv6 by rawstack\n");
      (async () => {
        for await (const c of web) {
          const buf = new Uint8Array(4096);
          let head = "";
          while (!head.includes("\r\n\r\n")) {
            const n = await c.read(buf);
            if (n === null) break;
            head += dec.decode(buf.subarray(0, n));
          }
          await c.write(enc.encode(
            `HTTP/1.1 200 OK\r\nContent-Length: ${page.length}\r\nConnection: close\r\n\r\n`,
          ));
          await c.write(page);
          c.close();
        }
      })().catch(() => {});
      const curl = await lab.runInPeer([
        "curl",
        "-6",
        "-sS",
        "--max-time",
        "10",
        `http://[${LAB_STACK_ADDRESS6}]:8080/`,
      ]);
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.stdout, dec.decode(page));
      web.close();

      // ---- kernel → rawstack: socat TCP6 uploads a file to our listener.
      const up = bulkData(BULK_BYTES, 61);
      const upFile = `${dir}/up.bin`;
      await Deno.writeFile(upFile, up);
      const l1 = stack.listen({ port: 6001 });
      const sender = lab.spawnInPeer([
        "socat",
        "-u",
        `OPEN:${upFile}`,
        `TCP6:[${LAB_STACK_ADDRESS6}]:6001`,
      ]);
      const s1 = await l1.accept();
      assert.equal(s1.remoteAddr.hostname, LAB_PEER_ADDRESS6);
      const got = await readToEnd(s1);
      assert.equal((await sender.finished()).code, 0);
      assert.equal(await sha256Hex(got), await sha256Hex(up));
      s1.close();
      l1.close();

      // ---- rawstack → kernel: we connect to a kernel TCP6 listener and upload.
      const { conn: c } = await socatTransfer(lab, stack, {
        direction: "up",
        data: bulkData(BULK_BYTES, 62),
        port: 6002,
        dir,
        hostname: LAB_PEER_ADDRESS6,
      });
      assert.deepEqual(c.remoteAddr, { transport: "tcp", hostname: LAB_PEER_ADDRESS6, port: 6002 });
      c.close();
      const tcp = stack.stats().tcp;
      assert.equal(tcp.malformed, 0);
      const text = await capture.check(100);
      assert.match(text, /TCP/);
    });
  },
  { commands: ["curl", "socat", "tcpdump", "tshark"] },
);

labTest(
  "UDP over IPv6 with the kernel: a datagram each way through socat UDP6, a closed port reported to a connected socket",
  async () => {
    await withDualLab({}, async ({ lab, stack, capture }) => {
      const echo = lab.spawnInPeer(["socat", "-T", "5", "UDP6-LISTEN:7000,reuseaddr", "PIPE"]);
      const end = performance.now() + 5000;
      while (
        (await lab.runInPeer(["ss", "-H", "-uln", "sport = :7000"])).stdout.trim() === "" &&
        performance.now() < end
      ) await new Promise((r) => setTimeout(r, 10));
      const sock = stack.listenDatagram({ port: 0 });
      const reply = sock.receive();
      await sock.send(enc.encode("ping over udp6"), { hostname: LAB_PEER_ADDRESS6, port: 7000 });
      const [data, from] = await reply;
      assert.equal(dec.decode(data), "ping over udp6");
      assert.deepEqual(from, { transport: "udp", hostname: LAB_PEER_ADDRESS6, port: 7000 });
      await echo.kill();
      // A connected socket learns of the kernel's ICMPv6 port unreachable.
      const connected = stack.listenDatagram({ port: 0 });
      await connected.connect({ hostname: LAB_PEER_ADDRESS6, port: 7999 });
      await connected.send(enc.encode("nobody"));
      await assert.rejects(connected.receive(), /PortUnreachable/);
      assert.equal(stack.stats().udp.rxZeroChecksum6, 0);
      await capture.check(4);
    });
  },
  { commands: ["socat", "tcpdump", "tshark"] },
);

/** dnsmasq in the peer answering `name` with both addresses, listening on the IPv6 address. */
function startDnsmasq(lab: Lab, name: string) {
  return lab.spawnInPeer([
    "dnsmasq",
    "--no-daemon",
    "--no-resolv",
    "--no-hosts",
    "--bind-interfaces",
    `--listen-address=${LAB_PEER_ADDRESS6}`,
    "--port=53",
    `--host-record=${name},${LAB_PEER_ADDRESS},${LAB_PEER_ADDRESS6}`,
  ]);
}

async function waitDns(lab: Lab): Promise<void> {
  const end = performance.now() + 5000;
  while (
    (await lab.runInPeer(["ss", "-H", "-uln", "sport = :53"])).stdout.trim() === "" &&
    performance.now() < end
  ) await new Promise((r) => setTimeout(r, 10));
}

labTest(
  "DNS over IPv6: dnsmasq reached at [2001:db8:1::1] answers AAAA and A",
  async () => {
    await withDualLab({ dns: [`[${LAB_PEER_ADDRESS6}]`] }, async ({ lab, stack, capture }) => {
      const dnsmasq = startDnsmasq(lab, "dual.lab.test");
      try {
        await waitDns(lab);
        assert.deepEqual(await stack.resolveDns("dual.lab.test", "AAAA"), [LAB_PEER_ADDRESS6]);
        assert.deepEqual(await stack.resolveDns("dual.lab.test", "A"), [LAB_PEER_ADDRESS]);
        assert.ok(stack.stats().udp.rxDatagrams6 >= 2);
      } finally {
        await dnsmasq.kill();
      }
      await capture.check(4);
    });
  },
  { commands: ["dnsmasq", "tcpdump", "tshark"] },
);

labTest(
  "Happy Eyeballs against a kernel that answers TCP only on IPv4: the IPv6 attempt is refused, IPv4 wins",
  async () => {
    await withDualLab({ dns: [`[${LAB_PEER_ADDRESS6}]`] }, async ({ lab, stack, capture }) => {
      const dnsmasq = startDnsmasq(lab, "v4only.lab.test");
      const server = lab.spawnInPeer([
        "socat",
        "-u",
        "TCP4-LISTEN:6100,reuseaddr",
        "OPEN:/dev/null",
      ]);
      try {
        await waitDns(lab);
        await waitPeerTcpPort(lab, 6100);
        const c = await stack.connect({ hostname: "v4only.lab.test", port: 6100 });
        assert.equal(c.remoteAddr.hostname, LAB_PEER_ADDRESS);
        // The IPv6 SYN went first and drew the kernel's RST.
        assert.ok(stack.stats().tcp.segmentsIn >= 2);
        await c.write(enc.encode("hello over IPv4"));
        c.close();
      } finally {
        await server.kill();
        await dnsmasq.kill();
      }
      const text = await capture.check(6);
      assert.match(text, /2001:db8:1::2 → 2001:db8:1::1 .*TCP.*\[SYN\]/);
      assert.match(text, /192\.0\.2\.2 → 192\.0\.2\.1 .*TCP.*\[SYN\]/);
    });
  },
  { commands: ["dnsmasq", "socat", "tcpdump", "tshark"] },
);
