#!/usr/bin/env bash
# Captures real Linux kernel IPv6 traffic between network namespaces into
# tests/testdata/kernel_ipv6.pcap: DAD, MLDv2 reports, router solicitation and
# advertisement (dnsmasq --enable-ra), neighbor solicitation/advertisement,
# echo (plain and fragmented), and the ICMPv6 errors port unreachable, time
# exceeded, packet too big and parameter problem (codes 1 and 2).
# Needs root, iproute2, ethtool, tcpdump, ping, socat, dnsmasq and python3.
#
#   sudo tests/testdata/capture_ipv6.sh [OUTDIR]      (default: this folder)
#
# Topology (documentation prefix 2001:db8::/32 only, RFC 3849):
#   rsw6-a-$$  veth rsw6-va-$$  2001:db8::1/64   route 2001:db8:1::/64 via 2001:db8::2
#   rsw6-b-$$  veth rsw6-vb-$$  2001:db8::2/64   forwarding on, dnsmasq sending RAs,
#              veth rsw6-vr-$$  2001:db8:1::254/64 mtu 1280 <-> rsw6-c-$$ (2001:db8:1::1)
# tcpdump runs in rsw6-a on its veth end, started while IPv6 is still
# disabled there, so the capture begins with the interface's first packets.
set -euo pipefail

OUT=$(cd "${1:-$(dirname "$0")}" && pwd)
NSA="rsw6-a-$$"
NSB="rsw6-b-$$"
NSC="rsw6-c-$$"
VA="rsw6-va-$$"
VB="rsw6-vb-$$"
VR="rsw6-vr-$$"
VC="rsw6-vc-$$"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
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
c() { ip netns exec "$NSC" "$@"; }

ip netns add "$NSA"
ip netns add "$NSB"
ip netns add "$NSC"
# A's veth comes up with IPv6 off; it is switched on once tcpdump listens.
a sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip link add "$VA" netns "$NSA" address 02:00:00:00:00:01 type veth \
  peer name "$VB" netns "$NSB" address 02:00:00:00:00:02
a ethtool -K "$VA" tx off tso off gso off >/dev/null
b ethtool -K "$VB" tx off tso off gso off >/dev/null
a ip link set lo up
b ip link set lo up
c ip link set lo up
b sysctl -qw net.ipv6.conf.all.forwarding=1
b ip addr add 2001:db8::2/64 dev "$VB" nodad
b ip link set "$VB" up
ip link add "$VR" netns "$NSB" mtu 1280 type veth peer name "$VC" netns "$NSC" mtu 1280
b ip addr add 2001:db8:1::254/64 dev "$VR" nodad
c ip addr add 2001:db8:1::1/64 dev "$VC" nodad
b ip link set "$VR" up
c ip link set "$VC" up
c ip -6 route add default via 2001:db8:1::254
a ip link set "$VA" up

# dnsmasq in B answers router solicitations with RAs carrying prefix
# information, an MTU option and RDNSS (RFC 8106).
cat >"$WORK/dnsmasq.conf" <<EOF
no-resolv
no-hosts
no-poll
port=0
enable-ra
interface=$VB
dhcp-range=2001:db8::,ra-only,64,1h
ra-param=$VB,mtu:1500,30,600
EOF
b dnsmasq --keep-in-foreground --conf-file="$WORK/dnsmasq.conf" \
  --pid-file="$WORK/dnsmasq.pid" --user=root --log-facility=/dev/null </dev/null >/dev/null 2>&1 &
PIDS+=($!)

a tcpdump -i "$VA" -s 0 -U --immediate-mode -n -w "$OUT/kernel_ipv6.pcap" \
  </dev/null >/dev/null 2>"$WORK/tcpdump.err" &
CAP_PID=$!
PIDS+=("$CAP_PID")
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
  sleep 0.05
done

# IPv6 on: link-local DAD (NS from ::), MLDv2 reports, router solicitation.
a sysctl -qw "net.ipv6.conf.$VA.disable_ipv6=0"
a ip addr add 2001:db8::1/64 dev "$VA"
for _ in $(seq 1 100); do
  a ip -6 addr show dev "$VA" | grep -q tentative || break
  sleep 0.1
done
sleep 3 # the RS/RA exchange and SLAAC's DAD
a ip -6 route add 2001:db8:1::/64 via 2001:db8::2

a ping -6 -c 1 -W 2 -p 72617773746163 2001:db8::2 >/dev/null      # NS/NA, echo
a ping -6 -c 1 -W 2 -s 4000 2001:db8::2 >/dev/null                # fragments both ways
printf 'nobody listens here' |
  a socat -u - UDP6-SENDTO:[2001:db8::2]:9998,sourceport=40001   # port unreachable
sleep 0.2
a ping -6 -c 1 -W 1 -t 1 2001:db8:1::1 >/dev/null || true         # time exceeded from B
a ping -6 -c 1 -W 1 -M do -s 1300 2001:db8:1::1 >/dev/null || true # packet too big, MTU 1280
a python3 - <<'EOF'
# Parameter problems from B's kernel (RFC 8200 §4, §4.2).
import socket, time
dst = ("2001:db8::2", 0)
# Next Header 253 (RFC 3692 experimental): no handler, code 1.
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 253)
s.sendto(b"rawstack unknown next header", dst)
s.close()
time.sleep(0.1)
# A Destination Options header with option type 0x9e (action 10: discard and
# send code 2 even to multicast), then UDP to port 9.
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS,
             bytes([0, 0, 0x9e, 4, 0, 0, 0, 0]))
u.sendto(b"rawstack unknown option", ("2001:db8::2", 9))
u.close()
EOF
sleep 0.5
kill -TERM "$CAP_PID"
wait "$CAP_PID" || true
cat "$WORK/tcpdump.err" >&2
ls -l "$OUT"/kernel_ipv6.pcap
