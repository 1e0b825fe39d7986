// Many DHCP clients at once from one VM, as perfdhcp does: a relay agent
// (RFC 2131 4.1: giaddr set to the VM's address, UDP from port 67 to 67)
// speaking for N client MACs (chaddr). A small raw-socket program in the VM
// namespace runs a DORA for each, retransmitting until each is ACKed or
// NAKed, and prints one line per outcome. The frames carry the VM's own MAC
// as source; replies come back to giaddr, port 67. Only a relay may name a
// chaddr other than its source MAC: weft drops such a request from a client.
import { type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vm } from '../harness/lab.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const DORA_PY = String.raw`import socket, struct, sys, time, select
iface, count, prefix, own, deadline, rate, giaddr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], time.time() + float(sys.argv[5]), float(sys.argv[6]), socket.inet_aton(sys.argv[7])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((iface, 0))
# Replies arrive at port 67 of the VM: a bound socket keeps the kernel from answering them with port unreachable.
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sink.bind(('', 67))
mac = lambda m: bytes.fromhex(m.replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t > 0xffff: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def frame(payload):
    udp = struct.pack('!HHHH', 67, 67, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, giaddr, b'\xff' * 4)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return mac('ff:ff:ff:ff:ff:ff') + mac(own) + b'\x08\x00' + ip + udp
def bootp(xid, chaddr, kind, opts=b''):
    m = struct.pack('!BBBBIHH4s4s4s4s16s64s128sI', 1, 1, 6, 1, xid, 0, 0, b'\0' * 4, b'\0' * 4, b'\0' * 4, giaddr,
                    mac(chaddr), b'', b'', 0x63825363)
    return frame(m + bytes([53, 1, kind]) + opts + bytes([55, 2, 1, 3, 255]))
clients = {}
for i in range(count):
    clients[0x5eed0000 + i] = {'mac': '%s:%02x:%02x' % (prefix, i >> 8, i & 255), 'state': 'idle', 'sent': 0, 'opts': b''}
def send(xid):
    c = clients[xid]
    kind = 1 if c['state'] == 'discover' else 3
    s.send(bootp(xid, c['mac'], kind, c['opts']))
    c['sent'] = time.time()
idle, t0 = list(clients), time.time()
while time.time() < deadline and (idle or any(c['state'] in ('discover', 'request') for c in clients.values())):
    while idle and (rate <= 0 or count - len(idle) < (time.time() - t0) * rate):
        x = idle.pop(0)
        clients[x]['state'] = 'discover'
        send(x)
    r, _, _ = select.select([s], [], [], 0.01 if idle else 0.2)
    if r:
        p = s.recv(4096)
        if len(p) < 14 + 20 + 8 + 240 or p[12:14] != b'\x08\x00' or p[23] != 17: continue
        ihl = (p[14] & 15) * 4
        u = 14 + ihl
        if struct.unpack('!H', p[u + 2:u + 4])[0] != 67: continue
        b = p[u + 8:]
        if b[0] != 2: continue
        xid = struct.unpack('!I', b[4:8])[0]
        c = clients.get(xid)
        if not c: continue
        yiaddr = socket.inet_ntoa(b[16:20])
        opts, i, kind, server = b[240:], 0, 0, b''
        while i < len(opts) and opts[i] != 255:
            if opts[i] == 0: i += 1; continue
            code, ln = opts[i], opts[i + 1]
            val = opts[i + 2:i + 2 + ln]
            if code == 53: kind = val[0]
            if code == 54: server = val
            i += 2 + ln
        if kind == 2 and c['state'] == 'discover':
            c['state'] = 'request'
            c['opts'] = bytes([50, 4]) + socket.inet_aton(yiaddr) + bytes([54, 4]) + server
            send(xid)
        elif kind == 5 and c['state'] == 'request':
            c['state'] = 'done'
            print('ACK', c['mac'], yiaddr, flush=True)
        elif kind == 6 and c['state'] == 'request':
            c['state'] = 'discover'
            c['opts'] = b''
            print('NAK', c['mac'], flush=True)
    now = time.time()
    for xid, c in clients.items():
        if c['state'] in ('discover', 'request') and now - c['sent'] > 1.0: send(xid)
print('END', sum(1 for c in clients.values() if c['state'] == 'done'), flush=True)
`;

export interface DoraRun {
  child: ChildProcess;
  /** MAC → address, for every ACK so far. */
  acks: Map<string, string>;
  /** Every ACK line in order, duplicates included (a client ACKed twice would show twice). */
  ackLines: string[];
  naks: string[];
  /** Resolves when the program exits (all done, deadline, or killed). */
  done: Promise<void>;
}

/**
 * Runs `count` DORAs relayed by the VM (giaddr: its address) with chaddr
 * `prefix:XX:YY`, starting `rate` new clients a second (0: all at once);
 * gives up after `seconds`.
 */
export function runDoras(vm: Vm, opts: { count: number; prefix: string; seconds: number; rate?: number }): DoraRun {
  if (!vm.ip) throw new Error('a relaying VM needs an address (giaddr)');
  const script = join(vm.lab.dir, 'dora.py');
  if (!existsSync(script)) writeFileSync(script, DORA_PY);
  const child = vm.lab.spawnIn(vm.netns, PYTHON, ['-I', '-S', script, 'eth0', String(opts.count), opts.prefix, vm.mac, String(opts.seconds), String(opts.rate ?? 0), vm.ip]);
  const run: DoraRun = { child, acks: new Map(), ackLines: [], naks: [], done: new Promise((r) => child.once('exit', () => r())) };
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      const [kind, mac, ip] = l.split(' ');
      if (kind === 'ACK' && mac && ip) {
        run.acks.set(mac, ip);
        run.ackLines.push(`${mac} ${ip}`);
      } else if (kind === 'NAK' && mac) run.naks.push(mac);
    }
  });
  child.stderr!.resume();
  return run;
}
