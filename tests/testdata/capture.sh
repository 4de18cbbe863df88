#!/usr/bin/env bash
# Captures real Linux kernel traffic between two network namespaces into the
# pcaps kept in tests/testdata/. Needs root, iproute2, ethtool, tcpdump,
# ping, socat, dnsmasq, curl and python3. See README.md in this folder.
#
#   sudo tests/testdata/capture.sh [OUTDIR]      (default: this folder)
#
# Topology (addresses only from the documentation ranges, RFC 5737):
#   rswa-a-$$  veth rswa-va-$$  192.0.2.1/24   route 198.51.100.0/24 via 192.0.2.2
#   rswa-b-$$  veth rswa-vb-$$  192.0.2.2/24   forwarding on,
#              veth rswa-vr-$$  198.51.100.254/24 mtu 1000  <->  rswa-c-$$ (198.51.100.1)
# tcpdump runs in rswa-a on its veth end.
set -euo pipefail

OUT=$(cd "${1:-$(dirname "$0")}" && pwd)
NSA="rswa-a-$$"
NSB="rswa-b-$$"
VA="rswa-va-$$"
VB="rswa-vb-$$"
NSC="rswa-c-$$"
VR="rswa-vr-$$"
VC="rswa-vc-$$"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # `b cmd &` records the pid of a subshell: kill whatever still runs in our namespaces.
  for ns in "$NSA" "$NSB" "$NSC"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  ip netns del "$NSA" 2>/dev/null || true
  ip netns del "$NSB" 2>/dev/null || true
  ip netns del "$NSC" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

a() { ip netns exec "$NSA" "$@"; }
b() { ip netns exec "$NSB" "$@"; }

ip netns add "$NSA"
ip netns add "$NSB"
ip netns add "$NSC"
# No IPv6 chatter (MLD, DAD, RS) in the captures: disable before links come up.
for ns in "$NSA" "$NSB" "$NSC"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$VA" netns "$NSA" address 02:00:00:00:00:01 type veth \
  peer name "$VB" netns "$NSB" address 02:00:00:00:00:02
a ip addr add 192.0.2.1/24 dev "$VA"
b ip addr add 192.0.2.2/24 dev "$VB"
# Real checksums and ordinary-sized frames on the wire (PLATFORM_NOTES.md).
a ethtool -K "$VA" tx off tso off gso off >/dev/null
b ethtool -K "$VB" tx off tso off gso off >/dev/null
a ip link set lo up
b ip link set lo up
a ip link set "$VA" up
b ip link set "$VB" up
# B routes toward 198.51.100.0/24 (namespace C) over a link with MTU 1000, so
# the kernel there emits ICMP time exceeded and fragmentation needed.
b sysctl -qw net.ipv4.ip_forward=1
ip link add "$VR" netns "$NSB" mtu 1000 type veth peer name "$VC" netns "$NSC" mtu 1000
b ip addr add 198.51.100.254/24 dev "$VR"
ip netns exec "$NSC" ip addr add 198.51.100.1/24 dev "$VC"
b ip link set "$VR" up
ip netns exec "$NSC" ip link set "$VC" up
a ip route add 198.51.100.0/24 via 192.0.2.2

# start_capture FILE [tcpdump options...]: runs tcpdump in A until stop_capture.
CAP_PID=""
start_capture() {
  local file="$1"
  shift
  ip netns exec "$NSA" tcpdump -i "$VA" -s 0 -U --immediate-mode -n "$@" -w "$file" \
    </dev/null >/dev/null 2>"$WORK/tcpdump.err" &
  CAP_PID=$!
  PIDS+=("$CAP_PID")
  for _ in $(seq 1 100); do
    grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "tcpdump did not start:" >&2
  cat "$WORK/tcpdump.err" >&2
  exit 1
}
stop_capture() {
  sleep 0.5
  kill -TERM "$CAP_PID"
  wait "$CAP_PID" || true
  cat "$WORK/tcpdump.err" >&2
}

# 1. ARP, ICMP echo (plain and fragmented), UDP, ICMP errors. Microsecond pcap.
start_capture "$OUT/kernel_arp_icmp_udp.pcap"
a ip neigh flush dev "$VA"
a ping -c 1 -W 2 -p 72617773746163 192.0.2.2 >/dev/null    # ARP request/reply, echo request/reply
a ping -c 1 -W 2 -s 4000 192.0.2.2 >/dev/null              # 4028-byte datagram in three fragments
ip netns exec "$NSB" socat -u UDP4-RECV:9999,bind=192.0.2.2 OPEN:"$WORK/udp.out",creat \
  </dev/null >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.3
printf 'hello rawstack over udp\n' | a socat -u - UDP4-SENDTO:192.0.2.2:9999,sourceport=40000
printf 'nobody listens here' | a socat -u - UDP4-SENDTO:192.0.2.2:9998,sourceport=40001  # port unreachable
sleep 0.2
a ping -c 1 -W 1 -t 1 198.51.100.1 >/dev/null || true              # time exceeded from 192.0.2.2
a ping -c 1 -W 1 -M do -s 1200 198.51.100.1 >/dev/null || true    # fragmentation needed, MTU 1000
stop_capture

# 2. DNS: dnsmasq in B answers A, AAAA, CNAME and NXDOMAIN. Nanosecond pcap.
cat >"$WORK/dnsmasq.conf" <<'EOF'
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=192.0.2.2
host-record=host.test,192.0.2.53,2001:db8::53
cname=alias.test,host.test
txt-record=txt.test,"rawstack test record"
local=/test/
EOF
ip netns exec "$NSB" dnsmasq --keep-in-foreground --conf-file="$WORK/dnsmasq.conf" \
  --pid-file="$WORK/dnsmasq.pid" --user=root --log-facility=/dev/null </dev/null >/dev/null 2>&1 &
PIDS+=($!)
a ping -c 1 -W 2 192.0.2.2 >/dev/null     # resolve ARP outside the capture
sleep 0.5
start_capture "$OUT/kernel_dns.pcap" --time-stamp-precision=nano
a python3 - <<'EOF'
# Minimal stub resolver (RFC 1035 §4.1): one query per name/type, recursion desired.
import socket, struct
def query(qid, name, qtype):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.1", 0))
    s.settimeout(2)
    s.sendto(q, ("192.0.2.2", 53))
    s.recvfrom(512)
    s.close()
query(0x1001, "host.test", 1)     # A
query(0x1002, "host.test", 28)    # AAAA
query(0x1003, "alias.test", 1)    # CNAME + A (compressed names)
query(0x1004, "txt.test", 16)     # TXT ("other" record type)
query(0x1005, "missing.test", 1)  # NXDOMAIN
EOF
stop_capture

# 3. TCP: handshake with options, HTTP request/response, FIN both ways; and a
#    SYN to a closed port answered by RST. Microsecond pcap.
mkdir -p "$WORK/www"
printf 'rawstack test body\n' >"$WORK/www/index.txt"
ip netns exec "$NSB" python3 -m http.server 8080 --bind 192.0.2.2 --directory "$WORK/www" \
  </dev/null >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  a bash -c 'exec 3<>/dev/tcp/192.0.2.2/8080' 2>/dev/null && break
  sleep 0.05
done
sleep 0.3
start_capture "$OUT/kernel_tcp.pcap"
a curl -s -o /dev/null --local-port 41000 http://192.0.2.2:8080/index.txt
a curl -s -o /dev/null --local-port 41001 http://192.0.2.2:8081/ || true   # RST
stop_capture

ls -l "$OUT"/kernel_*.pcap
